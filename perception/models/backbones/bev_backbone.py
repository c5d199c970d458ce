"""2D convolutional backbone over BEV maps (SECOND/PointPillars style)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from perception.registry import MODELS

__all__ = ["BEVBackbone"]


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01), nn.ReLU(inplace=True))


@MODELS.register_module()
class BEVBackbone(nn.Module):
    """Stages of 3x3 convolutions; each stage starts with a (possibly strided) conv.

    Args:
        in_channels: channels of the input BEV map ``(B, C, H, W)``.
        out_channels: channels of each stage.
        layer_nums: extra convs per stage after the first.
        strides: stride of each stage's first conv (relative to the previous stage).

    Returns from ``forward``: one ``(B, out_channels[i], H / s_i, W / s_i)`` map per
    stage, ``s_i`` the cumulative stride.
    """

    def __init__(self, *, in_channels: int, out_channels: Sequence[int] = (64, 128),
                 layer_nums: Sequence[int] = (3, 5), strides: Sequence[int] = (1, 2)):
        super().__init__()
        if not len(out_channels) == len(layer_nums) == len(strides):
            raise ValueError("out_channels, layer_nums and strides need one entry per stage")
        stages, c = [], in_channels
        for c_out, n, s in zip(out_channels, layer_nums, strides):
            stages.append(nn.Sequential(conv_bn_relu(c, c_out, s), *[conv_bn_relu(c_out, c_out) for _ in range(n)]))
            c = c_out
        self.stages = nn.ModuleList(stages)
        self.out_channels = tuple(out_channels)
        self.strides = tuple(strides)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs
