"""SST's input layer: regional grouping, voxel drop and region batching (Fan et al., CVPR 2022, Sec. 3.2).

Given the non-empty voxels of a batch on a ``(ny, nx)`` BEV grid, the layer
prepares everything the sparse regional attention blocks need, once per forward:

1. **Regional grouping** -- two partitions of the grid into ``(wy, wx)``-cell
   windows: the regular one and the one shifted by ``(wy // 2, wx // 2)``
   (:func:`perception.ops.window_partition`).
2. **Region batching with SST's drop strategy** -- the windows of each
   partition go into buckets of ascending token caps
   (:func:`perception.ops.region_batching`): a window joins the smallest bucket
   whose cap holds all its voxels; a window with more voxels than the largest cap
   keeps only its first ``cap`` voxels.  Training and testing use separate caps, as
   in SST: smaller in training (fast, and the dropped voxels act as augmentation),
   and at test time a largest cap ``>= wy * wx * nz`` so that no voxel is dropped.
   In training the voxels are shuffled first (``shuffle_voxels``), so *which*
   voxels of an over-full window are dropped is random, not biased to low indices.
3. **Positional encodings** of the in-window coordinates of each partition.

**Dropped voxels are removed from the whole encoder, consistently** (as SST):
a voxel dropped from its regular window or from its shifted window is taken out
of the token set *before* the first block, so it takes part in no attention
layer, neither as a query nor as a key, in either partition, and the encoder
outputs only the kept voxels (``SSTTokens.source_index`` maps them back to the
input).  Scattered to the BEV map, a dropped voxel's cell stays zero, exactly
like an empty cell.  The drop is sequential: voxels are dropped from over-full
regular windows, the shifted partition is computed on the survivors and
over-full shifted windows are trimmed, and both partitions are then recomputed on
the final set (which, by construction, fits every cap).  Drops are never silent
in evaluation: a drop in eval mode (test caps too small for the data) raises a
``RuntimeWarning`` with the count; ``SSTTokens.num_dropped`` is always available.

Torch only (no mmdet / mmcv).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import nn

from perception import ops
from perception.layers.sst.positional_encoding import window_positional_encoding
from perception.ops import RegionBatches, WindowPartition

__all__ = ["SSTInputLayer", "SSTTokens", "SSTWindowLayout"]


@dataclass(frozen=True)
class SSTWindowLayout:
    """One window partition (regular or shifted) of the kept voxels, batched into buckets.

    Attributes:
        partition: the voxels' windows (:class:`perception.ops.WindowPartition`).
        batches: the windows in buckets; ``batches.keep`` is all True (drops happened before).
        pos_embed: ``(V', C)`` float32 positional encoding of each token's in-window coordinate.
    """

    partition: WindowPartition
    batches: RegionBatches
    pos_embed: torch.Tensor

    @property
    def shifted(self) -> bool:
        return self.partition.shifted


@dataclass(frozen=True)
class SSTTokens:
    """The tokens (kept voxels) of a batch and their two window layouts.

    Attributes:
        features: ``(V', C)`` features of the kept voxels, in token order.
        voxels: ``(V', 4)`` int ``[b, z, y, x]`` of the kept voxels, in token order.
        source_index: ``(V',)`` int64 row of each kept voxel in the layer's input.
        layouts: ``(regular, shifted)`` :class:`SSTWindowLayout`.
        num_input_voxels: ``V``, the voxels given to the layer.
    """

    features: torch.Tensor
    voxels: torch.Tensor
    source_index: torch.Tensor
    layouts: tuple[SSTWindowLayout, SSTWindowLayout]
    num_input_voxels: int

    @property
    def num_tokens(self) -> int:
        return int(self.features.shape[0])

    @property
    def num_dropped(self) -> int:
        return self.num_input_voxels - self.num_tokens


def _check_caps(name: str, caps: Sequence[int]) -> tuple[int, ...]:
    caps = tuple(int(c) for c in caps)
    if not caps or min(caps) < 1 or any(b <= a for a, b in zip(caps, caps[1:])):
        raise ValueError(f"SSTInputLayer: {name} must be positive and strictly ascending, got {caps}")
    return caps


class SSTInputLayer(nn.Module):
    """Regional grouping + drop + region batching + positional encodings (module docstring).

    Args:
        sparse_shape: ``(ny, nx)`` BEV grid of the voxels.
        window_shape: ``(wy, wx)`` cells per window.
        train_bucket_caps: ascending token caps of the buckets in training.
        test_bucket_caps: ascending token caps in evaluation (make the largest ``>= wy * wx * nz``
            to never drop at test time).
        pos_channels: width of the positional encoding (the transformer's ``d_model``).
        pos_temperature, normalize_pos: see :func:`window_positional_encoding`.
        shuffle_voxels: shuffle the voxels in training before dropping.
        ops_impl: ``impl`` passed to the sparse ops (``"auto"``, ``"ext"``, ``"reference"``).
    """

    def __init__(self, *, sparse_shape: Sequence[int], window_shape: Sequence[int],
                 train_bucket_caps: Sequence[int], test_bucket_caps: Sequence[int], pos_channels: int,
                 pos_temperature: float = 10000.0, normalize_pos: bool = False, shuffle_voxels: bool = True,
                 ops_impl: str = "auto"):
        super().__init__()
        self.sparse_shape = tuple(int(v) for v in sparse_shape)
        self.window_shape = tuple(int(v) for v in window_shape)
        if len(self.sparse_shape) != 2 or min(self.sparse_shape) < 1:
            raise ValueError(f"SSTInputLayer: sparse_shape must be (ny, nx) > 0, got {sparse_shape}")
        if len(self.window_shape) != 2 or min(self.window_shape) < 1:
            raise ValueError(f"SSTInputLayer: window_shape must be (wy, wx) > 0, got {window_shape}")
        self.train_bucket_caps = _check_caps("train_bucket_caps", train_bucket_caps)
        self.test_bucket_caps = _check_caps("test_bucket_caps", test_bucket_caps)
        if pos_channels % 4:
            raise ValueError(f"SSTInputLayer: pos_channels must be a multiple of 4, got {pos_channels}")
        if ops_impl not in ops.IMPLS:
            raise ValueError(f"SSTInputLayer: ops_impl must be one of {ops.IMPLS}, got {ops_impl!r}")
        self.pos_channels = int(pos_channels)
        self.pos_temperature = float(pos_temperature)
        self.normalize_pos = bool(normalize_pos)
        self.shuffle_voxels = bool(shuffle_voxels)
        self.ops_impl = ops_impl

    @property
    def bucket_caps(self) -> tuple[int, ...]:
        """The caps in use: ``train_bucket_caps`` in training mode, ``test_bucket_caps`` in eval mode."""
        return self.train_bucket_caps if self.training else self.test_bucket_caps

    def _batch(self, voxels: torch.Tensor, shifted: bool) -> tuple[WindowPartition, RegionBatches]:
        partition = ops.window_partition(voxels, sparse_shape=self.sparse_shape, window_shape=self.window_shape,
                                         shifted=shifted, impl=self.ops_impl)
        return partition, ops.region_batching(partition, bucket_caps=self.bucket_caps, impl=self.ops_impl)

    def _layout(self, partition: WindowPartition, batches: RegionBatches) -> SSTWindowLayout:
        pos = window_positional_encoding(partition.coord_in_window, window_shape=self.window_shape,
                                         channels=self.pos_channels, temperature=self.pos_temperature,
                                         normalize=self.normalize_pos)
        return SSTWindowLayout(partition=partition, batches=batches, pos_embed=pos)

    @torch.no_grad()
    def _keep_index(self, voxels: torch.Tensor) -> tuple[torch.Tensor, list[Optional[tuple]]]:
        """Rows of ``voxels`` kept after the sequential drop, and the final (partition, batches) of
        each shift when they were computed on exactly those rows (else ``None``)."""
        num = voxels.shape[0]
        if self.training and self.shuffle_voxels:
            index = torch.randperm(num, device=voxels.device)
        else:
            index = torch.arange(num, device=voxels.device)
        final: list[Optional[tuple]] = [None, None]
        for shifted in (False, True):
            partition, batches = self._batch(voxels[index], shifted)
            if bool(batches.keep.all()):
                final[int(shifted)] = (partition, batches)
            else:
                index = index[batches.keep]
                final = [None, None]  # the row set changed: every partition must be recomputed
        return index, final

    def forward(self, features: torch.Tensor, voxels: torch.Tensor) -> SSTTokens:
        """Args:
            features: ``(V, C)`` voxel features.
            voxels: ``(V, 4)`` int ``[b, z, y, x]`` on the ``sparse_shape`` grid.
        """
        if features.dim() != 2 or voxels.dim() != 2 or voxels.shape[1] != 4 or features.shape[0] != voxels.shape[0]:
            raise ValueError(f"SSTInputLayer: need features (V, C) and voxels (V, 4), got "
                             f"{tuple(features.shape)} and {tuple(voxels.shape)}")
        num = voxels.shape[0]
        index, final = self._keep_index(voxels)
        kept_voxels = voxels[index]
        layouts = []
        for shifted in (False, True):
            partition, batches = final[int(shifted)] or self._batch(kept_voxels, shifted)
            if not bool(batches.keep.all()):
                raise RuntimeError("SSTInputLayer: voxels still over a bucket cap after the drop; "
                                   "this is a bug in the drop logic")
            layouts.append(self._layout(partition, batches))
        dropped = num - index.numel()
        if dropped and not self.training:
            warnings.warn(f"SSTInputLayer: {dropped} of {num} voxels exceed the test bucket caps "
                          f"{self.test_bucket_caps} (window {self.window_shape}) and are dropped; raise the largest "
                          f"test cap to wy * wx * nz to keep every voxel", RuntimeWarning, stacklevel=2)
        return SSTTokens(features=features[index], voxels=kept_voxels, source_index=index,
                         layouts=(layouts[0], layouts[1]), num_input_voxels=num)
