"""``PointsRangeFilter``: drop points outside a 3D box-shaped range."""
from __future__ import annotations

from typing import Sequence

from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

from ._common import get_points

__all__ = ["PointsRangeFilter"]


@TRANSFORMS.register_module()
class PointsRangeFilter(BaseTransform):
    """Keep the points with ``min <= p < max`` on x, y and z (LiDAR frame).

    The range is half-open like the voxel grid of :mod:`perception.ops.voxelize`, so every kept point
    falls into a voxel of a grid over the same ``point_cloud_range``.

    Reads and writes ``points`` (``(P, C)`` tensor, LiDAR frame).

    Args:
        point_cloud_range: ``[x_min, y_min, z_min, x_max, y_max, z_max]`` metres.
    """

    def __init__(self, point_cloud_range: Sequence[float]):
        if len(point_cloud_range) != 6:
            raise ValueError(f"point_cloud_range must be [x_min, y_min, z_min, x_max, y_max, z_max], "
                             f"got {point_cloud_range}")
        self.point_cloud_range = [float(v) for v in point_cloud_range]
        if any(self.point_cloud_range[i] >= self.point_cloud_range[i + 3] for i in range(3)):
            raise ValueError(f"point_cloud_range must have min < max on every axis, got {self.point_cloud_range}")

    def transform(self, results: dict) -> dict:
        points = get_points(results, self)
        r = self.point_cloud_range
        xyz = points[:, :3]
        keep = ((xyz[:, 0] >= r[0]) & (xyz[:, 0] < r[3]) & (xyz[:, 1] >= r[1]) & (xyz[:, 1] < r[4])
                & (xyz[:, 2] >= r[2]) & (xyz[:, 2] < r[5]))
        results["points"] = points[keep]
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(point_cloud_range={self.point_cloud_range})"
