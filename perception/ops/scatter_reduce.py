"""Reduce per-point features into their voxels (sum, mean or max), with autograd.

``out[v] = reduce(feats[p] for p with point_to_voxel[p] == v)``; points with
``point_to_voxel == -1`` are ignored and a voxel with no point gives 0.
Gradients: sum copies ``grad[v]`` to each of its points, mean divides it by the
voxel's count, max sends it, per channel, to the argmax point (ties go to the
lowest point index).  Inputs must be finite (NaN propagation is unspecified).
Indices must lie in ``[-1, num_voxels)``: the CPU kernel raises on others, the
CUDA kernel ignores them (a check there would cost a device sync).
"""
from __future__ import annotations

import torch

from ._extension import extension, needs_autograd, use_extension

__all__ = ["REDUCTIONS", "scatter_reduce", "scatter_reduce_reference"]

REDUCTIONS = ("sum", "mean", "max")


def _check(feats: torch.Tensor, point_to_voxel: torch.Tensor, num_voxels: int, reduce: str) -> None:
    if reduce not in REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {REDUCTIONS}, got {reduce!r}")
    if feats.dim() != 2:
        raise ValueError(f"scatter_reduce: feats must be (P, C), got shape {tuple(feats.shape)}")
    if point_to_voxel.shape != (feats.shape[0],):
        raise ValueError(f"scatter_reduce: point_to_voxel must be (P,) = ({feats.shape[0]},), "
                         f"got shape {tuple(point_to_voxel.shape)}")
    if point_to_voxel.dtype != torch.long:
        raise TypeError(f"scatter_reduce: point_to_voxel must be int64, got {point_to_voxel.dtype}")
    if num_voxels < 0:
        raise ValueError(f"scatter_reduce: num_voxels must be >= 0, got {num_voxels}")


def scatter_reduce_reference(feats: torch.Tensor, point_to_voxel: torch.Tensor, num_voxels: int,
                             reduce: str = "mean") -> torch.Tensor:
    """PyTorch reference of :func:`scatter_reduce`; autograd flows through plain torch ops."""
    _check(feats, point_to_voxel, num_voxels, reduce)
    num_voxels = int(num_voxels)
    valid = point_to_voxel >= 0
    index, points = point_to_voxel[valid], torch.nonzero(valid).squeeze(1)
    channels = feats.shape[1]
    if reduce == "max":
        with torch.no_grad():
            rows = index[:, None].expand(-1, channels)
            best = feats.new_full((num_voxels, channels), float("-inf"))
            best.scatter_reduce_(0, rows, feats[points], "amax")
            is_max = feats[points] == best[index]  # (M, C)
            none = feats.shape[0]
            candidate = torch.where(is_max, points[:, None], torch.full_like(is_max, none, dtype=torch.long))
            argmax = torch.full((num_voxels, channels), none, dtype=torch.long, device=feats.device)
            argmax.scatter_reduce_(0, rows, candidate, "amin")  # the lowest index among the maxima
        # Row P of the padded features is zero: voxels with no point pick it.
        return torch.cat([feats, feats.new_zeros(1, channels)]).gather(0, argmax)
    total = feats.new_zeros((num_voxels, channels)).index_add(0, index, feats[points])
    if reduce == "sum":
        return total
    counts = torch.bincount(index, minlength=num_voxels).to(feats.dtype).clamp(min=1)
    return total / counts[:, None]


def _forward_kernel(feats: torch.Tensor, point_to_voxel: torch.Tensor, num_voxels: int, reduce: str):
    """``(out, counts, argmax)`` of the compiled forward."""
    return extension().scatter_reduce_forward(feats.contiguous(), point_to_voxel.contiguous(), num_voxels, reduce)


class _ScatterReduce(torch.autograd.Function):
    @staticmethod
    def forward(ctx, feats, point_to_voxel, num_voxels, reduce):
        out, counts, argmax = _forward_kernel(feats, point_to_voxel, num_voxels, reduce)
        ctx.reduce = reduce
        ctx.save_for_backward(point_to_voxel, counts, argmax)
        ctx.mark_non_differentiable(counts, argmax)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        point_to_voxel, counts, argmax = ctx.saved_tensors
        grad = extension().scatter_reduce_backward(grad_out.contiguous(), point_to_voxel, counts, argmax, ctx.reduce)
        return grad, None, None, None


def scatter_reduce(feats: torch.Tensor, point_to_voxel: torch.Tensor, num_voxels: int, reduce: str = "mean", *,
                   impl: str = "auto") -> torch.Tensor:
    """``(V, C)``: the ``reduce`` ("mean", "max" or "sum") of each voxel's point features.

    Args:
        feats: ``(P, C)`` float point features.
        point_to_voxel: ``(P,)`` int64 voxel of each point, ``-1`` to ignore it.
        num_voxels: ``V``.
    """
    _check(feats, point_to_voxel, num_voxels, reduce)
    if use_extension("scatter_reduce", impl, feats, point_to_voxel,
                     supported_dtype=feats.dtype in (torch.float32, torch.float64)):
        if needs_autograd(feats):
            return _ScatterReduce.apply(feats, point_to_voxel, int(num_voxels), reduce)
        return _forward_kernel(feats, point_to_voxel, int(num_voxels), reduce)[0]
    return scatter_reduce_reference(feats, point_to_voxel, num_voxels, reduce)
