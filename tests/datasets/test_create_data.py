"""Info files and the GT database: contents on real and synthetic KITTI, every bad file named, nothing partial."""
import importlib.util
import os
import pickle

import numpy as np
import pytest
import torch

from perception.datasets import kitti_io
from perception.datasets.create_data import (INFO_VERSION, InfoFileError, build_split_infos, create_kitti_infos,
                                             frame_annotations, frame_calibration, kitti_difficulty,
                                             load_kitti_infos)
from perception.datasets.gt_database import create_gt_database, load_db_infos
from perception.datasets.kitti_io import KittiFormatError
from perception.structures import Boxes3D, CalibrationError, CoordFrame


def _quiet(_msg):
    pass


def _create(root, splits=("train", "val")):
    return create_kitti_infos(root, splits, progress=False, log=_quiet)


def _load_tool(repo_root):
    spec = importlib.util.spec_from_file_location("create_data_tool", repo_root / "tools" / "create_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------ difficulty
def test_kitti_difficulty_known_answers():
    h = [40, 39.9, 25, 25, 24.9, 60, 60, 60, 60, 60]
    occ = [0, 0, 1, 2, 0, 1, 0, 3, 2, 0]
    trunc = [0.15, 0.0, 0.3, 0.5, 0.0, 0.0, 0.16, 0.0, 0.51, 0.31]
    assert kitti_difficulty(h, occ, trunc).tolist() == [0, 1, 1, 2, -1, 1, 1, -1, -1, 2]
    assert kitti_difficulty([], [], []).shape == (0,)


# ----------------------------------------------------------------------------- real frame
def test_infos_of_the_real_frame(real_kitti_root):
    infos = _create(real_kitti_root)
    for split in ("train", "val"):
        assert (real_kitti_root / f"kitti_infos_{split}.pkl").is_file()
    loaded = load_kitti_infos(real_kitti_root / "kitti_infos_train.pkl")
    assert loaded["metainfo"]["info_version"] == INFO_VERSION and loaded["metainfo"]["split"] == "train"
    (frame,) = loaded["data_list"]
    assert frame["sample_idx"] == "000000"
    assert frame["lidar_path"] == "training/velodyne/000000.bin"
    assert frame["img_path"] == "training/image_2/000000.png"
    assert frame["img_shape"] == (370, 1224)
    assert "panoptic_path" not in frame
    t = real_kitti_root / "training"
    calib = kitti_io.read_calib(t / "calib" / "000000.txt")
    np.testing.assert_array_equal(frame_calibration(frame).P, calib.P)
    np.testing.assert_array_equal(frame_calibration(frame).Tr_imu_to_velo, calib.Tr_imu_to_velo)
    a = frame["annos"]
    assert a["names"] == ["Pedestrian"]
    assert a["boxes3d"].dtype == np.float32 and a["boxes3d"].shape == (1, 7)
    expected = kitti_io.objects_to_annotations(kitti_io.read_label(t / "label_2" / "000000.txt"), calib)
    np.testing.assert_allclose(a["boxes3d"], expected.boxes3d.numpy(), atol=1e-6)
    np.testing.assert_allclose(a["boxes2d"], [[712.40, 143.00, 810.73, 307.92]], atol=1e-4)
    assert a["difficulty"].tolist() == [0]  # 164.9 px high, fully visible, not truncated: easy
    # the fixture's 800 points are not around the pedestrian (../shared/README.md)
    assert a["num_lidar_points"].tolist() == [0]
    assert a["dontcare"].shape == (0, 4)
    ann = frame_annotations(frame)
    assert ann.names == ["Pedestrian"] and ann.boxes3d.frame is CoordFrame.LIDAR
    assert infos["train"]["data_list"][0]["sample_idx"] == "000000"


# ------------------------------------------------------------------------------ synthetic
def test_infos_of_synthetic_frames(synthetic_kitti, kitti_synth):
    _create(synthetic_kitti)
    train = load_kitti_infos(synthetic_kitti / "kitti_infos_train.pkl")["data_list"]
    val = load_kitti_infos(synthetic_kitti / "kitti_infos_val.pkl")["data_list"]
    assert [f["sample_idx"] for f in train] == ["000000", "000001", "000002"]  # empty frame kept
    assert [f["sample_idx"] for f in val] == ["000003"]
    for frame in train + val:
        boxes, names = kitti_synth.SYNTH_FRAMES[frame["sample_idx"]]
        a = frame["annos"]
        assert a["names"] == names
        np.testing.assert_allclose(a["boxes3d"], np.asarray(boxes, np.float32).reshape(-1, 7), atol=2e-3)
        assert a["num_lidar_points"].tolist() == [30] * len(names)  # write_frame: 30 points per box
        assert frame["img_shape"] == kitti_synth.SYNTH_IMAGE_SHAPE
    assert train[0]["annos"]["dontcare"].tolist() == [[1.0, 2.0, 30.0, 40.0]]
    assert train[2]["annos"]["boxes3d"].shape == (0, 7)


def test_point_counts_match_a_geometric_count(synthetic_kitti):
    infos = build_split_infos(synthetic_kitti, "train", progress=False)
    for frame in infos["data_list"]:
        pts = kitti_io.read_points(synthetic_kitti / frame["lidar_path"]).astype(np.float64)
        counts = []
        for x, y, z, l, w, h, yaw in frame["annos"]["boxes3d"].astype(np.float64):
            d = pts[:, :3] - [x, y, z]
            lx = d[:, 0] * np.cos(yaw) + d[:, 1] * np.sin(yaw)
            ly = -d[:, 0] * np.sin(yaw) + d[:, 1] * np.cos(yaw)
            counts.append(int(((abs(lx) <= l / 2) & (abs(ly) <= w / 2) & (abs(d[:, 2]) <= h / 2)).sum()))
        assert frame["annos"]["num_lidar_points"].tolist() == counts


def test_unlabelled_test_split_and_optional_simulator_files(tmp_path, kitti_synth):
    root = tmp_path / "k"
    kitti_synth.write_frame(root, "000000", [[10.0, 0.0, -0.9, 4.0, 1.8, 1.6, 0.0]], ["Car"])
    kitti_synth.write_frame(root, "000005", split_dir="testing", with_label=False)
    (root / "training" / "panoptic").mkdir()
    (root / "training" / "panoptic" / "000000.png").write_bytes(b"png")
    (root / "training" / "panoptic.json").write_text("{}")
    (root / "training" / "point_labels.json").write_text("{}")
    kitti_synth.write_image_sets(root, train=["000000"], test=["000005"])
    infos = _create(root, ("train", "test"))
    assert infos["train"]["data_list"][0]["panoptic_path"] == "training/panoptic/000000.png"
    assert infos["train"]["metainfo"]["panoptic_json"] == "training/panoptic.json"
    assert infos["train"]["metainfo"]["point_labels_json"] == "training/point_labels.json"
    test = load_kitti_infos(root / "kitti_infos_test.pkl")
    (frame,) = test["data_list"]
    assert frame["annos"] is None and frame["label_path"] is None
    assert frame["lidar_path"] == "testing/velodyne/000005.bin"
    assert "panoptic_json" not in test["metainfo"]


# ------------------------------------------------------------------------------ bad files
def _break_bin(root):
    (root / "training" / "velodyne" / "000001.bin").write_bytes(b"\0" * 17)
    return r"velodyne/000001\.bin: size 17 bytes is not a multiple of 16"


def _break_calib(root):
    f = root / "training" / "calib" / "000001.txt"
    f.write_text("".join(line + "\n" for line in f.read_text().splitlines() if not line.startswith("P2:")))
    return r"calib/000001\.txt: missing field\(s\) P2 .* \[frame listed at .*train\.txt:2\]"


def _break_label(root):
    f = root / "training" / "label_2" / "000001.txt"
    lines = f.read_text().splitlines()
    lines[1] = " ".join(lines[1].split()[:13])
    f.write_text("\n".join(lines) + "\n")
    return r"label_2/000001\.txt:2: expected 15 fields .* got 13 fields"


def _remove_velodyne(root):
    os.remove(root / "training" / "velodyne" / "000001.bin")
    return r"velodyne/000001\.bin: point cloud file not found \(frame 000001\) \[frame listed at .*train\.txt:2\]"


def _remove_image(root):
    os.remove(root / "training" / "image_2" / "000001.png")
    return r"image_2/000001\.png: image file not found"


def _corrupt_image(root):
    (root / "training" / "image_2" / "000001.png").write_bytes(b"\x89PNG garbage")
    return r"image_2/000001\.png: not a readable image"


def _truncated_image(root):
    f = root / "training" / "image_2" / "000001.png"
    f.write_bytes(f.read_bytes()[:-40])
    return r"image_2/000001\.png: not a readable image"


def _unknown_id(root):
    kitti_io.write_image_set(root / "ImageSets" / "train.txt", ["000000", "000009"])
    return r"calib/000009\.txt: calib file not found \(frame 000009\) \[frame listed at .*train\.txt:2\]"


def _duplicate_id(root):
    kitti_io.write_image_set(root / "ImageSets" / "train.txt", ["000000", "000001", "000000"])
    return r"train\.txt: sample id '000000' listed twice \(entries 1 and 3\)"


def _missing_image_set(root):
    os.remove(root / "ImageSets" / "train.txt")
    return r"ImageSets/train\.txt: image set file not found"


@pytest.mark.parametrize("breaker", [_break_bin, _break_calib, _break_label, _remove_velodyne, _remove_image,
                                     _corrupt_image, _truncated_image, _unknown_id, _duplicate_id, _missing_image_set])
def test_bad_files_are_named_and_nothing_is_written(synthetic_kitti, breaker):
    pattern = breaker(synthetic_kitti)
    exc_type = CalibrationError if breaker is _break_calib else KittiFormatError
    with pytest.raises(exc_type, match=pattern):
        _create(synthetic_kitti, ("val", "train"))  # val is fine, but nothing may be written
    assert not list(synthetic_kitti.glob("kitti_infos_*")) and not list(synthetic_kitti.glob(".kitti_infos_*"))


def test_failed_run_leaves_existing_info_file_intact(synthetic_kitti):
    _create(synthetic_kitti, ("train",))
    before = (synthetic_kitti / "kitti_infos_train.pkl").read_bytes()
    _break_bin(synthetic_kitti)
    with pytest.raises(KittiFormatError):
        _create(synthetic_kitti, ("train",))
    assert (synthetic_kitti / "kitti_infos_train.pkl").read_bytes() == before


def test_load_kitti_infos_rejects_missing_and_malformed_files(tmp_path, synthetic_kitti):
    with pytest.raises(FileNotFoundError, match=r"nope\.pkl: info file not found; create it with"):
        load_kitti_infos(tmp_path / "nope.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(InfoFileError, match=r"junk\.pkl: not a readable info pickle"):
        load_kitti_infos(tmp_path / "junk.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(InfoFileError, match=r"list\.pkl: expected a dict with 'metainfo' and 'data_list'"):
        load_kitti_infos(tmp_path / "list.pkl")
    _create(synthetic_kitti, ("train",))
    infos = load_kitti_infos(synthetic_kitti / "kitti_infos_train.pkl")
    infos["metainfo"]["info_version"] = 0
    (tmp_path / "old.pkl").write_bytes(pickle.dumps(infos))
    with pytest.raises(InfoFileError, match=r"old\.pkl: info_version 0"):
        load_kitti_infos(tmp_path / "old.pkl")
    infos["metainfo"]["info_version"] = INFO_VERSION
    del infos["data_list"][1]["annos"]["difficulty"]
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(infos))
    with pytest.raises(InfoFileError,
                       match=r"bad\.pkl: data_list\[1\] \(frame 000001\) annos lack key\(s\) difficulty"):
        load_kitti_infos(tmp_path / "bad.pkl")


# ----------------------------------------------------------------------------- GT database
def test_gt_database_contents(synthetic_kitti):
    infos = _create(synthetic_kitti, ("train",))
    db = create_gt_database(synthetic_kitti, infos["train"], classes=("Car", "Pedestrian", "Cyclist"),
                            min_points=1, progress=False, log=_quiet)
    loaded = load_db_infos(synthetic_kitti / "kitti_dbinfos_train.pkl")
    assert loaded["metainfo"] == db["metainfo"] and loaded["metainfo"]["database_dir"] == "kitti_gt_database"
    assert {k: len(v) for k, v in loaded["infos"].items()} == {"Car": 2, "Pedestrian": 1, "Cyclist": 1}  # no Van
    assert sorted(os.listdir(synthetic_kitti / "kitti_gt_database")) == [
        "000000_Car_0.bin", "000000_Pedestrian_1.bin", "000001_Car_0.bin", "000001_Cyclist_1.bin"]
    for name, entries in loaded["infos"].items():
        for e in entries:
            assert e["name"] == name
            frame = next(f for f in infos["train"]["data_list"] if f["sample_idx"] == e["sample_idx"])
            np.testing.assert_array_equal(e["box3d_lidar"], frame["annos"]["boxes3d"][e["gt_idx"]])
            assert e["num_points_in_gt"] == frame["annos"]["num_lidar_points"][e["gt_idx"]] == 30
            assert e["difficulty"] == frame["annos"]["difficulty"][e["gt_idx"]]
            pts = kitti_io.read_points(synthetic_kitti / e["path"])
            assert pts.shape == (30, 4)
            # stored relative to the box centre: moved back, every point is inside the box
            moved = torch.from_numpy(pts.copy())
            moved[:, :3] += torch.from_numpy(e["box3d_lidar"][:3])
            box = Boxes3D(torch.from_numpy(e["box3d_lidar"][None]), frame=CoordFrame.LIDAR)
            assert box.points_inside(moved).all()
            scene = kitti_io.read_points(synthetic_kitti / frame["lidar_path"])
            inside = box.points_inside(torch.from_numpy(scene))[:, 0].numpy()
            np.testing.assert_allclose(np.sort(scene[inside], axis=0), np.sort(moved.numpy(), axis=0), atol=1e-5)


def test_gt_database_min_points_classes_and_rebuild(synthetic_kitti):
    _create(synthetic_kitti, ("train",))
    create_gt_database(synthetic_kitti, classes=("Car", "Van"), min_points=31, progress=False, log=_quiet)
    db = load_db_infos(synthetic_kitti / "kitti_dbinfos_train.pkl")
    assert db["infos"] == {"Car": [], "Van": []} and db["metainfo"]["min_points"] == 31
    assert os.listdir(synthetic_kitti / "kitti_gt_database") == []
    create_gt_database(synthetic_kitti, classes=("Van",), min_points=0, progress=False, log=_quiet)
    assert os.listdir(synthetic_kitti / "kitti_gt_database") == ["000000_Van_2.bin"]
    assert not [p for p in os.listdir(synthetic_kitti) if p.startswith(".kitti_gt_database")]


def test_load_db_infos_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"db\.pkl: GT database info file not found"):
        load_db_infos(tmp_path / "db.pkl")
    (tmp_path / "db.pkl").write_bytes(pickle.dumps({"Car": []}))
    with pytest.raises(InfoFileError, match=r"db\.pkl: expected a dict with 'metainfo' and 'infos'"):
        load_db_infos(tmp_path / "db.pkl")


# ------------------------------------------------------------------------------- the tool
def test_tool_writes_infos_and_database(synthetic_kitti, repo_root, capsys):
    tool = _load_tool(repo_root)
    assert tool.main(["kitti", "--root", str(synthetic_kitti), "--gt-database", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "kitti_infos_train.pkl: 3 frames, 5 objects" in out and "kitti_infos_val.pkl: 1 frames, 1 objects" in out
    assert (synthetic_kitti / "kitti_dbinfos_train.pkl").is_file()
    # the database can also be built later from the existing train infos
    os.remove(synthetic_kitti / "kitti_dbinfos_train.pkl")
    assert tool.main(["kitti", "--root", str(synthetic_kitti), "--splits", "val", "--gt-database",
                      "--db-classes", "Car", "--no-progress"]) == 0
    assert list(load_db_infos(synthetic_kitti / "kitti_dbinfos_train.pkl")["infos"]) == ["Car"]


def test_tool_arguments(repo_root, tmp_path):
    tool = _load_tool(repo_root)
    with pytest.raises(SystemExit):
        tool.main([])  # a dataset subcommand is required
    with pytest.raises(SystemExit):
        tool.main(["kitti"])  # --root is required
    with pytest.raises(FileNotFoundError, match="dataset root not found"):
        tool.main(["kitti", "--root", str(tmp_path / "none"), "--no-progress"])
