"""Known-answer tests for the exact rotated IoU."""
import math

import pytest
import torch

from perception.structures import (Boxes2D, Boxes3D, CoordFrame, box_iou_2d, box_iou_3d, box_iou_3d_aligned,
                                   box_iou_bev, box_iou_bev_aligned, polygon_intersection_area)

L = CoordFrame.LIDAR


def lidar(rows):
    return Boxes3D(torch.as_tensor(rows, dtype=torch.float64), frame=L)


def test_identical_boxes_have_iou_one():
    a = lidar([[1.0, 2.0, 0.5, 4.0, 2.0, 1.5, 0.3]])
    assert box_iou_bev(a, a).item() == pytest.approx(1.0, abs=1e-9)
    assert box_iou_3d(a, a).item() == pytest.approx(1.0, abs=1e-9)


def test_square_rotated_45_degrees_is_a_regular_octagon():
    # unit-side square vs its 45° rotation: intersection is a regular octagon of area 2(sqrt2 - 1)
    a = lidar([[0, 0, 0, 1, 1, 1, 0.0]])
    b = lidar([[0, 0, 0, 1, 1, 1, math.pi / 4]])
    inter = 2 * (math.sqrt(2) - 1)
    expected = inter / (2 - inter)
    assert box_iou_bev(a, b).item() == pytest.approx(expected, abs=1e-9)
    assert box_iou_3d(a, b).item() == pytest.approx(expected, abs=1e-9)


def test_half_shift_gives_one_third_and_vertical_overlap_multiplies():
    a = lidar([[0, 0, 0, 2, 2, 2, 0]])
    b = lidar([[1, 0, 0, 2, 2, 2, 0], [0, 0, 1, 2, 2, 2, 0], [1, 0, 1, 2, 2, 2, 0]])
    bev = box_iou_bev(a, b)[0]
    assert bev.tolist() == pytest.approx([1 / 3, 1.0, 1 / 3], abs=1e-9)
    iou3d = box_iou_3d(a, b)[0]
    # shift by half height: intersection 2*2*1 = 4, union 8 + 8 - 4
    assert iou3d.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 14], abs=1e-9)


def test_disjoint_touching_and_contained():
    a = lidar([[0, 0, 0, 2, 2, 2, 0]])
    b = lidar([[5, 5, 0, 1, 1, 1, 0.7], [2, 0, 0, 2, 2, 2, 0], [0, 0, 0, 1, 1, 1, 0.4]])
    iou = box_iou_bev(a, b)[0]
    assert iou[0].item() == 0.0
    assert iou[1].item() == pytest.approx(0.0, abs=1e-9)  # edges touch: zero area
    assert iou[2].item() == pytest.approx(1 / 4, abs=1e-9)  # contained: area ratio


def test_iou_is_symmetric_and_rotation_invariant():
    g = torch.Generator().manual_seed(0)
    n = 40
    t = torch.cat([torch.rand(n, 2, generator=g) * 6, torch.zeros(n, 1), 0.5 + torch.rand(n, 3, generator=g) * 3,
                   (torch.rand(n, 1, generator=g) - 0.5) * 2 * math.pi], dim=1).double()
    a, b = lidar(t[:20]), lidar(t[20:])
    iou = box_iou_3d(a, b)
    assert torch.allclose(iou, box_iou_3d(b, a).T, atol=1e-9)
    angle = 0.83
    iou_rot = box_iou_3d(a.rotate_vertical(angle), b.rotate_vertical(angle))
    assert torch.allclose(iou, iou_rot, atol=1e-9)
    assert ((iou >= 0) & (iou <= 1 + 1e-9)).all()
    assert torch.allclose(box_iou_3d_aligned(a, b), iou.diagonal(), atol=1e-12)
    assert torch.allclose(box_iou_bev_aligned(a, b), box_iou_bev(a, b).diagonal(), atol=1e-12)


def test_polygon_area_matches_monte_carlo_estimate():
    g = torch.Generator().manual_seed(1)
    a = lidar([[0.3, -0.2, 0, 3.0, 1.2, 1, 0.4]])
    b = lidar([[-0.1, 0.4, 0, 2.5, 1.8, 1, -0.9]])
    exact = polygon_intersection_area(a.bev_corners(), b.bev_corners()).item()
    pts = (torch.rand(400_000, 3, generator=g, dtype=torch.float64) - 0.5) * 5
    pts[:, 2] = 0
    inside = _inside_box(pts, a.tensor[0]) & _inside_box(pts, b.tensor[0])
    estimate = inside.double().mean().item() * 25
    assert exact == pytest.approx(estimate, rel=0.02)


def _inside_box(pts, box):
    c, s = math.cos(box[6]), math.sin(box[6])
    dx, dy = pts[:, 0] - box[0], pts[:, 1] - box[1]
    u, v = c * dx + s * dy, -s * dx + c * dy
    return (u.abs() <= box[3] / 2) & (v.abs() <= box[4] / 2)


def test_camera_frame_iou_uses_xz_plane_and_y_height():
    cam = CoordFrame.CAMERA
    a = Boxes3D(torch.tensor([[0, 0, 10, 4, 2, 1.5, 0]], dtype=torch.float64), frame=cam)
    b = Boxes3D(torch.tensor([[0, 0.75, 10, 4, 2, 1.5, 0], [2, 0, 10, 4, 2, 1.5, 0]], dtype=torch.float64), frame=cam)
    assert box_iou_bev(a, b)[0].tolist() == pytest.approx([1.0, 1 / 3], abs=1e-9)
    assert box_iou_3d(a, b)[0, 0].item() == pytest.approx(1 / 3, abs=1e-9)


def test_mixed_frames_are_rejected():
    a = lidar([[0, 0, 0, 1, 1, 1, 0]])
    b = Boxes3D(a.tensor, frame=CoordFrame.CAMERA)
    with pytest.raises(ValueError, match="one frame"):
        box_iou_bev(a, b)


def test_empty_inputs():
    a = lidar([[0, 0, 0, 1, 1, 1, 0]])
    e = Boxes3D.empty(frame=L, dtype=torch.float64)
    assert box_iou_3d(a, e).shape == (1, 0)
    assert box_iou_bev(e, a).shape == (0, 1)


def test_iou_2d_known_answer():
    a = Boxes2D([[0, 0, 10, 10]])
    b = Boxes2D([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    assert box_iou_2d(a, b)[0].tolist() == pytest.approx([1 / 3, 1.0, 0.0])
