"""``TridentConv2d``: one convolution weight applied with a different dilation per branch."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TridentConv2d"]


class TridentConv2d(nn.Conv2d):
    """A ``k x k`` convolution shared by the branches of a trident stage, branch ``b`` dilated by
    ``dilations[b]`` (padding ``dilations[b] * (k // 2)`` keeps every branch's output the same size).

    The input holds the active branches stacked along the batch axis, **branch-major**:
    ``(len(active_branches) * B, C, H, W)``, rows ``[i * B, (i + 1) * B)`` belonging to branch
    ``active_branches[i]``; the output has the same layout.  ``active_branches`` is set by the owning
    backbone before each forward (all branches in training; one for TridentNet-Fast inference).

    It is an ``nn.Conv2d`` (same parameters, state-dict keys and initialisation as the plain convolution
    it replaces); its own ``dilation``/``padding`` attributes are unused.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, dilations: Sequence[int],
                 stride: int = 1, groups: int = 1, bias: bool = False):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, groups=groups, bias=bias)
        if self.kernel_size[0] != self.kernel_size[1] or self.kernel_size[0] % 2 == 0:
            raise ValueError(f"TridentConv2d needs an odd square kernel, got {self.kernel_size}")
        if not dilations or any(int(d) < 1 for d in dilations):
            raise ValueError(f"TridentConv2d dilations must be positive integers, got {dilations!r}")
        self.dilations = tuple(int(d) for d in dilations)
        self.active_branches: tuple[int, ...] = tuple(range(len(self.dilations)))

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, dilations: Sequence[int]) -> "TridentConv2d":
        """A trident version of ``conv`` (same shape, stride, groups and bias; fresh parameters)."""
        if conv.padding_mode != "zeros":
            raise ValueError(f"TridentConv2d supports zero padding only, {conv} pads with {conv.padding_mode!r}")
        return cls(conv.in_channels, conv.out_channels, conv.kernel_size[0], dilations=dilations,
                   stride=conv.stride[0], groups=conv.groups, bias=conv.bias is not None)

    def forward(self, x: Tensor) -> Tensor:
        n = len(self.active_branches)
        if x.shape[0] % n:
            raise ValueError(f"TridentConv2d: batch of {x.shape[0]} is not a multiple of the {n} active branches")
        chunks = x.split(x.shape[0] // n) if n > 1 else (x,)
        half = self.kernel_size[0] // 2
        outs = [F.conv2d(c, self.weight, self.bias, self.stride, self.dilations[b] * half, self.dilations[b],
                         self.groups) for c, b in zip(chunks, self.active_branches)]
        return outs[0] if n == 1 else torch.cat(outs, dim=0)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dilations={self.dilations}"
