"""``PointsRangeFilter``: drop points outside a 3D box-shaped range."""
from __future__ import annotations

from typing import Sequence

from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

from ._common import check_point_cloud_range, get_points, in_range

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
        self.point_cloud_range = check_point_cloud_range(point_cloud_range, type(self).__name__)

    def transform(self, results: dict) -> dict:
        points = get_points(results, self)
        results["points"] = points[in_range(points, self.point_cloud_range, axes=3)]
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(point_cloud_range={self.point_cloud_range})"
