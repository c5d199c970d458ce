"""Overlaps of detection/ground-truth pairs as the KITTI devkit defines them, for aligned pairs.

* 2D: ``imageBoxOverlap`` -- axis-aligned IoU of ``x1 y1 x2 y2`` boxes without the
  ``+1`` pixel convention, 0 when the intersection has no positive width/height;
  ``criterion=0`` divides by the detection's area instead (used for DontCare).
* BEV: ``groundBoxOverlap`` -- IoU of the rotated footprints in the camera x-z plane.
* 3D: ``box3DOverlap`` -- footprint intersection times the vertical overlap of
  ``[y - h, y]`` (``y`` is the bottom), over the union of volumes.

The footprint intersection is the exact convex polygon clipping of
:func:`perception.structures.polygon_intersection_area` (the devkit uses
boost::geometry's polygon intersection and union, see docs/evaluation.md for how
far apart they are).  Pairs whose footprints' axis-aligned boxes do not touch skip
the polygon step (their overlap is 0).
"""
from __future__ import annotations

import numpy as np
import torch

from perception.structures import Boxes3D, CoordFrame, polygon_intersection_area

__all__ = ["frame_pairs", "image_overlap", "rotated_overlap", "pair_overlaps"]


def frame_pairs(a_frame: np.ndarray, b_frame: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """All ``(i, j)`` with ``a_frame[i] == b_frame[j]``, ordered by ``i`` then ``j``.

    Both inputs must be sorted (rows grouped by frame).
    """
    nb = np.bincount(b_frame, minlength=num_frames)
    b_start = np.concatenate([[0], np.cumsum(nb)[:-1]]).astype(np.int64)
    reps = nb[a_frame]
    total = int(reps.sum())
    ai = np.repeat(np.arange(len(a_frame), dtype=np.int64), reps)
    first = np.repeat(np.cumsum(reps) - reps, reps)
    bj = b_start[a_frame][ai] + (np.arange(total, dtype=np.int64) - first)
    return ai, bj


def image_overlap(det_bbox: np.ndarray, gt_bbox: np.ndarray, criterion: int = -1) -> np.ndarray:
    """``(K,)`` devkit 2D overlap of aligned ``(K, 4)`` boxes (float64)."""
    a, b = det_bbox, gt_bbox
    w = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    h = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    valid = (w > 0) & (h > 0)
    inter = w * h
    a_area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        if criterion == -1:
            o = inter / (a_area + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)
        elif criterion == 0:
            o = inter / a_area
        else:
            raise ValueError(f"criterion must be -1 (IoU) or 0 (over the detection), got {criterion}")
    return np.where(valid, o, 0.0)


def _footprints(dims: np.ndarray, loc: np.ndarray, ry: np.ndarray) -> torch.Tensor:
    """``(K, 4, 2)`` x-z footprint corners of KITTI camera boxes (``dims`` = h w l, ``loc`` = bottom centre)."""
    h, w, l = dims[:, 0], dims[:, 1], dims[:, 2]
    t = np.stack([loc[:, 0], loc[:, 1] - h / 2, loc[:, 2], l, w, h, ry], axis=1)
    return Boxes3D(torch.from_numpy(t), frame=CoordFrame.CAMERA).bev_corners()


def _footprint_extent(dims: np.ndarray, ry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half-extents along x and z of the axis-aligned box around each footprint."""
    c, s = np.abs(np.cos(ry)), np.abs(np.sin(ry))
    w, l = dims[:, 1], dims[:, 2]
    return (c * l + s * w) / 2, (s * l + c * w) / 2


def rotated_overlap(det_dims: np.ndarray, det_loc: np.ndarray, det_ry: np.ndarray, gt_dims: np.ndarray,
                    gt_loc: np.ndarray, gt_ry: np.ndarray, *, skip_below: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Devkit BEV and 3D IoU of aligned camera boxes; returns ``(bev (K,), iou3d (K,))`` float64.

    Pairs whose IoUs provably cannot exceed ``skip_below`` (an upper bound from the intersection of the
    footprints' axis-aligned boxes) are reported as 0 without clipping polygons; with the default 0 every
    value is exact.
    """
    k = len(det_dims)
    bev, iou3d = np.zeros(k), np.zeros(k)
    if k == 0:
        return bev, iou3d
    dh, dw, dl = det_dims.T
    gh, gw, gl = gt_dims.T
    dy, gy = det_loc[:, 1], gt_loc[:, 1]
    vertical = np.maximum(0.0, np.minimum(dy, gy) - np.maximum(dy - dh, gy - gh))
    d_area, g_area = dl * dw, gl * gw
    d_vol, g_vol = dh * dl * dw, gh * gl * gw
    dex, dez = _footprint_extent(det_dims, det_ry)
    gex, gez = _footprint_extent(gt_dims, gt_ry)
    ix = np.minimum(det_loc[:, 0] + dex, gt_loc[:, 0] + gex) - np.maximum(det_loc[:, 0] - dex, gt_loc[:, 0] - gex)
    iz = np.minimum(det_loc[:, 2] + dez, gt_loc[:, 2] + gez) - np.maximum(det_loc[:, 2] - dez, gt_loc[:, 2] - gez)
    # slack: rounding in the corner positions must never exclude a touching pair
    slack = 1e-9 * (1.0 + np.abs(det_loc[:, 0]) + np.abs(det_loc[:, 2]) + dex + dez)
    touch = (ix > -slack) & (iz > -slack)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inter_ub = np.minimum(np.minimum(d_area, g_area), np.maximum(ix, 0) * np.maximum(iz, 0) * (1 + 1e-9) + slack)
        bound = np.maximum(inter_ub / (d_area + g_area - inter_ub),
                           inter_ub * vertical / (d_vol + g_vol - inter_ub * vertical))
    # NaN bounds (degenerate sizes) are evaluated, never skipped
    near = np.flatnonzero(touch & ~(bound <= skip_below))
    if not len(near):
        return bev, iou3d
    inter = polygon_intersection_area(_footprints(det_dims[near], det_loc[near], det_ry[near]),
                                      _footprints(gt_dims[near], gt_loc[near], gt_ry[near])).numpy()
    inter_vol = inter * vertical[near]
    with np.errstate(divide="ignore", invalid="ignore"):
        bev[near] = inter / (d_area[near] + g_area[near] - inter)
        iou3d[near] = inter_vol / (d_vol[near] + g_vol[near] - inter_vol)
    return bev, iou3d


def pair_overlaps(dt, gt, dt_idx: np.ndarray, gt_idx: np.ndarray, *, skip_below: float = 0.0,
                  metrics=("2D", "BEV", "3D")) -> dict[str, np.ndarray]:
    """Overlaps of the aligned pairs ``(dt[dt_idx], gt[gt_idx])`` for the metric families in ``metrics``.

    ``dt``/``gt`` are :class:`~perception.evaluation.kitti.data.ObjectTable`.  ``skip_below`` as in
    :func:`rotated_overlap` (BEV/3D values that cannot exceed it are returned as 0).
    """
    out = {}
    if "2D" in metrics:
        out["2D"] = image_overlap(dt.bbox[dt_idx], gt.bbox[gt_idx])
    if "BEV" in metrics or "3D" in metrics:
        out["BEV"], out["3D"] = rotated_overlap(dt.dims[dt_idx], dt.loc[dt_idx], dt.ry[dt_idx],
                                                gt.dims[gt_idx], gt.loc[gt_idx], gt.ry[gt_idx], skip_below=skip_below)
    return out
