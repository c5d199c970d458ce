"""Region batching (SST's bucketed windows) and the gather / scatter between voxels and regions.

``region_batching(partition, bucket_caps=(30, 60, 100))``: each non-empty
window goes to the smallest bucket whose cap is ``>=`` its token count; a
window with more tokens than the largest cap goes to the largest bucket and
keeps only the tokens with ``index_in_window < cap`` (the rest are dropped:
``keep == False``), as SST's drop strategy.  Per bucket, ``index`` is
``(Wb, Tb)`` int64 with ``Tb = cap`` (fixed per bucket, as in SST; simple and
shape-stable): row ``r`` holds the bucket's ``r``-th window (ascending window
id), column ``t`` its token with ``index_in_window == t``, ``-1`` padding;
``padding_mask = index < 0`` (True at padding, PyTorch's
``key_padding_mask`` convention).

``gather_regions(feats, index)`` -> ``(Wb, Tb, C)`` (zeros at padding) and
``scatter_regions(regions, index, V)`` -> ``(V, C)`` (the sum of the rows
pointing at each voxel, over one bucket or a list of them; an assignment for
region batching's buckets, where every voxel appears at most once) are each
other's adjoint and so each other's backward.
Indices must lie in ``[-1, V)``: the CPU kernels raise on others, the CUDA
kernels ignore them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import torch

from ._extension import extension, needs_autograd, use_extension
from .window_partition import WindowPartition

__all__ = ["RegionBatches", "RegionBucket", "gather_regions", "gather_regions_reference", "region_batching",
           "region_batching_reference", "scatter_regions", "scatter_regions_reference"]

_REGION_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(frozen=True)
class RegionBucket:
    """The windows of one bucket.

    Attributes:
        cap: the bucket's maximum tokens per window (``Tb``).
        index: ``(Wb, cap)`` int64 voxel index of each token, ``-1`` padding.
        padding_mask: ``(Wb, cap)`` bool, True at padding.
        window_ids: ``(Wb,)`` int64 window of each row (ascending).
    """

    cap: int
    index: torch.Tensor
    padding_mask: torch.Tensor
    window_ids: torch.Tensor

    @property
    def num_windows(self) -> int:
        return int(self.index.shape[0])


@dataclass(frozen=True)
class RegionBatches:
    """The buckets of a window partition.

    Attributes:
        buckets: one :class:`RegionBucket` per cap, in ascending cap order.
        keep: ``(V,)`` bool, False for the voxels dropped from windows over the largest cap.
        num_voxels: ``V``.
    """

    buckets: tuple[RegionBucket, ...]
    keep: torch.Tensor
    num_voxels: int


def _check_caps(bucket_caps: Sequence[int]) -> list[int]:
    caps = [int(c) for c in bucket_caps]
    if not caps or min(caps) < 1 or any(b <= a for a, b in zip(caps, caps[1:])):
        raise ValueError(f"region_batching: bucket_caps must be positive and strictly ascending, got {caps}")
    return caps


def _make_batches(caps: list[int], keep: torch.Tensor, index: Sequence[torch.Tensor],
                  windows: Sequence[torch.Tensor]) -> RegionBatches:
    buckets = tuple(RegionBucket(cap=cap, index=idx, padding_mask=idx < 0, window_ids=win)
                    for cap, idx, win in zip(caps, index, windows))
    return RegionBatches(buckets=buckets, keep=keep, num_voxels=int(keep.shape[0]))


def region_batching_reference(partition: WindowPartition, *, bucket_caps: Sequence[int]) -> RegionBatches:
    """PyTorch reference of :func:`region_batching`."""
    caps = _check_caps(bucket_caps)
    device = partition.window_id.device
    caps_t = torch.tensor(caps, dtype=torch.long, device=device)
    bucket = torch.searchsorted(caps_t, partition.tokens_per_window).clamp(max=len(caps) - 1)  # first cap >= n
    voxel_bucket = bucket[partition.window_id]
    keep = partition.index_in_window < caps_t[voxel_bucket]
    index, windows = [], []
    for b, cap in enumerate(caps):
        window_ids = torch.nonzero(bucket == b).squeeze(1)
        row = torch.full_like(bucket, -1)
        row[window_ids] = torch.arange(window_ids.numel(), device=device)
        voxels = torch.nonzero(keep & (voxel_bucket == b)).squeeze(1)
        idx = torch.full((window_ids.numel(), cap), -1, dtype=torch.long, device=device)
        idx[row[partition.window_id[voxels]], partition.index_in_window[voxels]] = voxels
        index.append(idx)
        windows.append(window_ids)
    return _make_batches(caps, keep, index, windows)


def region_batching(partition: WindowPartition, *, bucket_caps: Sequence[int],
                    impl: str = "auto") -> RegionBatches:
    """Batch the windows of ``partition`` into buckets of ascending ``bucket_caps`` (see the module docstring)."""
    caps = _check_caps(bucket_caps)
    if not use_extension("region_batching", impl, partition.window_id):
        return region_batching_reference(partition, bucket_caps=caps)
    keep, index, windows = extension().region_batching(
        partition.window_id.contiguous(), partition.index_in_window.contiguous(),
        partition.tokens_per_window.contiguous(), caps)
    return _make_batches(caps, keep, index, windows)


def _check_index(index: torch.Tensor, op: str) -> None:
    if index.dim() != 2 or index.dtype != torch.long:
        raise ValueError(f"{op}: index must be a (Wb, Tb) int64 tensor, got {index.dtype} {tuple(index.shape)}")


RegionsArg = Union[torch.Tensor, Sequence[torch.Tensor]]
IndexArg = Union[torch.Tensor, Sequence[torch.Tensor]]


def _bucket_lists(regions: RegionsArg, index: IndexArg) -> tuple[list, list]:
    """``([regions per bucket], [index per bucket])``, checked: one ``(Wb, Tb, C)`` per ``(Wb, Tb)`` index, the
    same ``C`` and dtype in every bucket."""
    regions = [regions] if isinstance(regions, torch.Tensor) else list(regions)
    index = [index] if isinstance(index, torch.Tensor) else list(index)
    if not regions or len(regions) != len(index):
        raise ValueError(f"scatter_regions: needs as many region tensors as index tensors (at least one), got "
                         f"{len(regions)} and {len(index)}")
    for b, (r, i) in enumerate(zip(regions, index)):
        _check_index(i, "scatter_regions")
        if r.dim() != 3 or r.shape[:2] != i.shape:
            raise ValueError(f"scatter_regions: bucket {b}: regions must be (Wb, Tb, C) matching index "
                             f"{tuple(i.shape)}, got shape {tuple(r.shape)}")
        if r.shape[2] != regions[0].shape[2] or r.dtype != regions[0].dtype:
            raise ValueError(f"scatter_regions: bucket {b} has {r.shape[2]} {r.dtype} channels, bucket 0 has "
                             f"{regions[0].shape[2]} {regions[0].dtype}")
    return regions, index


def gather_regions_reference(feats: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """PyTorch reference of :func:`gather_regions`."""
    _check_index(index, "gather_regions")
    picked = feats[index.clamp(min=0)]  # (Wb, Tb, C)
    return torch.where((index >= 0)[..., None], picked, torch.zeros_like(picked))


def scatter_regions_reference(regions: RegionsArg, index: IndexArg, num_voxels: int) -> torch.Tensor:
    """PyTorch reference of :func:`scatter_regions`: one zero-filled ``(V, C)`` and an ``index_add`` per bucket."""
    regions, index = _bucket_lists(regions, index)
    out = regions[0].new_zeros((int(num_voxels), regions[0].shape[-1]))
    for r, i in zip(regions, index):
        valid = i >= 0
        out = out.index_add(0, i[valid], r[valid])
    return out


def _gather_regions_kernel(feats: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return extension().gather_regions(feats.contiguous(), index.contiguous())


def _scatter_regions_kernel(regions: list, index: list, num_voxels: int) -> torch.Tensor:
    return extension().scatter_regions([r.contiguous() for r in regions], [i.contiguous() for i in index],
                                       num_voxels)


class _GatherRegions(torch.autograd.Function):
    @staticmethod
    def forward(ctx, feats, index):
        ctx.save_for_backward(index)
        ctx.num_voxels = feats.shape[0]
        return _gather_regions_kernel(feats, index)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return scatter_regions(grad, index, ctx.num_voxels, impl="ext"), None


class _ScatterRegions(torch.autograd.Function):
    @staticmethod
    def forward(ctx, num_voxels, num_buckets, *tensors):
        regions, index = list(tensors[:num_buckets]), list(tensors[num_buckets:])
        ctx.save_for_backward(*index)
        return _scatter_regions_kernel(regions, index, num_voxels)

    @staticmethod
    def backward(ctx, grad):
        grads = [gather_regions(grad, i, impl="ext") for i in ctx.saved_tensors]
        return (None, None, *grads, *([None] * len(grads)))


def gather_regions(feats: torch.Tensor, index: torch.Tensor, *, impl: str = "auto") -> torch.Tensor:
    """``(Wb, Tb, C)``: ``feats[index]`` with zeros where ``index == -1``; backward is :func:`scatter_regions`.

    Args:
        feats: ``(V, C)`` voxel features.
        index: ``(Wb, Tb)`` int64, e.g. ``RegionBucket.index``.
    """
    _check_index(index, "gather_regions")
    if feats.dim() != 2:
        raise ValueError(f"gather_regions: feats must be (V, C), got shape {tuple(feats.shape)}")
    if use_extension("gather_regions", impl, feats, index, supported_dtype=feats.dtype in _REGION_DTYPES):
        if needs_autograd(feats):
            return _GatherRegions.apply(feats, index)
        return _gather_regions_kernel(feats, index)
    return gather_regions_reference(feats, index)


def scatter_regions(regions: RegionsArg, index: IndexArg, num_voxels: int, *,
                    impl: str = "auto") -> torch.Tensor:
    """``(V, C)``: every region token of one bucket, or of several, written back to its voxel (summed if
    repeated), zeros elsewhere.

    Args:
        regions: ``(Wb, Tb, C)``, or one such tensor per bucket (same ``C`` and dtype); e.g. attention outputs.
        index: ``(Wb, Tb)`` int64 (``RegionBucket.index``), or one per bucket.
        num_voxels: ``V``.

    All buckets go into one output, each row written once (SST's window-to-flat step), rather than one dense
    ``(V, C)`` per bucket summed by the caller.  Backward is :func:`gather_regions`, per bucket.
    """
    regions, index = _bucket_lists(regions, index)
    if num_voxels < 0:
        raise ValueError(f"scatter_regions: num_voxels must be >= 0, got {num_voxels}")
    supported = all(r.dtype in _REGION_DTYPES for r in regions)
    if use_extension("scatter_regions", impl, *regions, *index, supported_dtype=supported):
        if needs_autograd(*regions):
            return _ScatterRegions.apply(int(num_voxels), len(regions), *regions, *index)
        return _scatter_regions_kernel(regions, index, int(num_voxels))
    return scatter_regions_reference(regions, index, num_voxels)
