"""nuScenes info files, NuScenesDataset and LoadPointsFromMultiSweeps on the simulator's nuScenes database,
checked against the official nuscenes-devkit."""
from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import pickle
import shutil

import numpy as np
import pytest
import torch

from perception.datasets import kitti_io
from perception.datasets.create_data import InfoFileError
from perception.datasets.nuscenes_dataset import NuScenesDataset
from perception.datasets.nuscenes_infos import (build_split_infos, create_nuscenes_infos, default_splits, info_path,
                                                load_nuscenes_infos)
from perception.datasets.nuscenes_io import (NuScenesFormatError, global_to_lidar_boxes, lidar_to_global_boxes,
                                             load_nuscenes)
from perception.datasets.sim.nuscenes_writer import NuScenesSimConfig, generate_nuscenes_dataset
from perception.datasets.transforms.load_multi_sweeps import LoadPointsFromMultiSweeps
from perception.structures import CoordFrame
from perception.structures.data_sample import Det3DDataSample

SIM_CLASSES = ("car", "pedestrian", "bicycle")


@pytest.fixture(scope="session")
def sim_nusc_root(tmp_path_factory) -> pathlib.Path:
    """The tiny simulated nuScenes database with its info files (see tests/datasets/test_nuscenes_sim.py)."""
    root = tmp_path_factory.getbasetemp() / "sim_nuscenes_tiny"
    generate_nuscenes_dataset(root, NuScenesSimConfig.tiny(seed=0), progress=False)
    create_nuscenes_infos(root, "v1.0-mini", progress=False, log=lambda _: None)
    return root


@pytest.fixture(scope="module")
def nusc(sim_nusc_root):
    return load_nuscenes(sim_nusc_root, "v1.0-mini")


def _dataset(root, split="sim_val", pipeline=(), **kwargs) -> NuScenesDataset:
    return NuScenesDataset(str(root), f"nuscenes_infos_{split}.pkl", metainfo=dict(classes=SIM_CLASSES),
                           pipeline=list(pipeline), **kwargs)


LOAD_POINTS = dict(type="LoadPointsFromFile", num_features=5, use_dims=[0, 1, 2, 3])


# ------------------------------------------------------------------------------------------------ infos
def test_infos_follow_the_devkit(sim_nusc_root, nusc):
    from pyquaternion import Quaternion

    assert default_splits(sim_nusc_root, "v1.0-mini") == ("sim_train", "sim_val")
    n_boxes = 0
    for split in ("sim_train", "sim_val"):
        infos = load_nuscenes_infos(info_path(sim_nusc_root, split))
        assert infos["metainfo"]["split"] == split and infos["metainfo"]["version"] == "v1.0-mini"
        assert len(infos["data_list"]) == 3
        for info in infos["data_list"]:
            sample = nusc.get("sample", info["token"])
            assert len(info["cams"]) == 6 and info["cams"]["CAM_FRONT"]["img_shape"] == (90, 160)
            # the devkit's boxes in the LiDAR sensor frame: centre, [l, w, h], yaw
            _, boxes, _ = nusc.get_sample_data(sample["data"]["LIDAR_TOP"])
            a = info["annos"]
            assert [b.token for b in boxes] == a["tokens"]
            for i, box in enumerate(boxes):
                np.testing.assert_allclose(a["boxes3d"][i, :3], box.center, atol=1e-4)
                np.testing.assert_allclose(a["boxes3d"][i, 3:6], box.wlh[[1, 0, 2]], atol=1e-5)
                d = math.remainder(float(a["boxes3d"][i, 6]) - box.orientation.yaw_pitch_roll[0], 2 * math.pi)
                assert abs(d) < 1e-5
                # velocity: the devkit's global estimate turned into the LiDAR frame with pyquaternion
                lidar_sd = nusc.get("sample_data", sample["data"]["LIDAR_TOP"])
                cs = nusc.get("calibrated_sensor", lidar_sd["calibrated_sensor_token"])
                pose = nusc.get("ego_pose", lidar_sd["ego_pose_token"])
                v = nusc.box_velocity(box.token)
                v = Quaternion(cs["rotation"]).inverse.rotate(Quaternion(pose["rotation"]).inverse.rotate(v))
                np.testing.assert_allclose(a["velocities"][i], v[:2], atol=1e-4)
                n_boxes += 1
            assert a["names"] == [{"vehicle.car": "car", "human.pedestrian.adult": "pedestrian",
                                   "vehicle.bicycle": "bicycle"}[c] for c in a["category_names"]]
            np.testing.assert_array_equal(a["valid_flag"], a["num_lidar_pts"] > 0)
    assert n_boxes > 30


def test_box_conversion_round_trips_through_the_global_frame(sim_nusc_root):
    infos = load_nuscenes_infos(info_path(sim_nusc_root, "sim_val"))
    info = infos["data_list"][1]
    l2g = np.asarray(info["ego2global"]) @ np.asarray(info["lidar2ego"])
    boxes = np.asarray(info["annos"]["boxes3d"], np.float64)
    t, s, q = lidar_to_global_boxes(boxes, l2g)
    np.testing.assert_allclose(global_to_lidar_boxes(t, s, q, l2g), boxes, atol=1e-9)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0)


def test_sweep_transforms_match_the_devkit_multisweep(sim_nusc_root, nusc):
    from nuscenes.utils.data_classes import LidarPointCloud

    sweeps = dict(type="LoadPointsFromMultiSweeps", sweeps_num=10, remove_close=1.0)
    ds = _dataset(sim_nusc_root, "sim_train", [LOAD_POINTS, sweeps], test_mode=True)
    for i in range(len(ds)):
        points = ds[i]["points"].numpy()
        sample = nusc.get("sample", ds.get_data_info(i)["token"])
        ref, times = LidarPointCloud.from_file_multisweep(nusc, sample, "LIDAR_TOP", "LIDAR_TOP", nsweeps=11,
                                                          min_distance=1.0)
        key = len(LidarPointCloud.from_file(nusc.get_sample_data_path(sample["data"]["LIDAR_TOP"])).points[0])
        # the devkit also drops close returns of the key frame; the transform keeps the key frame whole
        key_close = (np.abs(points[:key, 0]) < 1.0) & (np.abs(points[:key, 1]) < 1.0)
        ours = np.concatenate([points[:key][~key_close], points[key:]])
        assert ours.shape == (ref.points.shape[1], 5)
        np.testing.assert_allclose(ours[:, :4], ref.points.T, atol=2e-4)
        np.testing.assert_allclose(ours[:, 4], times[0], atol=1e-6)
        assert len(np.unique(points[:, 4])) == 1 + len(ds.get_data_info(i)["sweeps"]) == 3 * i + 3


def _box_frame(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Points in a box's frame: (u along the length, v across, height above the bottom)."""
    x, y, z, _, _, h, yaw = box
    d = points[:, :2] - [x, y]
    c, s = math.cos(yaw), math.sin(yaw)
    return np.column_stack([d @ [c, s], d @ [-s, c], points[:, 2] - (z - h / 2)])


def _near_and_inside(points: np.ndarray, box: np.ndarray) -> tuple[int, int]:
    """Returns above the ground within 0.6 m of the box, and those within 0.1 m of it."""
    l, w, h = box[3:6]
    p = _box_frame(points, box)
    up = (p[:, 2] > 0.2) & (p[:, 2] < h + 0.3)
    near = up & (np.abs(p[:, 0]) < l / 2 + 0.6) & (np.abs(p[:, 1]) < w / 2 + 0.6)
    inside = near & (np.abs(p[:, 0]) < l / 2 + 0.1) & (np.abs(p[:, 1]) < w / 2 + 0.1) & (p[:, 2] < h + 0.1)
    return int(near.sum()), int(inside.sum())


def test_static_objects_coincide_across_sweeps(sim_nusc_root):
    # Parked / stopped cars and standing pedestrians do not move in the world: once the ego motion is undone,
    # every sweep's returns near such an object fall inside its key-frame box.  Without the transform they do
    # not (the ego drives 1.5 - 4.5 m per 0.5 s).
    pipeline = [LOAD_POINTS, dict(type="LoadPointsFromMultiSweeps", sweeps_num=10), dict(type="LoadAnnotations3D")]
    checked, raw_near, raw_inside = 0, 0, 0
    for split in ("sim_train", "sim_val"):
        ds = _dataset(sim_nusc_root, split, pipeline, test_mode=True)
        for i in range(len(ds)):
            out, info = ds[i], ds.get_data_info(i)
            points = out["points"].numpy()
            static = np.flatnonzero(np.hypot(*info["ann_info"]["gt_velocities_3d"].numpy().T) < 1e-3)
            for b in static:
                box = out["gt_boxes_3d"].tensor[b].double().numpy()
                for lag in np.unique(points[:, 4]):
                    near, inside = _near_and_inside(points[points[:, 4] == lag].astype(np.float64), box)
                    if near >= 5:
                        assert inside == near, (info["token"], b, lag, near, inside)
                        checked += lag > 0
                for sweep in info["sweeps"]:
                    near, inside = _near_and_inside(kitti_io.read_points(sweep["data_path"], 5).astype(np.float64),
                                                    box)
                    raw_near, raw_inside = raw_near + near, raw_inside + inside
    assert checked >= 40
    assert raw_inside < 0.75 * raw_near


# ---------------------------------------------------------------------------------------------- dataset
def test_dataset_packs_lidar_samples_for_the_models(sim_nusc_root):
    pipeline = [LOAD_POINTS, dict(type="LoadPointsFromMultiSweeps", sweeps_num=9), dict(type="LoadAnnotations3D"),
                dict(type="Pack3DDetInputs", keys=["points", "gt_boxes_3d", "gt_labels_3d"])]
    ds = _dataset(sim_nusc_root, "sim_val", pipeline, test_mode=True)
    infos = load_nuscenes_infos(info_path(sim_nusc_root, "sim_val"))
    assert len(ds) == 3 and ds.classes == SIM_CLASSES
    for i in range(len(ds)):
        out = ds[i]
        sample: Det3DDataSample = out["data_samples"]
        info = infos["data_list"][i]
        points = out["inputs"]["points"]
        assert points.dtype == torch.float32 and points.shape[1] == 5
        assert sample.sample_idx == info["token"] and sample.num_pts_feats == 5
        a = info["annos"]
        keep = np.array([n in SIM_CLASSES for n in a["names"]]) & a["valid_flag"]
        gt = sample.gt_instances_3d
        assert gt.bboxes_3d.frame is CoordFrame.LIDAR and len(gt.bboxes_3d) == keep.sum() > 0
        np.testing.assert_allclose(gt.bboxes_3d.tensor.numpy(), a["boxes3d"][keep])
        assert gt.labels_3d.tolist() == [SIM_CLASSES.index(n) for n in np.asarray(a["names"])[keep]]
    # all annotations of the classes without the valid-flag filter; the CAM_FRONT image path for image transforms
    info = _dataset(sim_nusc_root, "sim_val", use_valid_flag=False, test_mode=True).get_data_info(0)
    assert len(info["ann_info"]["gt_labels_3d"]) == len(infos["data_list"][0]["annos"]["names"])
    assert info["img_path"].endswith(".jpg") and "CAM_FRONT" in info["img_path"] and info["img_shape"] == (90, 160)
    assert set(info["images"]) == {"CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_FRONT_LEFT", "CAM_BACK", "CAM_BACK_LEFT",
                                   "CAM_BACK_RIGHT"}
    lidar2cam = info["images"]["CAM_FRONT"]["lidar2cam"]
    # the LiDAR's forward axis (+y, nuScenes mounting) is the front camera's optical axis (+z)
    assert (lidar2cam[:3, :3] @ [0.0, 1.0, 0.0])[2] > 0.99


def test_camera_mode_gives_the_2d_boxes_of_the_visible_objects(sim_nusc_root, nusc):
    from nuscenes.utils.geometry_utils import BoxVisibility, view_points

    ds = _dataset(sim_nusc_root, "sim_val", modality=dict(use_lidar=False, use_camera=True), use_valid_flag=False,
                  test_mode=True)
    n_inside = 0
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        ann, evl = info["ann_info"], info["eval_ann_info"]
        boxes2d = ann["gt_bboxes"].numpy()
        assert len(boxes2d) == len(ann["gt_boxes_3d"]) == len(ann["gt_bboxes_labels"]) == len(evl) > 0
        assert evl.names == ann["gt_names_3d"] and torch.equal(evl.boxes2d.tensor, ann["gt_bboxes"])
        assert (boxes2d[:, [0, 1]] >= 0).all() and (boxes2d[:, 2] <= 160).all() and (boxes2d[:, 3] <= 90).all()
        assert (boxes2d[:, 2] > boxes2d[:, 0]).all() and (boxes2d[:, 3] > boxes2d[:, 1]).all()
        # the devkit's view of CAM_FRONT: every box it sees (any corner in the image) is among ours, and a box
        # wholly inside the image has the corners' extent as its 2D box
        cam_token = nusc.get("sample", info["token"])["data"]["CAM_FRONT"]
        _, seen, k = nusc.get_sample_data(cam_token, box_vis_level=BoxVisibility.ANY)
        seen = [b for b in seen if b.name in ("vehicle.car", "human.pedestrian.adult", "vehicle.bicycle")]
        assert len(seen) <= len(boxes2d)
        _, inside, _ = nusc.get_sample_data(cam_token, box_vis_level=BoxVisibility.ALL)
        for box in inside:
            uv = view_points(box.corners(), k, normalize=True)[:2]
            extent = np.array([uv[0].min(), uv[1].min(), uv[0].max(), uv[1].max()])
            assert np.abs(boxes2d - extent).max(axis=1).min() < 0.01, (box.token, extent)
            n_inside += 1
        assert evl.truncated.min() >= 0 and evl.truncated.max() <= 1
    assert n_inside >= 3
    with pytest.raises(InfoFileError, match="has no CAM_BACK_TOP image"):
        _dataset(sim_nusc_root, "sim_val", modality=dict(use_camera=True), camera="CAM_BACK_TOP", test_mode=True)


def test_dataset_rejects_bad_classes_and_missing_files(sim_nusc_root, tmp_path):
    with pytest.raises(ValueError, match="not nuScenes detection classes"):
        NuScenesDataset(str(sim_nusc_root), "nuscenes_infos_sim_val.pkl", metainfo=dict(classes=("Car",)))
    root = tmp_path / "db"
    shutil.copytree(sim_nusc_root, root)
    info = load_nuscenes_infos(info_path(root, "sim_val"))["data_list"][1]
    (root / info["sweeps"][0]["data_path"]).unlink()
    with pytest.raises(FileNotFoundError, match=f"LiDAR sweep of sample {info['token']}"):
        _dataset(root, "sim_val")
    with pytest.raises(FileNotFoundError, match=r"LIDAR_TOP file not found \(sample_data"):
        create_nuscenes_infos(root, "v1.0-mini", progress=False, log=lambda _: None)


def test_training_dataset_drops_samples_without_objects(sim_nusc_root):
    ds = NuScenesDataset(str(sim_nusc_root), "nuscenes_infos_sim_val.pkl", metainfo=dict(classes=("truck",)),
                         test_mode=True)
    assert len(ds) == 3 and len(ds.get_data_info(0)["ann_info"]["gt_labels_3d"]) == 0
    with pytest.raises(ValueError, match="no training sample has an object"):
        NuScenesDataset(str(sim_nusc_root), "nuscenes_infos_sim_val.pkl", metainfo=dict(classes=("truck",)))


# ------------------------------------------------------------------------------------- multi-sweep transform
def test_multi_sweep_options_and_errors(sim_nusc_root):
    ds = _dataset(sim_nusc_root, "sim_train", [LOAD_POINTS], test_mode=True)
    first, last = ds[0], ds[2]
    assert len(first["sweeps"]) == 2 and len(last["sweeps"]) == 8
    two = LoadPointsFromMultiSweeps(sweeps_num=2, remove_close=0.0)(dict(last))["points"]
    lags = sorted(set(two[:, 4].tolist()))
    expected = [0.0] + [(last["timestamp"] - s["timestamp"]) * 1e-6 for s in last["sweeps"][:2]]
    np.testing.assert_allclose(lags, expected, atol=1e-6)
    np.random.seed(0)
    rand = LoadPointsFromMultiSweeps(sweeps_num=3, random_choose=True)(dict(last))["points"]
    assert len(np.unique(rand[:, 4].numpy())) == 4
    no_sweeps = dict(first, sweeps=[])
    padded = LoadPointsFromMultiSweeps(sweeps_num=3, pad_empty_sweeps=True)(dict(no_sweeps))["points"]
    assert len(padded) == 4 * len(first["points"]) and (padded[:, 4] == 0).all()
    plain = LoadPointsFromMultiSweeps(sweeps_num=3)(dict(no_sweeps))
    assert len(plain["points"]) == len(first["points"]) and plain["num_pts_feats"] == 5
    with pytest.raises(ValueError, match="key frame has 4 channels"):
        LoadPointsFromMultiSweeps(use_dims=[0, 1, 2])(dict(first))
    with pytest.raises(KeyError, match="sweeps"):
        LoadPointsFromMultiSweeps()({"points": first["points"]})
    with pytest.raises(ValueError, match="use_dims"):
        LoadPointsFromMultiSweeps(num_features=5, use_dims=[0, 1, 5])


# ------------------------------------------------------------------------------------------ creation / errors
def test_create_data_cli_writes_the_infos(repo_root, sim_nusc_root, tmp_path):
    spec = importlib.util.spec_from_file_location("create_data_tool", repo_root / "tools" / "create_data.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    root = tmp_path / "db"
    shutil.copytree(sim_nusc_root / "v1.0-mini", root / "v1.0-mini")
    for folder in ("samples", "sweeps", "maps"):
        (root / folder).symlink_to(sim_nusc_root / folder)
    assert tool.main(["nuscenes", "--root", str(root), "--version", "v1.0-mini", "--splits", "sim_val",
                      "--max-sweeps", "1", "--no-progress"]) == 0
    infos = load_nuscenes_infos(root / "nuscenes_infos_sim_val.pkl")
    assert infos["metainfo"]["max_sweeps"] == 1 and all(len(d["sweeps"]) == 1 for d in infos["data_list"])
    assert not (root / "nuscenes_infos_sim_train.pkl").exists()
    with pytest.raises(SystemExit, match="v1.0-trainval: nuScenes table directory not found"):
        tool.main(["nuscenes", "--root", str(root), "--version", "v1.0-trainval", "--no-progress"])
    with pytest.raises(SystemExit, match="unknown split 'mini_val2'"):
        tool.main(["nuscenes", "--root", str(root), "--version", "v1.0-mini", "--splits", "mini_val2"])
    with pytest.raises(SystemExit, match="split 'mini_val': 2 of its 2 scenes are not in"):
        tool.main(["nuscenes", "--root", str(root), "--version", "v1.0-mini", "--splits", "mini_val"])


def _corrupt(root: pathlib.Path, table: str, edit) -> None:
    path = root / "v1.0-mini" / f"{table}.json"
    records = json.loads(path.read_text())
    edit(records)
    path.write_text(json.dumps(records))


def test_inconsistent_tables_are_named(sim_nusc_root, tmp_path):
    root = tmp_path / "db"
    shutil.copytree(sim_nusc_root / "v1.0-mini", root / "v1.0-mini")
    (root / "maps").symlink_to(sim_nusc_root / "maps")
    _corrupt(root, "sample_annotation", lambda r: r[3].update(instance_token="feedbeef"))
    bad_token = json.loads((root / "v1.0-mini" / "sample_annotation.json").read_text())[3]["token"]
    with pytest.raises(NuScenesFormatError, match=rf"sample_annotation.json: record 3 \(token '{bad_token}'\) field "
                                                  r"'instance_token' = 'feedbeef': no such token in .*instance.json"):
        load_nuscenes(root, "v1.0-mini")
    shutil.copy(sim_nusc_root / "v1.0-mini" / "sample_annotation.json", root / "v1.0-mini")
    (root / "v1.0-mini" / "ego_pose.json").write_text('[{"token": "a",')
    with pytest.raises(NuScenesFormatError, match=r"ego_pose.json: not valid JSON \(line 1"):
        load_nuscenes(root, "v1.0-mini")
    (root / "v1.0-mini" / "ego_pose.json").unlink()
    with pytest.raises(NuScenesFormatError, match="missing table file.*ego_pose.json"):
        load_nuscenes(root, "v1.0-mini")


def test_info_file_errors(sim_nusc_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="create_data.py nuscenes"):
        load_nuscenes_infos(tmp_path / "nope.pkl")
    infos = load_nuscenes_infos(info_path(sim_nusc_root, "sim_val"))
    del infos["data_list"][1]["annos"]["velocities"]
    path = tmp_path / "broken.pkl"
    path.write_bytes(pickle.dumps(infos))
    with pytest.raises(InfoFileError, match=r"data_list\[1\] \(sample [0-9a-f]{32}\) annos lack key\(s\) velocities"):
        load_nuscenes_infos(path)
    path.write_bytes(pickle.dumps({"metainfo": {"dataset": "kitti", "info_version": 1}, "data_list": []}))
    with pytest.raises(InfoFileError, match="not a nuScenes info file"):
        load_nuscenes_infos(path)


def test_max_sweeps_limits_the_recorded_sweeps(nusc):
    infos = build_split_infos(nusc, "sim_train", max_sweeps=4, progress=False)
    assert [len(d["sweeps"]) for d in infos["data_list"]] == [2, 4, 4]
    with pytest.raises(ValueError, match="max_sweeps"):
        build_split_infos(nusc, "sim_train", max_sweeps=-1, progress=False)
