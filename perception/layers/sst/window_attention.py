"""Sparse regional (window) multi-head self-attention: SST's core operation.

The tokens (non-empty voxels) of every window attend only to the tokens of the
same window.  As in SST, the positional encoding of a token's in-window
coordinate is added to the queries and keys, not to the values::

    q = (x + pos) W_q,  k = (x + pos) W_k,  v = x W_v           per voxel, (V, C) each
    regions: gather q, k, v into (Wb, Tb, C) per bucket         perception.ops.gather_regions
    o = softmax(q k^T / sqrt(C / h) + key padding mask) v       per head, inside each window
    back to (V, C), every bucket in one call                    perception.ops.scatter_regions
    out = o W_o

Projections run on the ``V`` voxels, not on the padded regions, so padding costs
only inside the attention itself.  The key padding mask (``RegionBucket.padding_mask``)
keeps padding from ever acting as a key; outputs at padding positions are
discarded by the scatter.  The result equals ``torch.nn.MultiheadAttention``
(same weight layout: ``in_proj_weight (3C, C)``, ``in_proj_bias``,
``out_proj``) applied window by window with ``query = key = x + pos``,
``value = x``; the tests check this.

Torch only (no mmdet / mmcv).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from perception import ops
from perception.layers.sst.input_layer import SSTWindowLayout

__all__ = ["SparseWindowAttention"]


class SparseWindowAttention(nn.Module):
    """Multi-head self-attention inside the windows of one :class:`SSTWindowLayout`.

    Args:
        d_model: token width ``C``.
        nhead: attention heads (``C % nhead == 0``).
        dropout: dropout on the attention weights (training only).
        ops_impl: ``impl`` of the gather / scatter ops.
    """

    def __init__(self, *, d_model: int, nhead: int, dropout: float = 0.0, ops_impl: str = "auto"):
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"SparseWindowAttention: d_model={d_model} is not divisible by nhead={nhead}")
        self.d_model, self.nhead, self.dropout, self.ops_impl = int(d_model), int(nhead), float(dropout), ops_impl
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """As ``torch.nn.MultiheadAttention``: Xavier-uniform projections, zero biases."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, layout: SSTWindowLayout) -> torch.Tensor:
        """``x (V, C)`` token features -> ``(V, C)`` attention outputs (each token from its own window only)."""
        num, c = x.shape
        if num != layout.partition.num_voxels:
            raise ValueError(f"SparseWindowAttention: {num} tokens but the layout has "
                             f"{layout.partition.num_voxels} voxels")
        if c != self.d_model:
            raise ValueError(f"SparseWindowAttention: tokens have {c} channels, expected {self.d_model}")
        qk = F.linear(x + layout.pos_embed.to(x.dtype), self.in_proj_weight[: 2 * c], self.in_proj_bias[: 2 * c])
        v = F.linear(x, self.in_proj_weight[2 * c:], self.in_proj_bias[2 * c:])
        qkv = torch.cat([qk, v], dim=1)  # (V, 3C)
        h, dropout = self.nhead, (self.dropout if self.training else 0.0)
        outputs, indices = [], []
        for bucket in layout.batches.buckets:
            wb, tb = bucket.index.shape
            if wb == 0:
                continue
            regions = ops.gather_regions(qkv, bucket.index, impl=self.ops_impl)  # (Wb, Tb, 3C)
            q, k, val = regions.view(wb, tb, 3, h, c // h).permute(2, 0, 3, 1, 4)  # each (Wb, h, Tb, C/h)
            attend = ~bucket.padding_mask[:, None, None, :]  # (Wb, 1, 1, Tb), True where a key is a voxel
            o = F.scaled_dot_product_attention(q, k, val, attn_mask=attend, dropout_p=dropout,
                                               scale=1.0 / math.sqrt(c // h))
            outputs.append(o.transpose(1, 2).reshape(wb, tb, c))
            indices.append(bucket.index)
        if not outputs:
            return self.out_proj(x.new_zeros(num, c))
        return self.out_proj(ops.scatter_regions(outputs, indices, num, impl=self.ops_impl))  # all buckets at once
