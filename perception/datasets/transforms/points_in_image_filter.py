"""``PointsInImageFilter``: keep the points the camera sees (KITTI labels exist only in its field of view)."""
from __future__ import annotations

from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

from ._common import get_points

__all__ = ["PointsInImageFilter"]


@TRANSFORMS.register_module()
class PointsInImageFilter(BaseTransform):
    """Keep the points in front of camera ``camera`` whose projection falls inside the image.

    A point is kept when its depth (homogeneous ``w`` of ``P<camera>``, see
    :meth:`KittiCalibration.camera_to_image`) is ``> min_depth`` and its pixel ``(u, v)`` satisfies
    ``0 <= u < w`` and ``0 <= v < h`` with ``(h, w) = results['img_shape']``.  This is KITTI's
    "reduced" point cloud (mmdet3d's ``velodyne_reduced``).

    Reads ``points`` (LiDAR frame, *unaugmented*), ``calib``, ``img_shape``; writes ``points``.  Raises
    ``ValueError`` when a geometric augmentation already ran (``transformation_3d_flow`` not empty), since
    ``calib`` describes the original sensor geometry: put this filter right after the loading steps.

    Args:
        camera: KITTI camera index whose projection matrix is used (2: left colour camera).
        min_depth: points at most this far in front of the camera (metres) are dropped.
    """

    def __init__(self, camera: int = 2, min_depth: float = 0.0):
        if camera not in (0, 1, 2, 3):
            raise ValueError(f"camera must be 0..3, got {camera}")
        self.camera = int(camera)
        self.min_depth = float(min_depth)

    def transform(self, results: dict) -> dict:
        if results.get("transformation_3d_flow"):
            raise ValueError(f"PointsInImageFilter must run before geometric augmentations; already applied: "
                             f"{results['transformation_3d_flow']}")
        points = get_points(results, self)
        h, w = (int(v) for v in tuple(results["img_shape"])[:2])
        uv, depth = results["calib"].lidar_to_image(points[:, :3], camera=self.camera)
        keep = (depth > self.min_depth) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
        results["points"] = points[keep]
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(camera={self.camera}, min_depth={self.min_depth})"
