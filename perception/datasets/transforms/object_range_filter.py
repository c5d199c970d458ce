"""``ObjectRangeFilter``: drop objects whose centre lies outside the BEV range."""
from __future__ import annotations

from typing import Sequence

from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

from ._common import check_point_cloud_range, in_range, select_objects

__all__ = ["ObjectRangeFilter"]


@TRANSFORMS.register_module()
class ObjectRangeFilter(BaseTransform):
    """Keep the objects whose box centre has ``x_min <= x < x_max`` and ``y_min <= y < y_max`` (LiDAR BEV;
    z is not checked), the same half-open range as :class:`PointsRangeFilter` and the BEV grid.

    Reads ``gt_boxes_3d`` (Boxes3D, LiDAR frame); writes every per-object key present (``gt_boxes_3d``,
    ``gt_labels_3d``, ``gt_names_3d``, ``gt_bboxes``, ``gt_bboxes_labels``).  Frames without
    ``gt_boxes_3d`` pass unchanged.

    Args:
        point_cloud_range: ``[x_min, y_min, z_min, x_max, y_max, z_max]`` metres.
    """

    def __init__(self, point_cloud_range: Sequence[float]):
        self.point_cloud_range = check_point_cloud_range(point_cloud_range, type(self).__name__)

    def transform(self, results: dict) -> dict:
        if "gt_boxes_3d" not in results:
            return results
        select_objects(results, in_range(results["gt_boxes_3d"].center, self.point_cloud_range, axes=2))
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(point_cloud_range={self.point_cloud_range})"
