"""KittiCalibration on the real KITTI frame and on bad files."""
import numpy as np
import pytest
import torch

from perception.datasets import kitti_io
from perception.structures import Boxes3D, CalibrationError, CoordFrame, KittiCalibration


@pytest.fixture(scope="module")
def real(kitti_real_root):
    root = kitti_real_root / "training"
    return dict(calib=KittiCalibration.from_file(root / "calib" / "000000.txt"),
                label=kitti_io.read_label(root / "label_2" / "000000.txt"),
                points=kitti_io.read_points(root / "velodyne" / "000000.bin"))


def test_real_label_corners_span_the_annotated_2d_box(real):
    # ../shared/README.md: the pedestrian's 3D corners through P2 span 710.4 144.0 820.3 307.6
    obj = real["label"][0]
    h, w, l = obj.dimensions
    x, y, z = obj.location
    cam = Boxes3D([[x, y - h / 2, z, l, w, h, obj.rotation_y]], frame=CoordFrame.CAMERA)
    uv, depth = real["calib"].camera_to_image(cam.corners()[0].double())
    span = [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]
    assert [float(v) for v in span] == pytest.approx([710.4, 144.0, 820.3, 307.6], abs=0.1)
    assert (depth > 0).all()
    x1, y1, x2, y2 = obj.bbox  # annotated box is tighter than the projected span
    assert span[0] <= x1 + 3 and span[1] <= y1 + 3 and span[2] >= x2 - 3 and span[3] >= y2 - 3


def test_real_points_land_in_front_of_the_camera(real):
    pts = real["points"]
    cam = real["calib"].lidar_to_camera(pts[:, :3])
    assert cam.dtype == np.float32 and cam.shape == (800, 3)
    assert (cam[:, 2] > 0).all()
    # camera z is roughly LiDAR x shifted by the 0.27 m mounting offset
    assert np.abs(cam[:, 2] - pts[:, 0]).max() < 1.0
    back = real["calib"].camera_to_lidar(cam.astype(np.float64))
    assert np.abs(back - pts[:, :3]).max() < 1e-4


def test_image_back_projection_inverts_projection(real):
    calib = real["calib"]
    pts = torch.tensor([[1.0, 0.5, 10.0], [-3.0, 1.2, 35.0], [0.0, 0.0, 5.0]], dtype=torch.float64)
    uv, _ = calib.camera_to_image(pts)
    back = calib.image_to_camera(uv, pts[:, 2])
    assert torch.allclose(back, pts, atol=1e-9)
    lid = calib.image_to_lidar(uv, pts[:, 2])
    assert torch.allclose(calib.lidar_to_camera(lid), pts, atol=1e-9)


def test_text_round_trip(real, tmp_path):
    path = tmp_path / "calib.txt"
    path.write_text(real["calib"].to_text())
    again = KittiCalibration.from_file(path)
    assert np.allclose(again.P, real["calib"].P) and np.allclose(again.Tr_velo_to_cam, real["calib"].Tr_velo_to_cam)


def test_missing_p2_names_the_file_and_field(real, tmp_path):
    text = "\n".join(line for line in real["calib"].to_text().splitlines() if not line.startswith("P2"))
    path = tmp_path / "no_p2.txt"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=r"no_p2\.txt: missing field\(s\) P2"):
        KittiCalibration.from_file(path)


def test_wrong_value_count_names_line(real, tmp_path):
    lines = real["calib"].to_text().splitlines()
    lines[4] = "R0_rect: 1 0 0 0 1 0 0 0"
    path = tmp_path / "short.txt"
    path.write_text("\n".join(lines))
    with pytest.raises(CalibrationError, match=r"short\.txt:5: field R0_rect: expected 9 numbers"):
        KittiCalibration.from_file(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="calibration file not found"):
        KittiCalibration.from_file(tmp_path / "nope.txt")


def test_clip_segment_to_near_plane_moves_the_hidden_end_onto_the_plane():
    from perception.structures import clip_segment_to_near_plane

    front, behind = np.array([1.0, 2.0, 4.0]), np.array([-1.0, 0.0, -4.0])
    p, q = clip_segment_to_near_plane(front, behind, 0.5)
    np.testing.assert_allclose(p, front)
    np.testing.assert_allclose(q, [0.125, 1.125, 0.5])      # 7/16 of the way from front to behind
    q2, p2 = clip_segment_to_near_plane(behind, front, 0.5)  # either end may be the hidden one
    np.testing.assert_allclose(q2, q)
    np.testing.assert_allclose(p2, p)
    both_in_front = clip_segment_to_near_plane(front, front + 1.0, 0.5)
    np.testing.assert_allclose(both_in_front[1], front + 1.0)
    assert clip_segment_to_near_plane(behind, behind - 1.0, 0.5) is None
