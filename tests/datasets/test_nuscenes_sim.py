"""The simulator's nuScenes export, loaded by the official nuscenes-devkit."""
from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from perception.datasets.nuscenes_io import CAMERA_CHANNELS, load_nuscenes
from perception.datasets.sim import SimDatasetError
from perception.datasets.sim.nuscenes_writer import NuScenesSimConfig, generate_nuscenes_dataset


@pytest.fixture(scope="session")
def sim_nusc_root(tmp_path_factory) -> pathlib.Path:
    """The tiny simulated nuScenes database (2 scenes x 3 samples, 2 sweeps between key frames, six 160x90
    cameras), generated once per session in the session's base temp dir and shared (read-only) by the nuScenes
    test modules: the writer reuses a finished database with the same settings."""
    root = tmp_path_factory.getbasetemp() / "sim_nuscenes_tiny"
    generate_nuscenes_dataset(root, NuScenesSimConfig.tiny(seed=0), progress=False)
    return root


@pytest.fixture(scope="module")
def nusc(sim_nusc_root):
    return load_nuscenes(sim_nusc_root, "v1.0-mini")


def test_the_devkit_loads_the_database_with_every_sensor(nusc, sim_nusc_root):
    assert [s["name"] for s in nusc.scene] == ["sim-0000", "sim-0001"]
    assert len(nusc.sample) == 6
    for sample in nusc.sample:
        assert set(sample["data"]) == {"LIDAR_TOP", *CAMERA_CHANNELS}
        assert sample["anns"]
    lidar = [sd for sd in nusc.sample_data if sd["channel"] == "LIDAR_TOP"]
    assert len(lidar) == 2 * 3 * (2 + 1)  # key frame + 2 sweeps before each of the 3 key frames, 2 scenes
    assert sum(sd["is_key_frame"] for sd in lidar) == 6
    for sd in nusc.sample_data:
        path = sim_nusc_root / sd["filename"]
        assert path.is_file(), path
        if sd["channel"] == "LIDAR_TOP":
            assert path.stat().st_size % (5 * 4) == 0  # float32 x 5 records
    splits = json.loads((sim_nusc_root / "v1.0-mini" / "splits.json").read_text())
    assert splits == {"sim_train": ["sim-0000"], "sim_val": ["sim-0001"]}
    categories = {a["category_name"] for a in nusc.sample_annotation}
    assert categories == {"vehicle.car", "human.pedestrian.adult", "vehicle.bicycle"}
    for ann in nusc.sample_annotation:
        attrs = [nusc.get("attribute", t)["name"] for t in ann["attribute_tokens"]]
        expected = {"vehicle.car": {"vehicle.moving", "vehicle.parked", "vehicle.stopped"},
                    "human.pedestrian.adult": {"pedestrian.moving", "pedestrian.standing"},
                    "vehicle.bicycle": {"cycle.with_rider"}}[ann["category_name"]]
        assert len(attrs) == 1 and attrs[0] in expected
        assert ann["visibility_token"] in {"1", "2", "3", "4"}
    # every instance is annotated in each of its scene's 3 samples, linked prev -> next
    for inst in nusc.instance:
        assert inst["nbr_annotations"] == 3
        chain, token = [], inst["first_annotation_token"]
        while token:
            chain.append(token)
            token = nusc.get("sample_annotation", token)["next"]
        assert chain[-1] == inst["last_annotation_token"] and len(chain) == 3


def test_annotated_boxes_hold_their_lidar_returns(nusc):
    from nuscenes.utils.data_classes import LidarPointCloud
    from nuscenes.utils.geometry_utils import points_in_box

    checked = 0
    for sample in nusc.sample:
        path, boxes, _ = nusc.get_sample_data(sample["data"]["LIDAR_TOP"])
        xyz = LidarPointCloud.from_file(path).points[:3]
        for box, token in zip(boxes, sample["anns"]):
            n = nusc.get("sample_annotation", token)["num_lidar_pts"]
            inside = int(points_in_box(box, xyz, wlh_factor=1.05).sum())
            # the object's own returns lie in its box (up to the 2 cm range noise); ground points may join them
            assert inside >= n * 0.95 - 1, (token, n, inside)
            checked += n > 20
    assert checked >= 10


def test_the_ego_drives_along_its_lane_and_the_lidar_is_mounted_like_nuscenes(nusc):
    from pyquaternion import Quaternion

    for scene in nusc.scene:
        speed = float(re.search(r"ego at ([0-9.]+) m/s", scene["description"]).group(1))
        samples = [nusc.get("sample", scene["first_sample_token"])]
        while samples[-1]["next"]:
            samples.append(nusc.get("sample", samples[-1]["next"]))
        poses = [nusc.get("ego_pose", nusc.get("sample_data", s["data"]["LIDAR_TOP"])["ego_pose_token"])
                 for s in samples]
        for a, b in zip(poses, poses[1:]):
            step = np.linalg.norm(np.subtract(b["translation"], a["translation"]))
            assert step == pytest.approx(speed * 0.5, abs=0.06)  # 0.5 s between key frames (speed printed to 0.1)
            assert a["translation"][2] == 0.0
            turn = abs(Quaternion(b["rotation"]).yaw_pitch_roll[0] - Quaternion(a["rotation"]).yaw_pitch_roll[0])
            assert min(turn, 2 * math.pi - turn) < 0.1
    for cs in nusc.calibrated_sensor:
        if nusc.get("sensor", cs["sensor_token"])["channel"] == "LIDAR_TOP":
            yaw, pitch, roll = Quaternion(cs["rotation"]).yaw_pitch_roll
            assert yaw == pytest.approx(-math.pi / 2) and pitch == pytest.approx(0) and roll == pytest.approx(0)
    # parked cars stay put in the global frame; moving objects move at their speed
    for inst in nusc.instance:
        anns = [nusc.get("sample_annotation", inst["first_annotation_token"])]
        while anns[-1]["next"]:
            anns.append(nusc.get("sample_annotation", anns[-1]["next"]))
        attr = nusc.get("attribute", anns[0]["attribute_tokens"][0])["name"]
        moved = np.linalg.norm(np.subtract(anns[-1]["translation"], anns[0]["translation"]))
        if attr in ("vehicle.parked", "vehicle.stopped", "pedestrian.standing"):
            assert moved < 1e-6
        elif attr in ("vehicle.moving", "pedestrian.moving"):
            assert moved > 0.5 * 1.0  # at least 0.5 m/s over the scene's 1 s


def _pose(record: dict, inverse: bool = False) -> np.ndarray:
    from nuscenes.utils.geometry_utils import transform_matrix
    from pyquaternion import Quaternion

    return transform_matrix(record["translation"], Quaternion(record["rotation"]), inverse=inverse)


def _rot_z(angle: float) -> np.ndarray:
    out = np.eye(4)
    out[:2, :2] = [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    return out


@pytest.mark.parametrize("cam", ["CAM_FRONT", "CAM_BACK_LEFT"])
def test_each_image_is_what_its_table_calibration_sees(nusc, cam):
    """Re-render the simulated world through the camera as the *tables* describe it (devkit poses of the camera
    and the key frame, intrinsics) and compare with the written JPEG: equal up to JPEG and sensor noise, while
    turning the camera by 3 degrees changes the picture a lot.  (The world at the camera's capture time comes
    from the writer's scene model; the simulator casts rays in its x-forward LiDAR frame, LIDAR_TOP turned by
    +90 degrees.)"""
    import dataclasses

    from PIL import Image

    from perception.datasets.sim.nuscenes_writer import _SceneWriter
    from perception.datasets.sim.raycast import Raycaster
    from perception.datasets.sim.render import render_camera
    from perception.structures import KittiCalibration

    for k, scene in enumerate(nusc.scene):
        writer = _SceneWriter("/nonexistent", k, NuScenesSimConfig.tiny(seed=0), nthreads=1)  # writes nothing
        first = nusc.get("sample", scene["first_sample_token"])
        sample = nusc.get("sample", first["next"])
        lidar_sd = nusc.get("sample_data", sample["data"]["LIDAR_TOP"])
        cam_sd = nusc.get("sample_data", sample["data"][cam])
        cs = nusc.get("calibrated_sensor", cam_sd["calibrated_sensor_token"])
        # both sensors are rigid on the car: sim LiDAR frame -> camera at the capture time, from the tables
        lidar2ego = _pose(nusc.get("calibrated_sensor", lidar_sd["calibrated_sensor_token"]))
        sim_to_cam = _pose(cs, inverse=True) @ lidar2ego @ _rot_z(math.pi / 2)
        tau = (cam_sd["timestamp"] - first["timestamp"]) * 1e-6
        world = writer.world.scene_at(tau)
        _, psi = writer.world.lidar_pose(tau)
        light = dataclasses.replace(writer.light, sun_dir=_rot_z(-psi)[:3, :3] @ writer.sun_map)
        p = np.hstack([np.asarray(cs["camera_intrinsic"]), np.zeros((3, 1))])
        written = np.asarray(Image.open(nusc.get_sample_data_path(cam_sd["token"])), np.float64)
        diffs = []
        for turn in (0.0, math.radians(3.0)):
            calib = KittiCalibration(P=np.stack([p] * 4), R0_rect=np.eye(3),
                                     Tr_velo_to_cam=(sim_to_cam @ _rot_z(turn))[:3])
            image = render_camera(world, Raycaster(world.vertices, world.triangles, nthreads=1), calib,
                                  writer.img_cfg, np.random.default_rng(0), light=light).image
            diffs.append(float(np.abs(image - written).mean()))
        assert diffs[0] < 5.0 and diffs[1] > 10.0, (scene["name"], diffs)


def test_a_finished_root_is_reused_and_other_settings_are_refused(sim_nusc_root, tmp_path):
    again = generate_nuscenes_dataset(sim_nusc_root, NuScenesSimConfig.tiny(seed=0), progress=False)
    assert again["reused"] and again["stats"]["samples"] == 6
    with pytest.raises(SimDatasetError, match="other settings"):
        generate_nuscenes_dataset(sim_nusc_root, NuScenesSimConfig.tiny(seed=1), progress=False)
    (tmp_path / "stuff.txt").write_text("x")
    with pytest.raises(SimDatasetError, match="not empty"):
        generate_nuscenes_dataset(tmp_path, NuScenesSimConfig.tiny(), progress=False)


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="cameras"):
        NuScenesSimConfig.tiny(cameras=("CAM_TOP",))
    with pytest.raises(ValueError, match="samples_per_scene"):
        NuScenesSimConfig.tiny(samples_per_scene=1)
    with pytest.raises(ValueError, match="ego_speed"):
        NuScenesSimConfig.tiny(ego_speed=(5.0, 2.0))


def test_make_sim_cli_writes_the_library_database(repo_root, tmp_path):
    args = ["--format", "nuscenes", "--tiny", "--scenes", "1", "--samples-per-scene", "2", "--sweeps-per-sample", "0",
            "--cameras", "CAM_FRONT", "--seed", "3", "--quiet"]
    out = subprocess.run([sys.executable, str(repo_root / "tools" / "make_sim.py"), "--out", str(tmp_path / "cli"),
                          *args], cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "1 scenes, 2 samples, 2 LiDAR sweeps, 2 images" in out.stdout
    config = NuScenesSimConfig.tiny(seed=3, num_scenes=1, samples_per_scene=2, sweeps_per_sample=0,
                                    cameras=("CAM_FRONT",))
    generate_nuscenes_dataset(tmp_path / "lib", config, progress=False)
    for table in ("sample_data", "sample_annotation", "ego_pose", "calibrated_sensor"):
        assert (tmp_path / "cli" / "v1.0-mini" / f"{table}.json").read_bytes() == \
            (tmp_path / "lib" / "v1.0-mini" / f"{table}.json").read_bytes()
    for sd in load_nuscenes(tmp_path / "lib", "v1.0-mini").sample_data:
        assert (tmp_path / "cli" / sd["filename"]).read_bytes() == (tmp_path / "lib" / sd["filename"]).read_bytes()


def test_make_sim_cli_rejects_bad_nuscenes_settings(repo_root, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("make_sim_tool", repo_root / "tools" / "make_sim.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    code = tool.main(["--out", str(tmp_path / "x"), "--format", "nuscenes", "--tiny", "--cameras", "CAM_TOP"])
    assert code == 2 and "CAM_TOP" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
