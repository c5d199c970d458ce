"""SST's sparse regional attention block: two transformer encoder layers, regular then shifted windows.

One encoder layer (post-norm, as SST)::

    x = LayerNorm(x + Dropout(SparseWindowAttention(x, layout)))
    x = LayerNorm(x + Dropout(Linear(act(Linear(x)))))

A block runs one layer on the regular window layout and one on the shifted
layout, so information crosses window borders every block (Swin / SST);
neither changes the token set or the grid: no downsampling anywhere.

Torch only (no mmdet / mmcv).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from perception.layers.sst.input_layer import SSTTokens, SSTWindowLayout
from perception.layers.sst.window_attention import SparseWindowAttention

__all__ = ["SSTBlock", "SSTEncoderLayer"]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class SSTEncoderLayer(nn.Module):
    """Window attention + feed-forward, each with a residual and a LayerNorm (post-norm).

    Args:
        d_model: token width.
        nhead: attention heads.
        dim_feedforward: hidden width of the feed-forward network.
        dropout: dropout after attention / feed-forward (and on the attention weights).
        activation: ``"gelu"`` (SST) or ``"relu"``.
        ops_impl: ``impl`` of the sparse ops.
    """

    def __init__(self, *, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.0,
                 activation: str = "gelu", ops_impl: str = "auto"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"SSTEncoderLayer: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.attn = SparseWindowAttention(d_model=d_model, nhead=nhead, dropout=dropout, ops_impl=ops_impl)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor, layout: SSTWindowLayout) -> torch.Tensor:
        """``x (V, C)`` -> ``(V, C)``."""
        x = self.norm1(x + self.dropout(self.attn(x, layout)))
        return self.norm2(x + self.dropout(self.linear2(self.dropout(self.activation(self.linear1(x))))))


class SSTBlock(nn.Module):
    """An :class:`SSTEncoderLayer` on the regular windows, then one on the shifted windows.

    Args: as :class:`SSTEncoderLayer` (both layers share them).
    """

    def __init__(self, *, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.0,
                 activation: str = "gelu", ops_impl: str = "auto"):
        super().__init__()
        kwargs = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                      activation=activation, ops_impl=ops_impl)
        self.regular = SSTEncoderLayer(**kwargs)
        self.shifted = SSTEncoderLayer(**kwargs)

    def forward(self, x: torch.Tensor, tokens: SSTTokens) -> torch.Tensor:
        """``x (V', C)`` features of ``tokens`` -> ``(V', C)``."""
        regular, shifted = tokens.layouts
        return self.shifted(self.regular(x, regular), shifted)
