"""JSONL files of FusedDetections: exact round trip of every field, the line schema, bad files, atomic writes."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from perception.datasets.kitti_io import read_calib
from perception.fusion.formats.errors import FusedFormatError
from perception.fusion.formats.jsonl import read_jsonl, write_jsonl
from perception.structures import FusedDetections, PanopticResult, PanopticSegment, Sensor

NAN = float("nan")
H, W = 20, 30  # tiny image, so masks stay small


@pytest.fixture(scope="module")
def calib(kitti_real_root):
    return read_calib(kitti_real_root / "training" / "calib" / "000000.txt")


def _panoptic() -> PanopticResult:
    ids = np.zeros((H, W), np.int64)
    ids[2:9, 3:12] = 3     # the car's segment
    ids[10:18, 20:26] = 5  # the cyclist's segment
    ids[18:, :] = 7        # road (stuff), matched to no object
    ids[4, 5] = 0          # a hole, so the mask is not a rectangle
    segments = [PanopticSegment(id=3, category_id=3, isthing=True, area=int((ids == 3).sum()), score=0.875),
                PanopticSegment(id=5, category_id=2, isthing=True, area=int((ids == 5).sum()), score=0.5),
                PanopticSegment(id=7, category_id=149, isthing=False, area=int((ids == 7).sum()), score=0.25)]
    return PanopticResult(ids=ids, segments=segments)


def _frame(calib, frame_id: str = "000000") -> FusedDetections:
    """0: Car, LiDAR + camera + panoptic mask; 1: Pedestrian, LiDAR only, outside the image;
    2: Cyclist, camera only with a frustum and a mask."""
    return FusedDetections.build(
        frame_id=frame_id, calib=calib, image_size=(H, W), names=["Car", "Pedestrian", "Cyclist"],
        scores=torch.tensor([0.91, 0.42, 0.33]),
        sensors=torch.tensor([Sensor.LIDAR | Sensor.CAMERA | Sensor.PANOPTIC, Sensor.LIDAR,
                              Sensor.CAMERA | Sensor.PANOPTIC]),
        boxes3d=torch.tensor([[12.25, -1.5, -0.8, 3.9, 1.6, 1.5, 0.3],
                              [5.0, 9.75, -0.9, 0.8, 0.6, 1.7, -2.9],
                              [NAN] * 7]),
        boxes2d=torch.tensor([[3.0, 2.0, 12.0, 9.0], [NAN] * 4, [20.5, 10.0, 26.0, 18.0]]),
        lidar_scores=torch.tensor([0.8, 0.42, NAN]), camera_scores=torch.tensor([0.7, NAN, 0.33]),
        panoptic_ids=torch.tensor([3, 0, 5]), depth_range=torch.tensor([[NAN, NAN], [NAN, NAN], [8.0, 14.5]]),
        panoptic=_panoptic())


def _empty(calib, frame_id: str = "000001") -> FusedDetections:
    return FusedDetections.build(frame_id=frame_id, calib=calib, image_size=(H, W), names=[],
                                 scores=torch.zeros(0), sensors=torch.zeros(0, dtype=torch.int64))


def _assert_same_nan(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-4) -> None:
    assert a.shape == b.shape
    assert torch.equal(torch.isnan(a), torch.isnan(b)), (a, b)
    torch.testing.assert_close(a.double(), b.double(), atol=atol, rtol=0, equal_nan=True)


def _write_lines(path, lines) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def test_round_trip_every_field(tmp_path, calib):
    frame = _frame(calib)
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [frame, _empty(calib)])
    back = read_jsonl(path)
    assert len(back) == 2
    got = back[0]
    assert got.frame_id == "000000" and got.image_size == (H, W)
    assert got.names == ["Car", "Pedestrian", "Cyclist"]
    _assert_same_nan(got.scores, frame.scores)
    _assert_same_nan(got.boxes3d.tensor, frame.boxes3d.tensor)
    _assert_same_nan(got.boxes2d.tensor, frame.boxes2d.tensor)
    _assert_same_nan(got.lidar_scores, frame.lidar_scores)
    _assert_same_nan(got.camera_scores, frame.camera_scores)
    _assert_same_nan(got.depth_range, frame.depth_range)
    assert got.sensors.tolist() == [7, 1, 6]
    assert [got.sensor_names(i) for i in range(3)] == [["lidar", "camera", "panoptic"], ["lidar"],
                                                        ["camera", "panoptic"]]
    assert got.panoptic_ids.tolist() == [3, 0, 5]
    assert got.has_box3d.tolist() == [True, True, False] and got.has_box2d.tolist() == [True, False, True]
    # float32 values survive bit for bit (JSON keeps float64 reprs)
    assert torch.equal(got.boxes3d.tensor[:2], frame.boxes3d.tensor[:2])
    assert float(got.scores[0]) == float(frame.scores[0])
    # the calibration is rebuilt exactly, so LiDAR <-> camera geometry is unchanged
    for field in ("P", "R0_rect", "Tr_velo_to_cam", "Tr_imu_to_velo"):
        assert np.array_equal(getattr(got.calib, field), getattr(frame.calib, field)), field
    torch.testing.assert_close(got.frustum_corners(2), frame.frustum_corners(2), atol=1e-6, rtol=0)
    # masks round-trip exactly; categories and segment scores are kept
    assert got.mask(1) is None
    for i in (0, 2):
        assert np.array_equal(got.mask(i), frame.mask(i)), i
    assert not got.mask(0)[4, 5] and got.mask(0).sum() == 7 * 9 - 1
    segs = {s.id: s for s in got.panoptic.segments}
    assert sorted(segs) == [3, 5]
    assert (segs[3].category_id, segs[3].isthing, segs[3].score, segs[3].area) == (3, True, 0.875, 62)
    assert (segs[5].category_id, segs[5].score, segs[5].area) == (2, 0.5, 48)


def test_unmatched_segments_are_not_stored(tmp_path, calib):
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [_frame(calib)])
    got = read_jsonl(path)[0]
    assert got.panoptic.ids.shape == (H, W)
    assert set(np.unique(got.panoptic.ids).tolist()) == {0, 3, 5}  # the road (id 7) is gone
    assert (got.panoptic.ids[18:] == 0).all()


def test_line_schema(tmp_path, calib):
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [_frame(calib), _empty(calib)])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    line = json.loads(lines[0])
    assert line["version"] == 1 and line["frame_id"] == "000000" and line["image_size"] == [H, W]
    assert line["panoptic_size"] == [H, W]
    assert np.asarray(line["calib"]["P"]).shape == (4, 3, 4)
    car, ped, cyc = line["objects"]
    assert car["name"] == "Car" and car["sensors"] == ["lidar", "camera", "panoptic"]
    assert car["box3d"] == pytest.approx([12.25, -1.5, -0.8, 3.9, 1.6, 1.5, 0.3], abs=1e-6)
    assert car["depth_range"] is None and car["panoptic_id"] == 3
    assert car["segment"]["category_id"] == 3 and isinstance(car["segment"]["mask"]["counts"], str)
    assert car["segment"]["mask"]["size"] == [H, W]
    assert ped["box2d"] is None and ped["camera_score"] is None and ped["segment"] is None
    assert ped["lidar_score"] == pytest.approx(0.42, abs=1e-6)
    assert cyc["box3d"] is None and cyc["lidar_score"] is None
    assert cyc["depth_range"] == [8.0, 14.5]
    assert json.loads(lines[1])["objects"] == [] and json.loads(lines[1])["panoptic_size"] is None


def test_empty_frame_and_empty_file(tmp_path, calib):
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [_empty(calib)])
    (got,) = read_jsonl(path)
    assert len(got) == 0 and got.frame_id == "000001" and got.panoptic is None
    assert got.boxes3d.tensor.shape == (0, 7) and got.boxes2d.tensor.shape == (0, 4)
    assert got.depth_range.shape == (0, 2)
    write_jsonl(path, [])
    assert path.read_text() == "" and read_jsonl(path) == []


def test_frame_with_panoptic_but_no_matched_segment(tmp_path, calib):
    frame = _frame(calib).select([1])  # the pedestrian only: no segment of the frame is kept
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [frame])
    (got,) = read_jsonl(path)
    assert got.panoptic is not None and got.panoptic.segments == [] and (got.panoptic.ids == 0).all()


def test_truncated_line(tmp_path, calib):
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [_empty(calib), _frame(calib)])
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) - 40], encoding="utf-8")  # cut inside line 2
    with pytest.raises(FusedFormatError, match=r"fused\.jsonl:2: not valid JSON .*truncated"):
        read_jsonl(path)


def test_wrong_field_type(tmp_path, calib):
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [_empty(calib), _frame(calib)])
    lines = [json.loads(t) for t in path.read_text(encoding="utf-8").splitlines()]
    lines[1]["objects"][1]["box3d"] = "12 3 4"
    _write_lines(path, lines)
    with pytest.raises(FusedFormatError, match=r"fused\.jsonl:2: field 'objects\[1\]\.box3d': expected 7 finite "
                                               r"numbers \[x, y, z, l, w, h, yaw\] .* or null, got \"12 3 4\""):
        read_jsonl(path)
    lines[1]["objects"][1]["box3d"] = [1, 2, 3, 4, 5, 6]  # one number short
    _write_lines(path, lines)
    with pytest.raises(FusedFormatError, match=r":2: field 'objects\[1\]\.box3d': expected 7"):
        read_jsonl(path)


def test_missing_field(tmp_path, calib):
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [_frame(calib)])
    line = json.loads(path.read_text(encoding="utf-8"))
    del line["objects"][2]["score"]
    _write_lines(path, [line])
    with pytest.raises(FusedFormatError, match=r"fused\.jsonl:1: missing field 'objects\[2\]\.score' \(expected a "
                                               r"finite number"):
        read_jsonl(path)


@pytest.mark.parametrize("field, value, message", [
    ("sensors", ["lidar", "radar"], r"field 'objects\[0\]\.sensors': expected a non-empty list of distinct sensor"),
    ("sensors", [], r"field 'objects\[0\]\.sensors'"),
    ("score", float("nan"), r"field 'objects\[0\]\.score': expected a finite number .*, got NaN"),
    ("lidar_score", True, r"field 'objects\[0\]\.lidar_score': expected a finite number or null, got true"),
    ("panoptic_id", 0, r"field 'objects\[0\]\.segment': expected null \(panoptic_id is 0\)"),
])
def test_bad_object_fields(tmp_path, calib, field, value, message):
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [_frame(calib)])
    line = json.loads(path.read_text(encoding="utf-8"))
    line["objects"][0][field] = value
    _write_lines(path, [line])
    with pytest.raises(FusedFormatError, match=r"fused\.jsonl:1: " + message):
        read_jsonl(path)


def test_bad_mask_and_calib(tmp_path, calib):
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [_frame(calib)])
    good = json.loads(path.read_text(encoding="utf-8"))
    line = json.loads(json.dumps(good))
    line["objects"][0]["segment"]["mask"]["counts"] = "35"  # pycocotools would decode garbage here
    _write_lines(path, [line])
    with pytest.raises(FusedFormatError, match=r":1: field 'objects\[0\]\.segment\.mask\.counts': .*sum to"):
        read_jsonl(path)
    line = json.loads(json.dumps(good))
    line["objects"][0]["segment"]["mask"]["size"] = [H + 1, W]
    _write_lines(path, [line])
    with pytest.raises(FusedFormatError, match=r":1: field 'objects\[0\]\.segment\.mask': expected COCO RLE"):
        read_jsonl(path)
    line = json.loads(json.dumps(good))
    line["calib"]["R0_rect"] = [[1, 0, 0], [0, 1, 0]]
    _write_lines(path, [line])
    with pytest.raises(FusedFormatError, match=r":1: field 'calib\.R0_rect': expected a 3x3 matrix"):
        read_jsonl(path)


def test_failed_write_leaves_no_file(tmp_path, calib):
    bad = _frame(calib, "000002")
    bad.boxes3d.tensor[1, 3] = NAN  # partly NaN: neither a box nor "no box"
    path = tmp_path / "fused.jsonl"
    with pytest.raises(ValueError, match=r"'000002'.*object 1 field 'box3d' is partly NaN"):
        write_jsonl(path, [_frame(calib), bad])  # the first frame was already serialised
    assert list(tmp_path.iterdir()) == []
    write_jsonl(path, [_empty(calib)])
    before = path.read_bytes()
    with pytest.raises(ValueError):
        write_jsonl(path, [bad])
    assert path.read_bytes() == before  # an existing file is left untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fused.jsonl"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_yaw_and_scores_exact(tmp_path, calib):
    frame = _frame(calib)
    path = tmp_path / "fused.jsonl"
    write_jsonl(path, [frame])
    got = read_jsonl(path)[0]
    assert got.boxes3d.tensor[1, 6].item() == pytest.approx(-2.9, abs=1e-6)
    assert math.isnan(got.camera_scores[1].item()) and math.isnan(got.lidar_scores[2].item())
