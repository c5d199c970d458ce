"""``LoadPointsFromFile``: the LiDAR scan of a frame."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmcv.transforms import BaseTransform

from perception.datasets import kitti_io
from perception.registry import TRANSFORMS

__all__ = ["LoadPointsFromFile"]


@TRANSFORMS.register_module()
class LoadPointsFromFile(BaseTransform):
    """Read ``results['lidar_path']`` with :func:`kitti_io.read_points` (float32 records).

    Reads ``lidar_path``; writes ``points`` (``torch.Tensor (P, len(use_dims))`` float32, LiDAR frame,
    columns ``use_dims`` of the records, e.g. ``[x, y, z, reflectance]``) and ``num_pts_feats``.
    A missing file or a size that is not a multiple of the record raises ``KittiFormatError`` naming it.

    Args:
        num_features: float32 values per record in the file (4 for KITTI).
        use_dims: record columns kept, in order; all when ``None``.  Must start with 0, 1, 2 (x, y, z).
    """

    def __init__(self, num_features: int = 4, use_dims: Optional[Sequence[int]] = None):
        if num_features < 3:
            raise ValueError(f"num_features must be >= 3 (x, y, z), got {num_features}")
        self.num_features = int(num_features)
        self.use_dims = list(range(num_features)) if use_dims is None else [int(d) for d in use_dims]
        if self.use_dims[:3] != [0, 1, 2] or max(self.use_dims) >= num_features or min(self.use_dims) < 0:
            raise ValueError(f"use_dims must start with 0, 1, 2 and index < num_features={num_features}, "
                             f"got {self.use_dims}")

    def transform(self, results: dict) -> dict:
        points = kitti_io.read_points(results["lidar_path"], self.num_features)
        results["points"] = torch.from_numpy(points[:, self.use_dims].copy())
        results["num_pts_feats"] = len(self.use_dims)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_features={self.num_features}, use_dims={self.use_dims})"
