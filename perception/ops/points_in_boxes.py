"""Points inside oriented 3D boxes (LiDAR frame).

Boxes are ``(N, 7)`` ``[x, y, z, l, w, h, yaw]`` with the geometric centre and
yaw counter-clockwise about +z (see :mod:`perception.structures.frames`).  A
point is inside a box when its offset from the centre, turned into the box's
frame, satisfies ``|x| <= l/2 + eps``, ``|y| <= w/2 + eps`` and
``|z| <= h/2 + eps`` with ``eps = POINTS_IN_BOXES_EPS`` (0.1 mm): boundaries
are inclusive, and the margin absorbs float32 rounding so every
implementation agrees on points placed on a face.
"""
from __future__ import annotations

import torch

from ._extension import extension, use_extension

__all__ = ["POINTS_IN_BOXES_EPS", "points_in_boxes", "points_in_boxes_index",
           "points_in_boxes_reference", "points_in_boxes_index_reference"]

POINTS_IN_BOXES_EPS = 1e-4


def _prepare(points: torch.Tensor, boxes: torch.Tensor, op: str) -> tuple[torch.Tensor, torch.Tensor]:
    if points.dim() != 2 or points.shape[1] < 3:
        raise ValueError(f"{op}: points must be (P, >=3) [x, y, z, ...], got shape {tuple(points.shape)}")
    if boxes.dim() != 2 or boxes.shape[1] != 7:
        raise ValueError(f"{op}: boxes must be (N, 7) [x, y, z, l, w, h, yaw], got shape {tuple(boxes.shape)}")
    if points.device != boxes.device:
        raise ValueError(f"{op}: points ({points.device}) and boxes ({boxes.device}) must share a device")
    dtype = torch.promote_types(points.dtype, boxes.dtype)
    if dtype not in (torch.float32, torch.float64):
        dtype = torch.float32
    return points[:, :3].to(dtype).contiguous(), boxes.to(dtype).contiguous()


def points_in_boxes_reference(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """PyTorch reference of :func:`points_in_boxes` (same formula, same order of operations)."""
    d = points[:, None, :] - boxes[None, :, :3]  # (P, N, 3)
    cos, sin = torch.cos(boxes[:, 6]), torch.sin(boxes[:, 6])
    lx = d[..., 0] * cos + d[..., 1] * sin
    ly = d[..., 1] * cos - d[..., 0] * sin
    eps = POINTS_IN_BOXES_EPS
    return ((lx.abs() <= boxes[:, 3] / 2 + eps) & (ly.abs() <= boxes[:, 4] / 2 + eps)
            & (d[..., 2].abs() <= boxes[:, 5] / 2 + eps))


def points_in_boxes_index_reference(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """PyTorch reference of :func:`points_in_boxes_index`."""
    mask = points_in_boxes_reference(points, boxes)
    if mask.shape[1] == 0:
        return torch.full((mask.shape[0],), -1, dtype=torch.long, device=points.device)
    first = mask.to(torch.uint8).argmax(dim=1)  # argmax returns the first maximum
    return torch.where(mask.any(dim=1), first, torch.full_like(first, -1))


def points_in_boxes(points: torch.Tensor, boxes: torch.Tensor, *, impl: str = "auto") -> torch.Tensor:
    """``(P, N)`` bool: point ``p`` lies inside box ``n`` (boundary inclusive).

    Args:
        points: ``(P, >=3)`` float, LiDAR frame (columns past x, y, z are ignored).
        boxes: ``(N, 7)`` float ``[x, y, z, l, w, h, yaw]``, LiDAR frame, geometric centre.
        impl: ``"auto"``, ``"ext"`` or ``"reference"`` (see :mod:`perception.ops`).
    """
    points, boxes = _prepare(points, boxes, "points_in_boxes")
    if use_extension("points_in_boxes", impl, points, boxes):
        return extension().points_in_boxes(points, boxes, POINTS_IN_BOXES_EPS)
    return points_in_boxes_reference(points, boxes)


def points_in_boxes_index(points: torch.Tensor, boxes: torch.Tensor, *, impl: str = "auto") -> torch.Tensor:
    """``(P,)`` int64: index of the first box containing each point, ``-1`` if none."""
    points, boxes = _prepare(points, boxes, "points_in_boxes_index")
    if use_extension("points_in_boxes_index", impl, points, boxes):
        return extension().points_in_boxes_index(points, boxes, POINTS_IN_BOXES_EPS)
    return points_in_boxes_index_reference(points, boxes)
