"""``PanopticFPNDecoder``: multi-scale backbone features -> one stride-4 feature map.

The fusion of Panoptic FPN's semantic branch (Kirillov et al., CVPR 2019): 1x1 laterals to ``channels``, an FPN
top-down pathway (upsample + add), then each level goes through ``log2(stride / out_stride)`` (at least one)
3x3 conv + BN + ReLU blocks, each followed by a 2x bilinear upsampling, and the levels are summed.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

__all__ = ["PanopticFPNDecoder"]


class PanopticFPNDecoder(BaseModule):
    """Fuse ``(B, C_i, H/s_i, W/s_i)`` features into ``(B, channels, H/out_stride, W/out_stride)``.

    Args:
        in_channels: channels of each input level.
        in_strides: stride of each input level (powers of two, increasing, all ``>= out_stride``).
        channels: width of the laterals and of the output.
        out_stride: stride of the output (4 in Panoptic FPN / Panoptic-DeepLab).
        norm_cfg: norm of the 3x3 blocks.
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], channels: int = 64,
                 out_stride: int = 4, norm_cfg: Optional[dict] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(in_strides) or not in_channels:
            raise ValueError(f"in_channels {in_channels} and in_strides {in_strides} must be non-empty and of one "
                             f"length")
        if list(in_strides) != sorted(in_strides) or any(s < out_stride or s & (s - 1) for s in in_strides):
            raise ValueError(f"in_strides must be increasing powers of two >= out_stride={out_stride}, got "
                             f"{in_strides}")
        norm_cfg = norm_cfg or dict(type="BN", requires_grad=True)
        self.in_strides = tuple(int(s) for s in in_strides)
        self.out_stride = int(out_stride)
        self.channels = int(channels)
        self.laterals = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.scales = nn.ModuleList()
        for s in self.in_strides:
            n = max(1, int(math.log2(s // out_stride)))
            self.scales.append(nn.Sequential(*[ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg)
                                               for _ in range(n)]))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        if len(feats) != len(self.laterals):
            raise ValueError(f"expected {len(self.laterals)} feature levels, got {len(feats)}")
        lat = [conv(f) for conv, f in zip(self.laterals, feats)]
        for i in range(len(lat) - 2, -1, -1):  # top-down pathway
            lat[i] = lat[i] + F.interpolate(lat[i + 1], size=lat[i].shape[-2:], mode="bilinear", align_corners=False)
        k = self.in_strides[0] // self.out_stride
        size = (lat[0].shape[-2] * k, lat[0].shape[-1] * k)
        out = None
        for x, blocks, s in zip(lat, self.scales, self.in_strides):
            for block in blocks:
                x = block(x)
                if s > self.out_stride:
                    x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                    s //= 2
            if x.shape[-2:] != size:  # inputs not padded to a multiple of the coarsest stride
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            out = x if out is None else out + x
        return out
