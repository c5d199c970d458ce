"""Dynamic voxel feature encoder: every point is kept, no voxel capacity limit.

Points are voxelized with :func:`perception.ops.dynamic_voxelize`; each point
is decorated with its offsets to its voxel's point mean and to the voxel
centre, passed through PointNet layers, and max-pooled per voxel with
:func:`perception.ops.scatter_reduce` (as in PointPillars / SST's DynamicVFE).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch
from torch import nn

from perception import ops
from perception.models.utils.bev_grid import VoxelGrid
from perception.registry import MODELS

__all__ = ["DynamicVFE", "VoxelFeatures"]


@dataclasses.dataclass
class VoxelFeatures:
    """Non-empty voxels of a batch.

    Attributes:
        features: ``(V, C)`` voxel features.
        voxels: ``(V, 4)`` int ``[batch, z, y, x]`` voxel indices (see :class:`VoxelGrid`).
        batch_size: number of samples in the batch.
    """

    features: torch.Tensor
    voxels: torch.Tensor
    batch_size: int


@MODELS.register_module()
class DynamicVFE(nn.Module):
    """PointNet-per-voxel encoder.

    Args:
        in_channels: point feature channels used (``[x, y, z, intensity]`` = 4).
        feat_channels: output channels of each point layer; after every layer
            but the last, the voxel max is concatenated back to each point.
        point_range, voxel_size: the :class:`VoxelGrid`.
        with_cluster_center: add offsets to the voxel's point mean (3 channels).
        with_voxel_center: add offsets to the voxel centre (3 channels).
    """

    def __init__(self, *, in_channels: int = 4, feat_channels: Sequence[int] = (32, 64),
                 point_range: Sequence[float], voxel_size: Sequence[float], with_cluster_center: bool = True,
                 with_voxel_center: bool = True):
        super().__init__()
        self.grid = VoxelGrid(point_range=point_range, voxel_size=voxel_size)
        self.in_channels = in_channels
        self.with_cluster_center = with_cluster_center
        self.with_voxel_center = with_voxel_center
        c = in_channels + 3 * with_cluster_center + 3 * with_voxel_center
        layers = []
        for i, out in enumerate(feat_channels):
            c_in = c if i == 0 else feat_channels[i - 1] * 2
            layers.append(nn.Sequential(nn.Linear(c_in, out, bias=False), nn.BatchNorm1d(out, eps=1e-3, momentum=0.01),
                                        nn.ReLU(inplace=True)))
        self.layers = nn.ModuleList(layers)
        self.out_channels = feat_channels[-1]

    def forward(self, points: Sequence[torch.Tensor]) -> VoxelFeatures:
        """``points``: per-sample ``(P_i, >=in_channels)`` LiDAR-frame points."""
        batch_idx = torch.cat([torch.full((len(p),), i, dtype=torch.long, device=p.device)
                               for i, p in enumerate(points)])
        pts = torch.cat([p[:, : self.in_channels] for p in points], dim=0)
        vox = ops.dynamic_voxelize(pts, batch_idx, voxel_size=self.grid.voxel_size,
                                   point_range=self.grid.point_range)
        keep = vox.point_to_voxel >= 0
        pts, p2v = pts[keep], vox.point_to_voxel[keep]
        num_voxels = vox.voxels.shape[0]
        feats = [pts]
        if self.with_cluster_center:
            mean = ops.scatter_reduce(pts[:, :3], p2v, num_voxels, reduce="mean")
            feats.append(pts[:, :3] - mean[p2v])
        if self.with_voxel_center:
            centers = self.grid.voxel_centers(vox.voxels[:, 1:].long())
            feats.append(pts[:, :3] - centers[p2v])
        x = torch.cat(feats, dim=1)
        voxel_feats = x.new_zeros(num_voxels, self.out_channels)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            voxel_feats = ops.scatter_reduce(x, p2v, num_voxels, reduce="max")
            if i < len(self.layers) - 1:
                x = torch.cat([x, voxel_feats[p2v]], dim=1)
        return VoxelFeatures(features=voxel_feats, voxels=vox.voxels, batch_size=len(points))
