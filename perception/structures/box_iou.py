"""Exact IoU of oriented boxes: rotated BEV and 3D, pairwise and aligned.

The BEV intersection of two rectangles is their exact convex intersection
polygon.  It is built as the convex hull of (a) each rectangle's corners that
lie inside the other and (b) the edge-edge crossing points, which is the same
polygon Sutherland-Hodgman clipping produces; its area comes from the
shoelace formula.  No sampling or axis-aligned approximation is involved.
Everything is vectorised over box pairs in PyTorch and runs on any device.
"""
from __future__ import annotations

import torch

from .boxes2d import Boxes2D
from .boxes3d import Boxes3D

__all__ = [
    "polygon_intersection_area", "bev_intersection_area",
    "box_iou_bev", "box_iou_3d", "box_iou_bev_aligned", "box_iou_3d_aligned", "box_iou_2d",
]

_EPS = 1e-9


def _cross(o: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """z of (a - o) x (b - o); broadcasting over leading dims, last dim 2."""
    return (a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1]) - (a[..., 1] - o[..., 1]) * (b[..., 0] - o[..., 0])


def _inside_convex(points: torch.Tensor, poly: torch.Tensor) -> torch.Tensor:
    """``points (K, P, 2)`` inside-or-on convex quads ``poly (K, 4, 2)`` of any winding."""
    nxt = poly.roll(-1, dims=1)
    # cross[k, p, e]: side of point p w.r.t. edge e of polygon k
    cr = _cross(poly[:, None, :, :], nxt[:, None, :, :], points[:, :, None, :])
    scale = (nxt - poly).norm(dim=-1).amax(dim=1).clamp_min(1e-12)[:, None, None]
    tol = 1e-9 * scale * scale
    return (cr >= -tol).all(dim=2) | (cr <= tol).all(dim=2)


def polygon_intersection_area(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact intersection area of convex quadrilaterals, pair by pair.

    Args:
        a, b: ``(K, 4, 2)`` vertices in order (either winding).
    Returns:
        ``(K,)`` intersection areas (0 for disjoint quads).
    """
    if a.shape != b.shape or a.dim() != 3 or a.shape[1:] != (4, 2):
        raise ValueError(f"expected two (K, 4, 2) tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
    k = a.shape[0]
    if k == 0:
        return a.new_zeros(0)
    # (a) corners inside the other quad
    a_in_b = _inside_convex(a, b)
    b_in_a = _inside_convex(b, a)
    # (b) edge crossings: edge i of a with edge j of b
    p, r = a[:, :, None, :], (a.roll(-1, 1) - a)[:, :, None, :]
    q, s = b[:, None, :, :], (b.roll(-1, 1) - b)[:, None, :, :]
    denom = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]  # (K,4,4)
    qp = q - p
    t = (qp[..., 0] * s[..., 1] - qp[..., 1] * s[..., 0]) / torch.where(denom.abs() > _EPS, denom, torch.ones_like(denom))
    u = (qp[..., 0] * r[..., 1] - qp[..., 1] * r[..., 0]) / torch.where(denom.abs() > _EPS, denom, torch.ones_like(denom))
    hit = (denom.abs() > _EPS) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    cross_pts = (p + t[..., None] * r).reshape(k, 16, 2)

    pts = torch.cat([a, b, cross_pts], dim=1)  # (K, 24, 2)
    valid = torch.cat([a_in_b, b_in_a, hit.reshape(k, 16)], dim=1)
    n_valid = valid.sum(dim=1)
    w = valid.to(pts.dtype)
    centroid = (pts * w[..., None]).sum(1) / n_valid.clamp_min(1)[:, None].to(pts.dtype)
    ang = torch.atan2(pts[..., 1] - centroid[:, None, 1], pts[..., 0] - centroid[:, None, 0])
    ang = torch.where(valid, ang, torch.full_like(ang, float("inf")))
    order = ang.argsort(dim=1)
    pts = torch.gather(pts, 1, order[..., None].expand(-1, -1, 2))
    valid = torch.gather(valid, 1, order)
    # invalid slots (sorted to the end) repeat the first valid point: their
    # shoelace terms are zero except the closing edge back to the start.
    pts = torch.where(valid[..., None], pts, pts[:, :1, :].expand_as(pts))
    nxt = pts.roll(-1, dims=1)
    area = 0.5 * (pts[..., 0] * nxt[..., 1] - pts[..., 1] * nxt[..., 0]).sum(dim=1).abs()
    return torch.where(n_valid >= 3, area, torch.zeros_like(area))


def _check_pair(a: Boxes3D, b: Boxes3D) -> None:
    if a.frame is not b.frame:
        raise ValueError(f"IoU needs boxes in one frame, got {a.frame.value} and {b.frame.value}")


def _bev_area(boxes: Boxes3D) -> torch.Tensor:
    return boxes.dims[:, 0] * boxes.dims[:, 1]


def _vertical_overlap(a: Boxes3D, b: Boxes3D, pairwise: bool) -> torch.Tensor:
    ax = a.frame.vertical_axis
    a_lo, a_hi = a.center[:, ax] - a.dims[:, 2] / 2, a.center[:, ax] + a.dims[:, 2] / 2
    b_lo, b_hi = b.center[:, ax] - b.dims[:, 2] / 2, b.center[:, ax] + b.dims[:, 2] / 2
    if pairwise:
        a_lo, a_hi = a_lo[:, None], a_hi[:, None]
        b_lo, b_hi = b_lo[None, :], b_hi[None, :]
    return (torch.minimum(a_hi, b_hi) - torch.maximum(a_lo, b_lo)).clamp_min(0)


def bev_intersection_area(a: Boxes3D, b: Boxes3D) -> torch.Tensor:
    """``(N, M)`` exact rotated BEV intersection areas.

    Pairs whose bounding circles cannot touch are skipped (area 0) before the
    polygon step, so sparse scenes cost far less than ``N * M`` clippings.
    """
    _check_pair(a, b)
    n, m = len(a), len(b)
    out = a.tensor.new_zeros(n, m)
    if n == 0 or m == 0:
        return out
    a0, a1 = a.frame.bev_axes
    ca, cb = a.center[:, [a0, a1]], b.center[:, [a0, a1]]
    ra = a.dims[:, :2].norm(dim=1) / 2
    rb = b.dims[:, :2].norm(dim=1) / 2
    near = torch.cdist(ca, cb) <= (ra[:, None] + rb[None, :]) * (1 + 1e-6)
    ia, ib = near.nonzero(as_tuple=True)
    if ia.numel():
        out[ia, ib] = polygon_intersection_area(a.bev_corners()[ia], b.bev_corners()[ib])
    return out


def box_iou_bev(a: Boxes3D, b: Boxes3D) -> torch.Tensor:
    """``(N, M)`` rotated BEV IoU."""
    inter = bev_intersection_area(a, b)
    union = _bev_area(a)[:, None] + _bev_area(b)[None, :] - inter
    return inter / union.clamp_min(_EPS)


def box_iou_3d(a: Boxes3D, b: Boxes3D) -> torch.Tensor:
    """``(N, M)`` rotated 3D IoU (BEV polygon x vertical overlap)."""
    inter = bev_intersection_area(a, b) * _vertical_overlap(a, b, pairwise=True)
    union = a.volume[:, None] + b.volume[None, :] - inter
    return inter / union.clamp_min(_EPS)


def box_iou_bev_aligned(a: Boxes3D, b: Boxes3D) -> torch.Tensor:
    """``(N,)`` rotated BEV IoU of ``a[i]`` with ``b[i]``."""
    _check_pair(a, b)
    if len(a) != len(b):
        raise ValueError(f"aligned IoU needs equal counts, got {len(a)} and {len(b)}")
    inter = polygon_intersection_area(a.bev_corners(), b.bev_corners())
    return inter / (_bev_area(a) + _bev_area(b) - inter).clamp_min(_EPS)


def box_iou_3d_aligned(a: Boxes3D, b: Boxes3D) -> torch.Tensor:
    """``(N,)`` rotated 3D IoU of ``a[i]`` with ``b[i]``."""
    _check_pair(a, b)
    if len(a) != len(b):
        raise ValueError(f"aligned IoU needs equal counts, got {len(a)} and {len(b)}")
    inter = polygon_intersection_area(a.bev_corners(), b.bev_corners()) * _vertical_overlap(a, b, pairwise=False)
    return inter / (a.volume + b.volume - inter).clamp_min(_EPS)


def box_iou_2d(a: Boxes2D, b: Boxes2D) -> torch.Tensor:
    """``(N, M)`` IoU of axis-aligned image boxes."""
    ta, tb = a.tensor, b.tensor
    lt = torch.maximum(ta[:, None, :2], tb[None, :, :2])
    rb = torch.minimum(ta[:, None, 2:], tb[None, :, 2:])
    inter = (rb - lt).clamp_min(0).prod(dim=2)
    union = a.area()[:, None] + b.area()[None, :] - inter
    return inter / union.clamp_min(_EPS)
