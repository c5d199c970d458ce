"""Shared helpers of the 3D transforms: per-object keys and the point-cloud key.

Result keys used by the transforms of this package (frames per :mod:`perception.structures.frames`):

* ``points``: ``torch.Tensor (P, C)`` float32, ``[x, y, z, ...]`` in the LiDAR frame;
* ``gt_boxes_3d``: :class:`~perception.structures.Boxes3D` (LiDAR frame); ``gt_labels_3d``: ``(N,)`` int64;
  ``gt_names_3d``: list of ``N`` label-file names; ``gt_bboxes``: ``(N, 4)`` float32 camera-2 pixels;
  ``gt_bboxes_labels``: ``(N,)`` int64.  These per-object keys always stay aligned: a filter that drops an
  object drops it from every one of them that is present;
* ``transformation_3d_flow``: list of the geometric augmentations applied so far (``'R'``, ``'S'``, ``'T'``,
  ``'HF'``, ``'VF'``), in order.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["OBJECT_KEYS", "select_objects", "get_points", "num_objects", "record_flow", "check_point_cloud_range",
           "in_range"]

#: Per-object keys, all indexed alike.
OBJECT_KEYS = ("gt_boxes_3d", "gt_labels_3d", "gt_names_3d", "gt_bboxes", "gt_bboxes_labels")


def num_objects(results: dict) -> int:
    for key in OBJECT_KEYS:
        if key in results:
            return len(results[key])
    return 0


def select_objects(results: dict, keep: torch.Tensor | np.ndarray) -> None:
    """Keep the objects where the ``(N,)`` bool mask ``keep`` is true, in every per-object key (in place)."""
    keep = torch.as_tensor(np.asarray(keep) if not isinstance(keep, torch.Tensor) else keep, dtype=torch.bool)
    idx = keep.nonzero(as_tuple=True)[0]
    for key in OBJECT_KEYS:
        if key not in results:
            continue
        value = results[key]
        if len(value) != len(keep):
            raise ValueError(f"per-object key {key!r} has {len(value)} entries, the mask has {len(keep)}; "
                             f"the keys {OBJECT_KEYS} must stay aligned")
        if isinstance(value, list):
            results[key] = [value[i] for i in idx.tolist()]
        elif isinstance(value, np.ndarray):
            results[key] = value[idx.numpy()]
        else:  # torch.Tensor or Boxes3D
            results[key] = value[idx]


def get_points(results: dict, transform: Any) -> torch.Tensor:
    """``results['points']``, checked to be a ``(P, >=3)`` float tensor."""
    if "points" not in results:
        raise KeyError(f"{type(transform).__name__} needs results['points']; put LoadPointsFromFile before it")
    points = results["points"]
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] < 3:
        raise TypeError(f"{type(transform).__name__}: results['points'] must be a (P, >=3) torch.Tensor, got "
                        f"{type(points).__name__} {getattr(points, 'shape', '')}")
    return points


def record_flow(results: dict, step: str) -> None:
    results.setdefault("transformation_3d_flow", []).append(step)


def check_point_cloud_range(point_cloud_range, owner: str) -> list[float]:
    """``[x_min, y_min, z_min, x_max, y_max, z_max]`` (metres, LiDAR frame) as floats; a ``ValueError`` naming
    ``owner`` unless it has 6 values with min < max on every axis."""
    values = [float(v) for v in point_cloud_range]
    if len(values) != 6:
        raise ValueError(f"{owner}: point_cloud_range must be [x_min, y_min, z_min, x_max, y_max, z_max], "
                         f"got {list(point_cloud_range)}")
    if any(values[i] >= values[i + 3] for i in range(3)):
        raise ValueError(f"{owner}: point_cloud_range must have min < max on every axis, got {values}")
    return values


def in_range(xyz: torch.Tensor, point_cloud_range: list[float], axes: int = 3) -> torch.Tensor:
    """``(N,)`` bool: ``min <= xyz < max`` on the first ``axes`` axes (x, y[, z]) of ``xyz`` ``(N, >= axes)``: the
    half-open range of the voxel grid over the same ``point_cloud_range``."""
    r = point_cloud_range
    keep = torch.ones(xyz.shape[0], dtype=torch.bool, device=xyz.device)
    for axis in range(axes):
        keep &= (xyz[:, axis] >= r[axis]) & (xyz[:, axis] < r[axis + 3])
    return keep
