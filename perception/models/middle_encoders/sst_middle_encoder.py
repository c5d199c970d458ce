"""SST as a middle encoder of :class:`LidarDetector`: sparse transformer, then a stride-1 BEV map.

    VoxelFeatures (V, C_in) from DynamicVFE
      -> SSTEncoder (regular / shifted window attention blocks, no downsampling)
      -> scatter_to_bev: (B, d_model * nz, ny, nx), the voxel grid's own resolution

Cells without a voxel -- empty, or holding a voxel dropped by the training bucket
caps -- are zero; SST fills them with a few 3x3 convolutions afterwards (in our
configs the ``backbone``: a single stride-1 :class:`BEVBackbone` stage).

This is the registered, config-facing wrapper; the encoder itself
(:mod:`perception.layers.sst.encoder`) imports only torch.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from perception.layers.sst.encoder import SSTEncoder
from perception.layers.sst.input_layer import SSTTokens
from perception.models.middle_encoders.bev_scatter import scatter_to_bev
from perception.models.utils.bev_grid import VoxelGrid
from perception.models.voxel_encoders.dynamic_vfe import VoxelFeatures
from perception.registry import MODELS

__all__ = ["SSTMiddleEncoder"]


@MODELS.register_module()
class SSTMiddleEncoder(nn.Module):
    """Args:
        point_range, voxel_size: the :class:`VoxelGrid` of the voxel encoder (its BEV grid is SST's
            ``sparse_shape``).
        in_channels: width of the voxel encoder's features.
        d_model, nhead, num_blocks, dim_feedforward, window_shape, train_bucket_caps, test_bucket_caps,
        dropout, activation, pos_temperature, normalize_pos, shuffle_voxels, ops_impl: see :class:`SSTEncoder`.

    ``out_channels = d_model * nz`` (``nz = 1`` for pillars).
    """

    def __init__(self, *, point_range: Sequence[float], voxel_size: Sequence[float], in_channels: int,
                 d_model: int = 128, nhead: int = 8, num_blocks: int = 4, dim_feedforward: int = 256,
                 window_shape: Sequence[int] = (12, 12), train_bucket_caps: Sequence[int] = (30, 60, 100),
                 test_bucket_caps: Sequence[int] = (30, 60, 100, 144), dropout: float = 0.0,
                 activation: str = "gelu", pos_temperature: float = 10000.0, normalize_pos: bool = False,
                 shuffle_voxels: bool = True, ops_impl: str = "auto"):
        super().__init__()
        self.grid = VoxelGrid(point_range=point_range, voxel_size=voxel_size)
        nz, ny, nx = self.grid.shape_zyx
        self.encoder = SSTEncoder(in_channels=in_channels, d_model=d_model, nhead=nhead, num_blocks=num_blocks,
                                  dim_feedforward=dim_feedforward, sparse_shape=(ny, nx), window_shape=window_shape,
                                  train_bucket_caps=train_bucket_caps, test_bucket_caps=test_bucket_caps,
                                  dropout=dropout, activation=activation, pos_temperature=pos_temperature,
                                  normalize_pos=normalize_pos, shuffle_voxels=shuffle_voxels, ops_impl=ops_impl)
        self.out_channels = d_model * nz

    def encode(self, voxel_feats: VoxelFeatures) -> tuple[VoxelFeatures, SSTTokens]:
        """The encoded kept voxels (same ``[b, z, y, x]`` grid, stride 1) and the encoder's tokens."""
        tokens = self.encoder(voxel_feats.features, voxel_feats.voxels)
        encoded = VoxelFeatures(features=tokens.features, voxels=tokens.voxels, batch_size=voxel_feats.batch_size)
        return encoded, tokens

    def forward(self, voxel_feats: VoxelFeatures) -> torch.Tensor:
        """``VoxelFeatures`` -> BEV map ``(B, d_model * nz, ny, nx)``."""
        encoded, _ = self.encode(voxel_feats)
        return scatter_to_bev(encoded, self.grid)
