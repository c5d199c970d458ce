"""points_in_boxes / points_in_boxes_index: known answers, edge cases, every implementation vs the reference."""
from __future__ import annotations

import math

import pytest
import torch

from perception.ops import (POINTS_IN_BOXES_EPS, points_in_boxes, points_in_boxes_index,
                            points_in_boxes_index_reference, points_in_boxes_reference)
from perception.structures import Boxes3D, CoordFrame


def random_scene(n_points: int, n_boxes: int, dtype: torch.dtype, device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    points = torch.rand(n_points, 3, generator=g, dtype=torch.float64) * torch.tensor([30.0, 30.0, 4.0])
    points -= torch.tensor([0.0, 15.0, 2.0])
    centre = torch.rand(n_boxes, 3, generator=g, dtype=torch.float64) * torch.tensor([30.0, 30.0, 2.0])
    centre -= torch.tensor([0.0, 15.0, 1.0])
    dims = torch.rand(n_boxes, 3, generator=g, dtype=torch.float64) * torch.tensor([6.0, 3.0, 2.0]) + 0.5
    yaw = (torch.rand(n_boxes, 1, generator=g, dtype=torch.float64) * 2 - 1) * math.pi
    boxes = torch.cat([centre, dims, yaw], dim=1)
    return points.to(device, dtype), boxes.to(device, dtype)


def test_known_answer_axis_aligned_and_rotated(device):
    boxes = torch.tensor([[1.0, 2.0, 0.5, 2.0, 1.0, 1.0, 0.0],           # x in [0, 2], y in [1.5, 2.5], z in [0, 1]
                          [1.0, 2.0, 0.5, 2.0, 1.0, 1.0, math.pi / 2]],  # heading +y: y in [1, 3], x in [0.5, 1.5]
                         device=device)
    points = torch.tensor([[1.0, 2.0, 0.5],    # centre: both
                           [1.9, 2.0, 0.5],    # only the first (x beyond the rotated box's half-width)
                           [1.0, 2.9, 0.5],    # only the second
                           [2.0, 2.5, 1.0],    # a corner of the first, boundary inclusive
                           [2.001, 2.0, 0.5],  # just outside the first, beyond eps
                           [1.0, 2.0, 1.2]],   # above both
                          device=device)
    expected = [[True, True], [True, False], [False, True], [True, False], [False, False], [False, False]]
    expected_index = [0, 0, 1, 0, -1, -1]
    for impl in ("reference", "auto"):
        assert points_in_boxes(points, boxes, impl=impl).tolist() == expected
        assert points_in_boxes_index(points, boxes, impl=impl).tolist() == expected_index


def test_ext_known_answer(device, ext):
    boxes = torch.tensor([[1.0, 2.0, 0.5, 2.0, 1.0, 1.0, 0.0], [1.0, 2.0, 0.5, 2.0, 1.0, 1.0, math.pi / 2]],
                         device=device)
    points = torch.tensor([[1.0, 2.0, 0.5], [1.9, 2.0, 0.5], [1.0, 2.9, 0.5], [2.0, 2.5, 1.0]], device=device)
    assert points_in_boxes(points, boxes, impl=ext).tolist() == [[True, True], [True, False], [False, True],
                                                                 [True, False]]
    assert points_in_boxes_index(points, boxes, impl=ext).tolist() == [0, 0, 1, 0]


def test_boundary_points_of_rotated_boxes_are_inside(device, ext):
    """Points placed exactly on faces (in float32, far from the origin) count as inside in every implementation."""
    _, boxes = random_scene(1, 20, torch.float64, "cpu", seed=3)
    boxes[:, 0] += 40.0  # large coordinates: float32 rounding of about 4e-6 m
    u = torch.tensor([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1], [1, 1, 1]],
                     dtype=torch.float64)
    c, s = torch.cos(boxes[:, 6]), torch.sin(boxes[:, 6])
    local = u[None] * boxes[:, None, 3:6] / 2  # (N, 7, 3) face centres and a corner
    world = torch.stack([local[..., 0] * c[:, None] - local[..., 1] * s[:, None],
                         local[..., 0] * s[:, None] + local[..., 1] * c[:, None], local[..., 2]], dim=-1)
    points = (world + boxes[:, None, :3]).reshape(-1, 3)
    owner = torch.arange(boxes.shape[0]).repeat_interleave(u.shape[0])
    for impl in ("reference", ext):
        mask = points_in_boxes(points.float().to(device), boxes.float().to(device), impl=impl).cpu()
        assert mask[torch.arange(points.shape[0]), owner].all(), impl


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ext_matches_reference(device, ext, dtype):
    points, boxes = random_scene(3000, 40, dtype, device)
    ref = points_in_boxes_reference(points, boxes)
    got = points_in_boxes(points, boxes, impl=ext)
    assert got.dtype == torch.bool and got.shape == (3000, 40) and got.device.type == device.type
    assert ref.any(), "the scene must have points inside boxes"
    if dtype == torch.float64:
        assert torch.equal(got, ref)
    else:  # cos/sin and FMA may differ in the last bit: only points within float32 noise of a face may differ
        diff = (got != ref).nonzero()
        p64, b64 = points.double(), boxes.double()
        for p, n in diff.tolist():
            d = p64[p] - b64[n, :3]
            cos, sin = torch.cos(b64[n, 6]), torch.sin(b64[n, 6])
            local = torch.stack([d[0] * cos + d[1] * sin, d[1] * cos - d[0] * sin, d[2]]).abs()
            margin = (local - b64[n, 3:6] / 2 - POINTS_IN_BOXES_EPS).abs().min()
            assert margin < 1e-5, (p, n, margin)
    index = points_in_boxes_index(points, boxes, impl=ext)
    expected = torch.where(got.any(1), got.to(torch.uint8).argmax(1), torch.full_like(index, -1))
    assert torch.equal(index, expected)
    assert torch.equal(points_in_boxes_index_reference(points, boxes), torch.where(
        ref.any(1), ref.to(torch.uint8).argmax(1), torch.full_like(index, -1)))


@pytest.mark.parametrize("n_points,n_boxes", [(0, 5), (5, 0), (0, 0), (1, 1)])
def test_empty_and_single(device, impls, n_points, n_boxes):
    points, boxes = random_scene(n_points, n_boxes, torch.float32, device)
    for impl in impls:
        mask = points_in_boxes(points, boxes, impl=impl)
        index = points_in_boxes_index(points, boxes, impl=impl)
        assert mask.shape == (n_points, n_boxes) and index.shape == (n_points,)
        assert torch.equal(mask, points_in_boxes_reference(points, boxes))
        assert torch.equal(index, points_in_boxes_index_reference(points, boxes))


def test_extra_columns_and_mixed_dtypes(device):
    points = torch.tensor([[0.5, 0.0, 0.0, 0.9], [3.0, 0.0, 0.0, 0.1]], device=device)  # x, y, z, intensity
    boxes = torch.tensor([[0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0]], dtype=torch.float64, device=device)
    assert points_in_boxes(points, boxes).tolist() == [[True], [False]]
    with pytest.raises(ValueError, match=r"\(N, 7\)"):
        points_in_boxes(points, boxes[:, :6])
    with pytest.raises(ValueError, match=r"\(P, >=3\)"):
        points_in_boxes(points[:, :2], boxes)


def test_boxes3d_points_inside_uses_the_op(device):
    boxes = Boxes3D(torch.tensor([[10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.3]], device=device), frame=CoordFrame.LIDAR)
    points = torch.tensor([[10.0, 0.0, 0.0, 1.0], [14.0, 0.0, 0.0, 1.0]], device=device)
    assert boxes.points_inside(points)[:, 0].tolist() == [True, False]
