"""nuScenes submissions of FusedDetections: boxes through the global frame and back, left-out camera-only
objects, bad files, atomic writes."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from perception.datasets.kitti_io import read_calib
from perception.evaluation.nuscenes.submission import SubmissionError
from perception.fusion.formats.errors import FusedFormatError
from perception.fusion.formats.nuscenes import (SIM_TO_NUSCENES, fused_to_submission_results, read_nuscenes,
                                                write_nuscenes)
from perception.structures import FusedDetections, PanopticResult, PanopticSegment, Sensor, wrap_angle

NAN = float("nan")
H, W = 20, 30


@pytest.fixture(scope="module")
def calib(kitti_real_root):
    return read_calib(kitti_real_root / "training" / "calib" / "000000.txt")


def _lidar2global(yaw: float, roll: float, translation) -> np.ndarray:
    """A non-trivial LiDAR -> global transform: roll about x, then yaw about z, then a translation."""
    cy, sy, cr, sr = math.cos(yaw), math.sin(yaw), math.cos(roll), math.sin(roll)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    m = np.eye(4)
    m[:3, :3] = rz @ rx
    m[:3, 3] = translation
    return m


L2G = [_lidar2global(2.4, 0.03, [612.5, 1625.25, 1.8]), _lidar2global(-0.7, 0.0, [-310.0, 45.0, 0.5])]


def _frame(calib, frame_id: str = "000000") -> FusedDetections:
    """0: Car, LiDAR + camera + mask; 1: Pedestrian, LiDAR only outside the image (yaw near -pi);
    2: Cyclist, camera only with a frustum; 3: Cyclist, LiDAR only."""
    ids = np.zeros((H, W), np.int64)
    ids[2:9, 3:12] = 3
    panoptic = PanopticResult(ids=ids, segments=[PanopticSegment(id=3, category_id=3, isthing=True,
                                                                 area=int((ids == 3).sum()), score=0.9)])
    return FusedDetections.build(
        frame_id=frame_id, calib=calib, image_size=(H, W), names=["Car", "Pedestrian", "Cyclist", "Cyclist"],
        scores=torch.tensor([0.91, 0.42, 0.33, 0.6]),
        sensors=torch.tensor([Sensor.LIDAR | Sensor.CAMERA | Sensor.PANOPTIC, Sensor.LIDAR, Sensor.CAMERA,
                              Sensor.LIDAR]),
        boxes3d=torch.tensor([[12.25, -1.5, -0.8, 3.9, 1.6, 1.5, 0.3],
                              [5.0, 9.75, -0.9, 0.8, 0.6, 1.7, -3.1],
                              [NAN] * 7,
                              [30.0, 4.0, -1.0, 1.8, 0.5, 1.7, 1.6]]),
        boxes2d=torch.tensor([[3.0, 2.0, 12.0, 9.0], [NAN] * 4, [20.5, 10.0, 26.0, 18.0], [NAN] * 4]),
        lidar_scores=torch.tensor([0.8, 0.42, NAN, 0.6]), camera_scores=torch.tensor([0.7, NAN, 0.33, NAN]),
        panoptic_ids=torch.tensor([3, 0, 0, 0]),
        depth_range=torch.tensor([[NAN, NAN], [NAN, NAN], [8.0, 14.5], [NAN, NAN]]), panoptic=panoptic)


def _empty(calib, frame_id: str = "000001") -> FusedDetections:
    return FusedDetections.build(frame_id=frame_id, calib=calib, image_size=(H, W), names=[],
                                 scores=torch.zeros(0), sensors=torch.zeros(0, dtype=torch.int64))


def _write(tmp_path, calib, **kwargs):
    path = tmp_path / "submission.json"
    left_out = write_nuscenes(path, [_frame(calib), _empty(calib)], sample_tokens=["tok_a", "tok_b"],
                              lidar2global=L2G, **kwargs)
    return path, left_out


def _read(path, calib):
    return read_nuscenes(path, lidar2global={"tok_a": L2G[0], "tok_b": L2G[1]},
                         calibs={"tok_a": calib, "tok_b": calib}, image_sizes={"tok_a": (H, W), "tok_b": (H, W)})


def test_round_trip_through_global_frame(tmp_path, calib):
    frame = _frame(calib)
    path, left_out = _write(tmp_path, calib)
    assert left_out == 1  # the camera-only cyclist
    back = _read(path, calib)
    assert list(back) == ["tok_a", "tok_b"]
    got = back["tok_a"]
    assert got.frame_id == "tok_a" and got.image_size == (H, W) and got.calib is calib
    assert got.names == ["Car", "Pedestrian", "Cyclist"]
    kept = [0, 1, 3]
    want = frame.boxes3d.tensor[kept].double()
    box = got.boxes3d.tensor.double()
    torch.testing.assert_close(box[:, :6], want[:, :6], atol=1e-4, rtol=0)
    dyaw = wrap_angle(box[:, 6] - want[:, 6])
    assert dyaw.abs().max().item() < 1e-4, dyaw
    assert ((box[:, 6] >= -math.pi) & (box[:, 6] <= math.pi)).all()
    torch.testing.assert_close(got.scores.double(), frame.scores[kept].double(), atol=1e-6, rtol=0)
    assert got.sensors.tolist() == [int(Sensor.LIDAR)] * 3
    assert torch.isnan(got.boxes2d.tensor).all() and torch.isnan(got.depth_range).all()
    assert torch.isnan(got.lidar_scores).all() and torch.isnan(got.camera_scores).all()
    assert got.has_box3d.all() and not got.has_box2d.any()
    assert got.panoptic is None and got.panoptic_ids.tolist() == [0, 0, 0]
    assert len(back["tok_b"]) == 0 and back["tok_b"].boxes3d.tensor.shape == (0, 7)


def test_submission_contents(tmp_path, calib):
    path, _ = _write(tmp_path, calib, use_camera=False)
    sub = json.loads(path.read_text(encoding="utf-8"))
    assert sub["meta"] == {"use_camera": False, "use_lidar": True, "use_radar": False, "use_map": False,
                           "use_external": False}
    assert sub["results"]["tok_b"] == []
    car, ped, cyc = sub["results"]["tok_a"]
    assert [b["detection_name"] for b in (car, ped, cyc)] == ["car", "pedestrian", "bicycle"]
    assert car["size"] == pytest.approx([1.6, 3.9, 1.5], abs=1e-6)  # [w, l, h]
    centre = L2G[0][:3, :3] @ np.array([12.25, -1.5, -0.8]) + L2G[0][:3, 3]
    assert car["translation"] == pytest.approx(centre.tolist(), abs=1e-4)
    assert np.linalg.norm(car["rotation"]) == pytest.approx(1.0, abs=1e-9)
    assert car["velocity"] == [0.0, 0.0] and car["attribute_name"] == "vehicle.parked"
    assert cyc["detection_score"] == pytest.approx(0.6, abs=1e-6)


def test_fused_to_submission_results_leaves_out_camera_only(calib):
    frame = _frame(calib)
    out = fused_to_submission_results(frame, "tok_a", L2G[0], SIM_TO_NUSCENES)
    assert len(frame) - len(out) == 1
    assert [b["sample_token"] for b in out] == ["tok_a"] * 3
    camera_only = frame.select([2])
    assert fused_to_submission_results(camera_only, "tok_c", np.eye(4)) == []
    assert fused_to_submission_results(_empty(calib), "tok_d", np.eye(4)) == []


def test_left_out_count_over_frames(tmp_path, calib):
    path = tmp_path / "s.json"
    frames = [_frame(calib, "a"), _frame(calib, "b").select([2]), _empty(calib)]
    assert write_nuscenes(path, frames, sample_tokens=["a", "b", "c"], lidar2global=[np.eye(4)] * 3) == 2
    assert json.loads(path.read_text())["results"]["b"] == []


def test_unmapped_class_and_mismatched_lengths(tmp_path, calib):
    path = tmp_path / "s.json"
    with pytest.raises(ValueError, match=r"object 0 has class 'Car', which class_map does not map"):
        write_nuscenes(path, [_frame(calib)], sample_tokens=["a"], lidar2global=[np.eye(4)],
                       class_map={"Pedestrian": "pedestrian", "Cyclist": "bicycle"})
    with pytest.raises(ValueError, match=r"1 results, 2 sample_tokens and 1 lidar2global"):
        write_nuscenes(path, [_frame(calib)], sample_tokens=["a", "b"], lidar2global=[np.eye(4)])
    with pytest.raises(ValueError, match=r"sample token 'a' is given for more than one frame"):
        write_nuscenes(path, [_frame(calib), _empty(calib)], sample_tokens=["a", "a"], lidar2global=[np.eye(4)] * 2)
    assert not path.exists()


def test_failed_write_leaves_no_file(tmp_path, calib):
    bad = _frame(calib)
    bad.boxes3d.tensor[3, 4] = -0.5  # negative width: the submission is invalid
    path = tmp_path / "s.json"
    with pytest.raises(SubmissionError, match=r"\['tok_a'\]\[2\]\['size'\]: expected 3 positive"):
        write_nuscenes(path, [bad], sample_tokens=["tok_a"], lidar2global=[L2G[0]])
    assert list(tmp_path.iterdir()) == []


def test_corrupt_submission(tmp_path, calib):
    path, _ = _write(tmp_path, calib)
    sub = json.loads(path.read_text(encoding="utf-8"))
    sub["results"]["tok_a"][1]["size"] = "big"
    path.write_text(json.dumps(sub), encoding="utf-8")
    with pytest.raises(FusedFormatError, match=r"submission\.json\['results'\]\['tok_a'\]\[1\]\['size'\]: "
                                               r"expected 3 positive finite numbers"):
        _read(path, calib)
    del sub["results"]["tok_a"][1]["size"]
    path.write_text(json.dumps(sub), encoding="utf-8")
    with pytest.raises(FusedFormatError, match=r"\['tok_a'\]\[1\]: missing field\(s\) size"):
        _read(path, calib)
    text = json.dumps(sub)
    path.write_text(text[: len(text) // 2], encoding="utf-8")  # truncated
    with pytest.raises(FusedFormatError, match=r"submission\.json: not valid JSON \(line 1, column"):
        _read(path, calib)


def test_reader_needs_every_sample_and_a_class_inverse(tmp_path, calib):
    path, _ = _write(tmp_path, calib)
    with pytest.raises(FusedFormatError, match=r"sample token 'tok_b' has no entry in calibs"):
        read_nuscenes(path, lidar2global={"tok_a": L2G[0], "tok_b": L2G[1]}, calibs={"tok_a": calib},
                      image_sizes={"tok_a": (H, W), "tok_b": (H, W)})
    with pytest.raises(FusedFormatError, match=r"\['tok_a'\]\[2\]\['detection_name'\]: 'bicycle' is not mapped"):
        read_nuscenes(path, lidar2global={"tok_a": L2G[0], "tok_b": L2G[1]}, calibs={"tok_a": calib, "tok_b": calib},
                      image_sizes={"tok_a": (H, W), "tok_b": (H, W)},
                      class_map={"Car": "car", "Pedestrian": "pedestrian"})
    with pytest.raises(ValueError, match=r"one-to-one"):
        read_nuscenes(path, lidar2global={}, calibs={}, image_sizes={}, class_map={"Car": "car", "Van": "car"})
