"""``RandomFlip3D``: random mirror of the scene in bird's-eye view."""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

from ._common import get_points, record_flow

__all__ = ["RandomFlip3D"]


@TRANSFORMS.register_module()
class RandomFlip3D(BaseTransform):
    """Mirror points and boxes in the LiDAR BEV plane, each flip with its own probability.

    * horizontal flip (``flip_ratio_bev_horizontal``): across the x axis, ``y -> -y``, ``yaw -> -yaw``;
    * vertical flip (``flip_ratio_bev_vertical``): front-back, ``x -> -x``, ``yaw -> pi - yaw``.

    Boxes use :meth:`Boxes3D.flip_bev` (``'y'`` and ``'x'``).  Decisions come from numpy's global RNG.
    The image, 2D boxes and ``calib`` are *not* flipped (LiDAR-only augmentation).

    Reads and writes ``points`` and ``gt_boxes_3d`` (if present).  Writes ``pcd_horizontal_flip``,
    ``pcd_vertical_flip`` (bool) and appends ``'HF'`` / ``'VF'`` to ``transformation_3d_flow`` for each
    flip applied.

    Args:
        flip_ratio_bev_horizontal: probability of the ``y -> -y`` flip.
        flip_ratio_bev_vertical: probability of the ``x -> -x`` flip.
    """

    def __init__(self, flip_ratio_bev_horizontal: float = 0.5, flip_ratio_bev_vertical: float = 0.0):
        for name, p in (("flip_ratio_bev_horizontal", flip_ratio_bev_horizontal),
                        ("flip_ratio_bev_vertical", flip_ratio_bev_vertical)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        self.flip_ratio_bev_horizontal = float(flip_ratio_bev_horizontal)
        self.flip_ratio_bev_vertical = float(flip_ratio_bev_vertical)

    def transform(self, results: dict) -> dict:
        horizontal = bool(np.random.rand() < self.flip_ratio_bev_horizontal)
        vertical = bool(np.random.rand() < self.flip_ratio_bev_vertical)
        points = get_points(results, self)
        for flip, column, axis, step in ((horizontal, 1, "y", "HF"), (vertical, 0, "x", "VF")):
            if not flip:
                continue
            points = points.clone()
            points[:, column] = -points[:, column]
            if "gt_boxes_3d" in results:
                results["gt_boxes_3d"] = results["gt_boxes_3d"].flip_bev(axis)
            record_flow(results, step)
        results["points"] = points
        results["pcd_horizontal_flip"] = horizontal
        results["pcd_vertical_flip"] = vertical
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(flip_ratio_bev_horizontal={self.flip_ratio_bev_horizontal}, "
                f"flip_ratio_bev_vertical={self.flip_ratio_bev_vertical})")
