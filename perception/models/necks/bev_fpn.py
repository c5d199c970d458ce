"""Bring multi-stride BEV maps back to one stride and concatenate (SECOND's FPN)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from perception.registry import MODELS

__all__ = ["BEVFPN"]


@MODELS.register_module()
class BEVFPN(nn.Module):
    """Resample each input map by ``scale_factors[i]`` (>1 upsamples with a
    transposed conv, 1 keeps the resolution) to ``out_channels[i]`` and concatenate.

    Input: list of ``(B, C_i, H_i, W_i)``; output ``(B, sum(out_channels), H, W)``
    where ``H = H_i * scale_factors[i]`` for every ``i``.
    """

    def __init__(self, *, in_channels: Sequence[int], out_channels: Sequence[int],
                 scale_factors: Sequence[int]):
        super().__init__()
        if not len(in_channels) == len(out_channels) == len(scale_factors):
            raise ValueError("in_channels, out_channels and scale_factors need one entry per input")
        blocks = []
        for c_in, c_out, s in zip(in_channels, out_channels, scale_factors):
            conv = (nn.ConvTranspose2d(c_in, c_out, s, stride=s, bias=False) if s > 1
                    else nn.Conv2d(c_in, c_out, 1, bias=False))
            blocks.append(nn.Sequential(conv, nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01), nn.ReLU(inplace=True)))
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = int(sum(out_channels))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(feats) != len(self.blocks):
            raise ValueError(f"BEVFPN expects {len(self.blocks)} maps, got {len(feats)}")
        return torch.cat([block(f) for block, f in zip(self.blocks, feats)], dim=1)
