"""SECOND-style 3D sparse-convolution encoder (Yan et al., Sensors 2018) -> BEV map, with spconv 2.x.

    VoxelFeatures (V, C_in), voxels [b, z, y, x] on an (nz, ny, nx) grid
      -> input:  SubMConv3d 3x3x3 -> base_channels
      -> stage i: [SparseConv3d 3x3x3 stride s_i (if s_i > 1) | SubMConv3d], then SubMConv3d ...
      -> output: SparseConv3d kernel (3, 1, 1) stride (2, 1, 1) along z, no padding (SECOND's conv_out)
      -> dense (B, C, D, H, W) -> BEV (B, C * D, H, W), H = ny / S, W = nx / S, S = prod(stage_strides)

Every conv is followed by BatchNorm1d + ReLU on the active sites.  Submanifold
convs keep the set of active voxels (and share an ``indice_key`` within a stage);
strided sparse convs dilate and downsample it, as in SECOND.

spconv's algorithm: on CPU every conv must use ``ConvAlgo.Native`` (the default
implicit-GEMM kernels ask for a CUDA stream).  ``algo="auto"`` picks Native when
torch sees no CUDA device at construction and spconv's implicit GEMM otherwise;
the weights have the same layout for every algorithm in spconv 2.3 (KRSC), so
:meth:`SparseEncoder.set_algo` can switch a built (or loaded) model.
"""
from __future__ import annotations

from typing import Sequence

import spconv.pytorch as spconv
import torch
from torch import nn

from perception.models.utils.bev_grid import VoxelGrid
from perception.models.voxel_encoders.dynamic_vfe import VoxelFeatures
from perception.registry import MODELS

__all__ = ["SparseEncoder"]

ALGOS = {"native": spconv.ConvAlgo.Native, "mask_implicit_gemm": spconv.ConvAlgo.MaskImplicitGemm,
         "mask_split_implicit_gemm": spconv.ConvAlgo.MaskSplitImplicitGemm}


def _resolve_algo(algo: str) -> spconv.ConvAlgo:
    if algo == "auto":
        return spconv.ConvAlgo.MaskImplicitGemm if torch.cuda.is_available() else spconv.ConvAlgo.Native
    if algo not in ALGOS:
        raise ValueError(f"SparseEncoder: algo must be 'auto' or one of {sorted(ALGOS)}, got {algo!r}")
    return ALGOS[algo]


def _out_size(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


@MODELS.register_module()
class SparseEncoder(nn.Module):
    """Args:
        in_channels: width of the voxel features.
        point_range, voxel_size: the :class:`VoxelGrid` of the voxel encoder.
        base_channels: width of the input submanifold conv.
        stage_channels: per stage, the output width of each conv of the stage.
        stage_strides: per stage, the stride of its first conv (1: a submanifold conv).
        out_channels: width of the z-compressing output conv.
        algo: ``"auto"`` (Native without CUDA), ``"native"``, ``"mask_implicit_gemm"``,
            ``"mask_split_implicit_gemm"``.

    ``forward`` returns ``(B, out_channels * D, ny / S, nx / S)``; :attr:`bev_channels` is
    ``out_channels * D`` and :attr:`bev_stride` is ``S``.
    """

    def __init__(self, *, in_channels: int, point_range: Sequence[float], voxel_size: Sequence[float],
                 base_channels: int = 16, stage_channels: Sequence[Sequence[int]] = ((16,), (32, 32), (64, 64)),
                 stage_strides: Sequence[int] = (1, 2, 2), out_channels: int = 64, algo: str = "auto"):
        super().__init__()
        if len(stage_channels) != len(stage_strides) or any(len(c) == 0 for c in stage_channels):
            raise ValueError("SparseEncoder: stage_channels and stage_strides need one non-empty entry per stage")
        self.grid = VoxelGrid(point_range=point_range, voxel_size=voxel_size)
        conv_algo = _resolve_algo(algo)
        self.algo = conv_algo
        nz, ny, nx = self.grid.shape_zyx
        self.sparse_shape = [nz, ny, nx]

        def block(conv: nn.Module, c_out: int) -> spconv.SparseSequential:
            return spconv.SparseSequential(conv, nn.BatchNorm1d(c_out, eps=1e-3, momentum=0.01), nn.ReLU(inplace=True))

        self.conv_input = block(spconv.SubMConv3d(in_channels, base_channels, 3, padding=1, bias=False,
                                                  indice_key="subm0", algo=conv_algo), base_channels)
        stages, c, shape = [], base_channels, [nz, ny, nx]
        for i, (channels, stride) in enumerate(zip(stage_channels, stage_strides)):
            layers = []
            for j, c_out in enumerate(channels):
                if j == 0 and stride > 1:
                    conv = spconv.SparseConv3d(c, c_out, 3, stride=stride, padding=1, bias=False,
                                               indice_key=f"spconv{i}", algo=conv_algo)
                    shape = [_out_size(n, 3, stride, 1) for n in shape]
                else:
                    conv = spconv.SubMConv3d(c, c_out, 3, padding=1, bias=False, indice_key=f"subm{i}",
                                             algo=conv_algo)
                layers.append(block(conv, c_out))
                c = c_out
            stages.append(spconv.SparseSequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.conv_out = block(spconv.SparseConv3d(c, out_channels, (3, 1, 1), stride=(2, 1, 1), padding=0,
                                                  bias=False, indice_key="spconv_out", algo=conv_algo), out_channels)
        depth = _out_size(shape[0], 3, 2, 0)
        if depth < 1:
            raise ValueError(f"SparseEncoder: the grid's {nz} z-voxels shrink to {shape[0]} before the output conv, "
                             "which needs at least 3; use a smaller voxel height or fewer strided stages")
        self.bev_stride = 1
        for s in stage_strides:
            self.bev_stride *= int(s)
        if ny % self.bev_stride or nx % self.bev_stride:
            raise ValueError(f"SparseEncoder: BEV grid {ny}x{nx} is not divisible by the total stride "
                             f"{self.bev_stride}")
        self.bev_channels = out_channels * depth
        self.out_shape = (depth, shape[1], shape[2])

    def set_algo(self, algo: str) -> None:
        """Switch every conv to ``algo`` (e.g. ``"native"`` to run a CUDA-built model on CPU)."""
        conv_algo = _resolve_algo(algo)
        for module in self.modules():
            if isinstance(module, spconv.conv.SparseConvolution):
                module.algo = conv_algo
        self.algo = conv_algo

    def forward(self, voxel_feats: VoxelFeatures) -> torch.Tensor:
        """``VoxelFeatures`` -> BEV map ``(B, bev_channels, ny / S, nx / S)``."""
        if voxel_feats.features.device.type == "cpu" and self.algo != spconv.ConvAlgo.Native:
            raise RuntimeError(f"SparseEncoder: spconv on CPU needs algo='native', this encoder uses {self.algo}; "
                               "build it with algo='native' or call set_algo('native')")
        x = spconv.SparseConvTensor(voxel_feats.features, voxel_feats.voxels.int(), self.sparse_shape,
                                    voxel_feats.batch_size)
        x = self.conv_input(x)
        for stage in self.stages:
            x = stage(x)
        x = self.conv_out(x)
        dense = x.dense()  # (B, C, D, H, W)
        b, c, d, h, w = dense.shape
        return dense.reshape(b, c * d, h, w)
