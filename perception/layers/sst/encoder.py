"""The single-stride sparse transformer encoder (SST, Fan et al., CVPR 2022).

    voxel features (V, C_in), voxels (V, 4) [b, z, y, x]
      -> Linear C_in -> d_model                       (when C_in != d_model)
      -> SSTInputLayer   regular + shifted windows, buckets, drop, positional encodings
      -> num_blocks x SSTBlock (regular-window layer, shifted-window layer)
      -> SSTTokens: encoded (V', d_model) features of the V' kept voxels, same voxel coordinates

The encoder never downsamples: every output token is an input voxel at its own
``[b, z, y, x]`` (stride 1); ``V' = V`` unless voxels were dropped by the bucket caps
(see :mod:`perception.layers.sst.input_layer` for what happens to them).

Torch only (no mmdet / mmcv), so it can be run and benchmarked with PyTorch alone;
the registered, config-facing wrapper that scatters the tokens to a BEV map is
:class:`perception.models.middle_encoders.sst_middle_encoder.SSTMiddleEncoder`.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch
from torch import nn

from perception import ops
from perception.layers.sst.block import SSTBlock
from perception.layers.sst.input_layer import SSTInputLayer, SSTTokens
from perception.layers.sst.window_attention import SparseWindowAttention

__all__ = ["SSTEncoder"]


class SSTEncoder(nn.Module):
    """Args:
        in_channels: width of the input voxel features.
        d_model: token width of the transformer (a multiple of 4 and of ``nhead``).
        nhead: attention heads.
        num_blocks: :class:`SSTBlock` s (each = a regular and a shifted-window layer).
        dim_feedforward: hidden width of the feed-forward networks.
        sparse_shape, window_shape, train_bucket_caps, test_bucket_caps, pos_temperature,
        normalize_pos, shuffle_voxels: see :class:`SSTInputLayer`.
        dropout, activation: see :class:`SSTEncoderLayer`.
        ops_impl: ``impl`` of every sparse op (``"auto"``, ``"ext"``, ``"reference"``).
    """

    def __init__(self, *, in_channels: int, d_model: int, nhead: int, num_blocks: int, dim_feedforward: int,
                 sparse_shape: Sequence[int], window_shape: Sequence[int], train_bucket_caps: Sequence[int],
                 test_bucket_caps: Sequence[int], dropout: float = 0.0, activation: str = "gelu",
                 pos_temperature: float = 10000.0, normalize_pos: bool = False, shuffle_voxels: bool = True,
                 ops_impl: str = "auto"):
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"SSTEncoder: num_blocks must be >= 1, got {num_blocks}")
        self.in_channels, self.d_model = int(in_channels), int(d_model)
        self.input_proj = nn.Linear(in_channels, d_model) if in_channels != d_model else nn.Identity()
        self.input_layer = SSTInputLayer(sparse_shape=sparse_shape, window_shape=window_shape,
                                         train_bucket_caps=train_bucket_caps, test_bucket_caps=test_bucket_caps,
                                         pos_channels=d_model, pos_temperature=pos_temperature,
                                         normalize_pos=normalize_pos, shuffle_voxels=shuffle_voxels, ops_impl=ops_impl)
        self.blocks = nn.ModuleList(
            SSTBlock(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                     activation=activation, ops_impl=ops_impl) for _ in range(num_blocks))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weight matrices (as SST); LayerNorms and biases keep PyTorch's defaults."""
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def set_ops_impl(self, impl: str) -> None:
        """Run every sparse op of the encoder with ``impl`` (e.g. ``"reference"`` to time the PyTorch references)."""
        if impl not in ops.IMPLS:
            raise ValueError(f"SSTEncoder: ops impl must be one of {ops.IMPLS}, got {impl!r}")
        for module in self.modules():
            if isinstance(module, (SSTInputLayer, SparseWindowAttention)):
                module.ops_impl = impl

    def tokens(self, features: torch.Tensor, voxels: torch.Tensor) -> SSTTokens:
        """The input layer alone: projected features of the kept voxels and their window layouts."""
        if features.dim() != 2 or features.shape[1] != self.in_channels:
            raise ValueError(f"SSTEncoder: features must be (V, {self.in_channels}), got {tuple(features.shape)}")
        return self.input_layer(self.input_proj(features), voxels)

    def encode(self, tokens: SSTTokens) -> SSTTokens:
        """The blocks alone: ``tokens`` with its features replaced by the encoded ``(V', d_model)`` ones."""
        x = tokens.features
        for block in self.blocks:
            x = block(x, tokens)
        return dataclasses.replace(tokens, features=x)

    def forward(self, features: torch.Tensor, voxels: torch.Tensor) -> SSTTokens:
        """Args:
            features: ``(V, in_channels)`` voxel features.
            voxels: ``(V, 4)`` int ``[b, z, y, x]`` on the ``sparse_shape`` grid.

        Returns:
            :class:`SSTTokens` whose ``features`` are the encoded ``(V', d_model)`` tokens at ``voxels``.
        """
        return self.encode(self.tokens(features, voxels))
