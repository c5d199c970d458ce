"""``GlobalRotScaleTrans``: one random rotation about z, uniform scale and translation of the whole scene."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

from ._common import get_points, record_flow

__all__ = ["GlobalRotScaleTrans", "rotate_points_z"]


def rotate_points_z(points: torch.Tensor, angle: float) -> torch.Tensor:
    """Rotate ``(P, >=3)`` LiDAR points by ``angle`` counter-clockwise about +z through the origin
    (the same rotation as :meth:`Boxes3D.rotate_vertical`); other columns are kept."""
    c, s = math.cos(angle), math.sin(angle)
    out = points.clone()
    x, y = points[:, 0].double(), points[:, 1].double()
    out[:, 0] = (c * x - s * y).to(points.dtype)
    out[:, 1] = (s * x + c * y).to(points.dtype)
    return out


@TRANSFORMS.register_module()
class GlobalRotScaleTrans(BaseTransform):
    """Rotate the scene about the LiDAR z axis, scale it about the origin, then translate it.

    The same transform moves the points and the boxes (Boxes3D ``rotate_vertical`` / ``scale`` /
    ``translate``), so a point inside a box stays inside it.  Angles, factors and offsets come from numpy's
    global RNG (seeded per worker by mmengine).  The image, 2D boxes and ``calib`` are *not* changed: after
    this transform ``calib`` no longer maps the points to the image (see ``PointsInImageFilter``).

    Reads and writes ``points`` (``(P, C)``, LiDAR frame; columns beyond x, y, z untouched) and
    ``gt_boxes_3d`` (if present).  Writes ``pcd_rotation_angle`` (rad, counter-clockwise about +z),
    ``pcd_scale_factor``, ``pcd_trans`` (``(3,)`` metres) and appends ``'R'``, ``'S'``, ``'T'`` to
    ``transformation_3d_flow``.

    Args:
        rot_range: ``[min, max]`` rotation angle in radians, uniform.
        scale_ratio_range: ``[min, max]`` scale factor, uniform.
        translation_std: per-axis standard deviation (metres) of a normal translation; zeros for none.
    """

    def __init__(self, rot_range: Sequence[float] = (-math.pi / 4, math.pi / 4),
                 scale_ratio_range: Sequence[float] = (0.95, 1.05),
                 translation_std: Sequence[float] = (0.0, 0.0, 0.0)):
        if isinstance(rot_range, (int, float)):
            rot_range = (-float(rot_range), float(rot_range))
        self.rot_range = [float(v) for v in rot_range]
        self.scale_ratio_range = [float(v) for v in scale_ratio_range]
        self.translation_std = [float(v) for v in translation_std]
        if len(self.rot_range) != 2 or self.rot_range[0] > self.rot_range[1]:
            raise ValueError(f"rot_range must be [min, max], got {rot_range}")
        if len(self.scale_ratio_range) != 2 or not 0 < self.scale_ratio_range[0] <= self.scale_ratio_range[1]:
            raise ValueError(f"scale_ratio_range must be [min, max] with 0 < min <= max, got {scale_ratio_range}")
        if len(self.translation_std) != 3 or min(self.translation_std) < 0:
            raise ValueError(f"translation_std must be 3 non-negative values, got {translation_std}")

    def transform(self, results: dict) -> dict:
        angle = float(np.random.uniform(*self.rot_range))
        scale = float(np.random.uniform(*self.scale_ratio_range))
        trans = np.random.normal(scale=self.translation_std, size=3).astype(np.float64)
        points = rotate_points_z(get_points(results, self), angle)
        points[:, :3] *= scale
        points[:, :3] += torch.as_tensor(trans, dtype=points.dtype)
        results["points"] = points
        if "gt_boxes_3d" in results:
            results["gt_boxes_3d"] = results["gt_boxes_3d"].rotate_vertical(angle).scale(scale).translate(
                trans.tolist())
        results["pcd_rotation_angle"] = angle
        results["pcd_scale_factor"] = scale
        results["pcd_trans"] = trans
        for step in ("R", "S", "T"):
            record_flow(results, step)
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(rot_range={self.rot_range}, scale_ratio_range={self.scale_ratio_range}, "
                f"translation_std={self.translation_std})")
