"""kitti_io: readers on the real KITTI frame, writer round trips, and every malformed file named."""
import math

import numpy as np
import pytest
import torch

from perception.datasets import kitti_io
from perception.datasets.kitti_io import KittiFormatError, KittiObject
from perception.structures import Boxes2D, Boxes3D, CalibrationError, CoordFrame, ObjectAnnotations


# ------------------------------------------------------------------------------ real frame
def test_real_frame_files_parse(kitti_real_root):
    t = kitti_real_root / "training"
    pts = kitti_io.read_points(t / "velodyne" / "000000.bin")
    assert pts.shape == (800, 4) and pts.dtype == np.float32
    assert 11.0 < pts[:, 0].min() and pts[:, 0].max() < 73.0
    img = kitti_io.read_image(t / "image_2" / "000000.png")
    assert img.shape == (370, 1224, 3) and img.dtype == np.uint8
    (obj,) = kitti_io.read_label(t / "label_2" / "000000.txt")
    assert obj.type == "Pedestrian" and obj.occluded == 0
    assert obj.bbox == pytest.approx((712.40, 143.00, 810.73, 307.92))
    assert obj.dimensions == pytest.approx((1.89, 0.48, 1.20)) and obj.location == pytest.approx((1.84, 1.47, 8.41))
    calib = kitti_io.read_calib(t / "calib" / "000000.txt")
    assert calib.Tr_imu_to_velo is not None


def test_real_label_box_projects_onto_its_2d_box(kitti_real_root):
    t = kitti_real_root / "training"
    calib = kitti_io.read_calib(t / "calib" / "000000.txt")
    (obj,) = kitti_io.read_label(t / "label_2" / "000000.txt")
    h, w, l = obj.dimensions
    x, y, z = obj.location
    cam = Boxes3D(torch.tensor([[x, y - h / 2, z, l, w, h, obj.rotation_y]], dtype=torch.float64),
                  frame=CoordFrame.CAMERA)
    uv, depth = calib.camera_to_image(cam.corners().reshape(-1, 3))
    assert (depth > 0).all()
    span = [float(v) for v in (*uv.amin(0), *uv.amax(0))]
    assert span == pytest.approx([710.4, 144.0, 820.3, 307.6], abs=0.1)  # ../shared/README.md
    # The LiDAR-frame box (what objects_to_annotations gives) is upright in the LiDAR frame, which is tilted
    # by ~0.5 deg against the rectified camera, so its projected corners differ by < 1.5 px.
    ann = kitti_io.objects_to_annotations([obj], calib)
    uv, _ = calib.lidar_to_image(ann.boxes3d.to(torch.float64).corners().reshape(-1, 3))
    assert [float(v) for v in (*uv.amin(0), *uv.amax(0))] == pytest.approx(span, abs=1.5)
    # the geometric centre is exact; the LiDAR bottom face centre is h/2 down LiDAR z (tilt: ~1 cm off)
    centre_cam = calib.lidar_to_camera(ann.boxes3d.to(torch.float64).center)
    assert centre_cam[0].tolist() == pytest.approx([1.84, 1.47 - 1.89 / 2, 8.41], abs=1e-4)
    bottom_cam = calib.lidar_to_camera(ann.boxes3d.to(torch.float64).bottom_center)
    assert bottom_cam[0].tolist() == pytest.approx([1.84, 1.47, 8.41], abs=0.02)


def test_real_points_land_in_front_of_the_camera(kitti_real_root):
    t = kitti_real_root / "training"
    calib = kitti_io.read_calib(t / "calib" / "000000.txt")
    cam = calib.lidar_to_camera(kitti_io.read_points(t / "velodyne" / "000000.bin")[:, :3])
    assert (cam[:, 2] > 5).all()


# ------------------------------------------------------------------------------- points
def test_points_round_trip_and_num_features(tmp_path):
    pts = np.arange(40, dtype=np.float32).reshape(10, 4)
    kitti_io.write_points(tmp_path / "a.bin", pts)
    np.testing.assert_array_equal(kitti_io.read_points(tmp_path / "a.bin"), pts)
    np.testing.assert_array_equal(kitti_io.read_points(tmp_path / "a.bin", num_features=5), pts.reshape(8, 5))
    with pytest.raises(ValueError, match=r"\(P, C\)"):
        kitti_io.write_points(tmp_path / "b.bin", pts.reshape(-1))


def test_points_bad_size_missing_and_nan_are_named(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\0" * 17)
    with pytest.raises(KittiFormatError, match=r"bad\.bin: size 17 bytes is not a multiple of 16"):
        kitti_io.read_points(bad)
    with pytest.raises(KittiFormatError, match=r"missing\.bin: point cloud file not found"):
        kitti_io.read_points(tmp_path / "missing.bin")
    pts = np.zeros((3, 4), np.float32)
    pts[2, 1] = np.nan
    kitti_io.write_points(tmp_path / "nan.bin", pts)
    with pytest.raises(KittiFormatError, match=r"nan\.bin: 1 point\(s\) with NaN/inf values \(first at record 2\)"):
        kitti_io.read_points(tmp_path / "nan.bin")


# ------------------------------------------------------------------------------- labels
LINE = "Car 0.00 1 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59"


def test_label_parsing_skips_blank_lines_and_checks_fields(tmp_path):
    f = tmp_path / "l.txt"
    f.write_text(LINE + "\n\n" + LINE.replace("Car", "DontCare") + "\n")
    objs = kitti_io.read_label(f)
    assert [o.type for o in objs] == ["Car", "DontCare"] and objs[0].score is None
    f.write_text(LINE + "\n" + " ".join(LINE.split()[:14]) + "\n")
    with pytest.raises(KittiFormatError, match=r"l\.txt:2: expected 15 fields .* got 14 fields"):
        kitti_io.read_label(f)
    f.write_text(LINE + " 0.9\n")
    with pytest.raises(KittiFormatError, match=r"l\.txt:1: .*got 16 fields"):
        kitti_io.read_label(f)
    assert kitti_io.read_label(f, allow_score=True)[0].score == pytest.approx(0.9)
    f.write_text(LINE.replace("-1.58", "abc") + "\n")
    with pytest.raises(KittiFormatError, match=r"l\.txt:1: non-numeric"):
        kitti_io.read_label(f)
    f.write_text(LINE.replace(" 1 -1.58", " 5 -1.58") + "\n")
    with pytest.raises(KittiFormatError, match=r"l\.txt:1: field 'occluded'"):
        kitti_io.read_label(f)
    f.write_text(LINE.replace("1.65 1.67", "-1.65 1.67") + "\n")
    with pytest.raises(KittiFormatError, match=r"l\.txt:1: negative dimension"):
        kitti_io.read_label(f)
    f.write_text(LINE.replace("587.01 173.33 614.12", "614.12 173.33 587.01") + "\n")
    with pytest.raises(KittiFormatError, match=r"l\.txt:1: 2D box must have x1 <= x2"):
        kitti_io.read_label(f)
    with pytest.raises(KittiFormatError, match=r"nope\.txt: label file not found"):
        kitti_io.read_label(tmp_path / "nope.txt")


def test_label_round_trip_through_annotations(tmp_path, kitti_real_root):
    calib = kitti_io.read_calib(kitti_real_root / "training" / "calib" / "000000.txt")
    boxes = Boxes3D(torch.tensor([[10.0, 2.0, -0.9, 4.0, 1.8, 1.6, 0.3], [15.0, -3.0, -0.8, 0.8, 0.6, 1.8, -3.0]]),
                    frame=CoordFrame.LIDAR)
    ann = ObjectAnnotations(names=["Car", "Pedestrian"], boxes3d=boxes,
                            boxes2d=Boxes2D(torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])),
                            truncated=torch.tensor([0.0, 0.5]), occluded=torch.tensor([0, 2]),
                            alpha=torch.tensor([0.1, -0.2]), dontcare=Boxes2D(torch.tensor([[9.0, 9.0, 20.0, 30.0]])))
    kitti_io.write_label(tmp_path / "x.txt", kitti_io.annotations_to_objects(ann, calib))
    objs = kitti_io.read_label(tmp_path / "x.txt")
    assert [o.type for o in objs] == ["Car", "Pedestrian", "DontCare"]
    back = kitti_io.objects_to_annotations(objs, calib)
    assert back.names == ["Car", "Pedestrian"]
    torch.testing.assert_close(back.boxes3d.tensor[:, :6], boxes.tensor[:, :6], atol=2e-4, rtol=0)
    yaw_err = torch.remainder(back.boxes3d.yaw - boxes.yaw + math.pi, 2 * math.pi) - math.pi
    assert yaw_err.abs().max() < 2e-4
    torch.testing.assert_close(back.boxes2d.tensor, ann.boxes2d.tensor)
    torch.testing.assert_close(back.dontcare.tensor, ann.dontcare.tensor)
    assert back.occluded.tolist() == [0, 2] and back.truncated.tolist() == pytest.approx([0.0, 0.5])


def test_only_dontcare_gives_empty_annotations(kitti_real_root):
    calib = kitti_io.read_calib(kitti_real_root / "training" / "calib" / "000000.txt")
    obj = KittiObject("DontCare", -1, -1, -10, (1, 2, 3, 4), (-1, -1, -1), (-1000, -1000, -1000), -10)
    ann = kitti_io.objects_to_annotations([obj], calib)
    assert len(ann) == 0 and ann.dontcare.tensor.tolist() == [[1.0, 2.0, 3.0, 4.0]]


# ------------------------------------------------------------------------ other files
def test_calib_missing_p2_is_named(tmp_path, kitti_real_root):
    text = (kitti_real_root / "training" / "calib" / "000000.txt").read_text()
    f = tmp_path / "c.txt"
    f.write_text("".join(line + "\n" for line in text.splitlines() if not line.startswith("P2:")))
    with pytest.raises(CalibrationError, match=r"c\.txt: missing field\(s\) P2"):
        kitti_io.read_calib(f)
    f.write_text(text.replace("P2: 7.070493000000e+02 ", "P2: "))
    with pytest.raises(CalibrationError, match=r"c\.txt:3: field P2: expected 12 numbers"):
        kitti_io.read_calib(f)


def test_image_and_image_set_errors(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not a png")
    with pytest.raises(KittiFormatError, match=r"x\.png: not a readable image"):
        kitti_io.read_image(tmp_path / "x.png")
    with pytest.raises(KittiFormatError, match=r"y\.png: image file not found"):
        kitti_io.read_image(tmp_path / "y.png")
    kitti_io.write_image_set(tmp_path / "s.txt", ["000001", "000007"])
    assert kitti_io.read_image_set(tmp_path / "s.txt") == ["000001", "000007"]
    (tmp_path / "s.txt").write_text("000001\n\n000002 000003\n")
    with pytest.raises(KittiFormatError, match=r"s\.txt:3: expected one sample id per line"):
        kitti_io.read_image_set(tmp_path / "s.txt")
    with pytest.raises(KittiFormatError, match=r"t\.txt: image set file not found"):
        kitti_io.read_image_set(tmp_path / "t.txt")
