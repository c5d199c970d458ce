"""Scatter sparse voxel features into a dense bird's-eye-view map."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from perception.models.utils.bev_grid import VoxelGrid
from perception.models.voxel_encoders.dynamic_vfe import VoxelFeatures
from perception.registry import MODELS

__all__ = ["BEVScatter", "scatter_to_bev"]


def scatter_to_bev(voxel_feats: VoxelFeatures, grid: VoxelGrid) -> torch.Tensor:
    """Dense BEV map ``(B, C * nz, ny, nx)``; z slices stacked along channels.

    Row index is the voxel's y index, column its x index (see :class:`VoxelGrid`);
    empty cells are zero.
    """
    nz, ny, nx = grid.shape_zyx
    feats, vox = voxel_feats.features, voxel_feats.voxels.long()
    c = feats.shape[1]
    canvas = feats.new_zeros(voxel_feats.batch_size, nz, ny * nx, c)
    canvas[vox[:, 0], vox[:, 1], vox[:, 2] * nx + vox[:, 3]] = feats
    return canvas.permute(0, 1, 3, 2).reshape(voxel_feats.batch_size, nz * c, ny, nx)


@MODELS.register_module()
class BEVScatter(nn.Module):
    """Module wrapper of :func:`scatter_to_bev` (PointPillars' scatter)."""

    def __init__(self, *, point_range: Sequence[float], voxel_size: Sequence[float]):
        super().__init__()
        self.grid = VoxelGrid(point_range=point_range, voxel_size=voxel_size)

    def forward(self, voxel_feats: VoxelFeatures) -> torch.Tensor:
        return scatter_to_bev(voxel_feats, self.grid)
