"""Window partition of BEV voxels for sparse regional attention (SST, Fan et al., CVPR 2022).

Voxels ``[b, z, y, x]`` on a ``sparse_shape = (ny, nx)`` BEV grid fall into
windows of ``window_shape = (wy, wx)`` cells; ``z`` is ignored (a window spans
the full height, as SST's pillars).

Shifted windows (Swin / SST): the window origin moves by
``(sy, sx) = (wy // 2, wx // 2)`` cells, so window ``(i, j)`` covers
``y`` in ``[i*wy - sy, (i+1)*wy - sy)`` and ``x`` in ``[j*wx - sx, (j+1)*wx - sx)``:
a voxel's window is ``((y + sy) // wy, (x + sx) // wx)`` and its local
coordinate ``((y + sy) % wy, (x + sx) % wx)``.  This is SST's ``x + shift``,
and the same partition as Swin's cyclic shift by ``-s`` without the
wrap-around.  Along an axis there are ``ceil((n + s) / w)`` windows: at most
one more than the unshifted ``ceil(n / w)``, exactly one more when ``w``
divides ``n`` (``w > 1``).

Order: non-empty windows get compact ids ``0..W-1`` in ascending
``(b, window row, window column)`` order; ``index_in_window`` is a voxel's rank
among its window's voxels in ascending voxel index (stable).  Every
implementation returns identical results.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ._extension import extension, use_extension

__all__ = ["WindowPartition", "window_partition", "window_partition_reference"]


@dataclass(frozen=True)
class WindowPartition:
    """Voxels grouped into non-empty windows.

    Attributes:
        window_id: ``(V,)`` int64 compact window id of each voxel.
        index_in_window: ``(V,)`` int64 rank of the voxel inside its window (ascending voxel index).
        coord_in_window: ``(V, 2)`` int64 local ``(y, x)`` inside the window.
        tokens_per_window: ``(W,)`` int64 number of voxels per window.
        num_windows: ``W``.
        sparse_shape, window_shape, shifted: the partition's parameters.
    """

    window_id: torch.Tensor
    index_in_window: torch.Tensor
    coord_in_window: torch.Tensor
    tokens_per_window: torch.Tensor
    num_windows: int
    sparse_shape: tuple[int, int]
    window_shape: tuple[int, int]
    shifted: bool

    @property
    def shift(self) -> tuple[int, int]:
        """``(sy, sx)``: the window origin's shift in cells."""
        return (self.window_shape[0] // 2, self.window_shape[1] // 2) if self.shifted else (0, 0)

    @property
    def num_voxels(self) -> int:
        return int(self.window_id.shape[0])


def _check(voxels: torch.Tensor, sparse_shape: Sequence[int],
           window_shape: Sequence[int]) -> tuple[tuple[int, int], tuple[int, int]]:
    if voxels.dim() != 2 or voxels.shape[1] != 4:
        raise ValueError(f"window_partition: voxels must be (V, 4) [batch, z, y, x], got shape {tuple(voxels.shape)}")
    if voxels.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"window_partition: voxels must be int32 or int64, got {voxels.dtype}")
    sparse_shape, window_shape = tuple(int(v) for v in sparse_shape), tuple(int(v) for v in window_shape)
    if len(sparse_shape) != 2 or min(sparse_shape) < 1:
        raise ValueError(f"window_partition: sparse_shape must be (ny, nx) > 0, got {sparse_shape}")
    if len(window_shape) != 2 or min(window_shape) < 1:
        raise ValueError(f"window_partition: window_shape must be (wy, wx) > 0, got {window_shape}")
    return sparse_shape, window_shape


def window_partition_reference(voxels: torch.Tensor, *, sparse_shape: Sequence[int], window_shape: Sequence[int],
                               shifted: bool = False) -> WindowPartition:
    """PyTorch reference of :func:`window_partition`."""
    (ny, nx), (wy, wx) = _check(voxels, sparse_shape, window_shape)
    sy, sx = (wy // 2, wx // 2) if shifted else (0, 0)
    b, y, x = voxels[:, 0].long(), voxels[:, 2].long(), voxels[:, 3].long()
    if voxels.shape[0] and (bool((b < 0).any()) or bool(((y < 0) | (y >= ny)).any())
                            or bool(((x < 0) | (x >= nx)).any())):
        raise ValueError(f"window_partition: voxels must have batch >= 0 and lie on the (ny, nx) = {(ny, nx)} grid")
    y, x = y + sy, x + sx
    windows = torch.stack([b, y // wy, x // wx], dim=1)
    _, window_id, tokens = torch.unique(windows, dim=0, return_inverse=True, return_counts=True)
    window_id = window_id.reshape(-1)
    order = torch.sort(window_id, stable=True).indices  # by window, then by voxel index
    first = torch.cumsum(tokens, 0) - tokens
    index_in_window = torch.empty_like(window_id)
    index_in_window[order] = torch.arange(order.numel(), device=voxels.device) - first[window_id[order]]
    return WindowPartition(window_id=window_id, index_in_window=index_in_window,
                           coord_in_window=torch.stack([y % wy, x % wx], dim=1), tokens_per_window=tokens,
                           num_windows=int(tokens.numel()), sparse_shape=(ny, nx), window_shape=(wy, wx),
                           shifted=bool(shifted))


def window_partition(voxels: torch.Tensor, *, sparse_shape: Sequence[int], window_shape: Sequence[int],
                     shifted: bool = False, impl: str = "auto") -> WindowPartition:
    """Group voxels into the non-empty (optionally shifted) windows of a BEV grid.

    Args:
        voxels: ``(V, 4)`` int ``[b, z, y, x]`` with ``0 <= y < ny``, ``0 <= x < nx``.
        sparse_shape: ``(ny, nx)`` BEV grid.
        window_shape: ``(wy, wx)`` cells per window.
        shifted: shift the windows by ``(wy // 2, wx // 2)`` (see the module docstring).
    """
    (ny, nx), (wy, wx) = _check(voxels, sparse_shape, window_shape)
    if not use_extension("window_partition", impl, voxels):
        return window_partition_reference(voxels, sparse_shape=(ny, nx), window_shape=(wy, wx), shifted=shifted)
    window_id, index_in_window, coord_in_window, tokens = extension().window_partition(
        voxels.contiguous(), [ny, nx], [wy, wx], bool(shifted))
    return WindowPartition(window_id=window_id, index_in_window=index_in_window, coord_in_window=coord_in_window,
                           tokens_per_window=tokens, num_windows=int(tokens.numel()), sparse_shape=(ny, nx),
                           window_shape=(wy, wx), shifted=bool(shifted))
