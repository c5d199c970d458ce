"""Boxes3D: layout, corners, frame conversion and augmentations."""
import math

import numpy as np
import pytest
import torch

from perception.structures import Boxes3D, CoordFrame, KittiCalibration, wrap_angle


def test_shape_is_validated():
    with pytest.raises(ValueError, match=r"\(N, 7\)"):
        Boxes3D(torch.zeros(3, 6), frame=CoordFrame.LIDAR)
    assert len(Boxes3D([], frame=CoordFrame.LIDAR)) == 0


def test_lidar_corners_known_answer():
    b = Boxes3D([[10.0, 2.0, -1.0, 4.0, 2.0, 1.0, math.pi / 2]], frame=CoordFrame.LIDAR)
    c = b.corners()[0]
    # heading +y: front-left corner is at (x - w/2, y + l/2, bottom)
    assert c[0].tolist() == pytest.approx([9.0, 4.0, -1.5], abs=1e-6)
    assert c[6].tolist() == pytest.approx([11.0, 0.0, -0.5], abs=1e-6)  # rear-right top
    assert b.bottom_center[0].tolist() == pytest.approx([10.0, 2.0, -1.5])


def test_camera_corners_follow_kitti_rotation_y():
    # rotation_y = 0: heading along camera +x (right); y is down so the bottom is at y + h/2
    b = Boxes3D([[0.0, 1.0, 10.0, 4.0, 2.0, 1.5, 0.0]], frame=CoordFrame.CAMERA)
    c = b.corners()[0]
    assert c[0].tolist() == pytest.approx([2.0, 1.75, 11.0], abs=1e-6)  # front-left: +x, left = +z
    assert b.bottom_center[0].tolist() == pytest.approx([0.0, 1.75, 10.0])


def test_yaw_conversion_matches_kitti_rule_for_axis_aligned_calib():
    calib = KittiCalibration(P=np.tile(np.eye(3, 4), (4, 1, 1)), R0_rect=np.eye(3),
                             Tr_velo_to_cam=np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]], float))
    for ry in np.linspace(-3, 3, 13):
        cam = Boxes3D([[1.0, 1.5, 20.0, 4, 2, 1.5, ry]], frame=CoordFrame.CAMERA)
        lid = cam.convert_to(CoordFrame.LIDAR, calib)
        assert lid.yaw.item() == pytest.approx(float(wrap_angle(-ry - math.pi / 2)), abs=1e-6)
        assert lid.center[0].tolist() == pytest.approx([20.0, -1.0, -1.5], abs=1e-6)
        # the same physical corners in both frames
        assert torch.allclose(calib.lidar_to_camera(lid.corners()[0].double()), cam.corners()[0].double(), atol=1e-5)


def test_round_trip_through_real_calibration(kitti_real_root):
    calib = KittiCalibration.from_file(kitti_real_root / "training" / "calib" / "000000.txt")
    g = torch.Generator().manual_seed(0)
    t = torch.cat([torch.rand(20, 3, generator=g) * 20, 1 + torch.rand(20, 3, generator=g),
                   (torch.rand(20, 1, generator=g) - 0.5) * 6], 1).double()
    lid = Boxes3D(t, frame=CoordFrame.LIDAR)
    back = lid.convert_to(CoordFrame.CAMERA, calib).convert_to(CoordFrame.LIDAR, calib)
    assert torch.allclose(back.tensor[:, :6], t[:, :6], atol=1e-9)
    # boxes stay upright in both frames, so the ~0.5 deg tilt between the real LiDAR and camera
    # costs a yaw round-trip error of order tilt^2 (about 1e-4 rad), never more
    assert wrap_angle(back.yaw - lid.yaw).abs().max() < 3e-4


def test_rotation_and_flip_keep_geometry_consistent():
    b = Boxes3D([[10.0, 2.0, -1.0, 4.0, 2.0, 1.0, 0.3]], frame=CoordFrame.LIDAR)
    r = b.rotate_vertical(math.pi / 2)
    assert r.center[0].tolist() == pytest.approx([-2.0, 10.0, -1.0], abs=1e-6)
    rot = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    assert torch.allclose(r.corners()[0], b.corners()[0] @ rot.T, atol=1e-5)
    f = b.flip_bev("y")
    mirrored = b.corners()[0] * torch.tensor([1.0, -1, 1])
    # mirroring reverses the corner order's handedness; compare as sets
    assert torch.cdist(f.corners()[0], mirrored).min(dim=1).values.max() < 1e-5
    fx = b.flip_bev("x")
    mirrored = b.corners()[0] * torch.tensor([-1.0, 1, 1])
    assert torch.cdist(fx.corners()[0], mirrored).min(dim=1).values.max() < 1e-5


def test_indexing_and_cat():
    b = Boxes3D(torch.arange(21, dtype=torch.float32).view(3, 7), frame=CoordFrame.LIDAR)
    assert len(b[torch.tensor([True, False, True])]) == 2
    assert b[1].tensor[0, 0].item() == 7
    assert len(Boxes3D.cat([b, b])) == 6
    with pytest.raises(ValueError, match="different frames"):
        Boxes3D.cat([b, Boxes3D(b.tensor, frame=CoordFrame.CAMERA)])
