"""Sinusoidal positional encoding of a voxel's position inside its attention window (SST).

Sparse regional attention is permutation invariant, so SST adds a fixed 2D
sinusoidal encoding of each token's in-window coordinate to the queries and keys
(not to the values).  The encoding has ``channels`` values: the first half
encodes the in-window row (y), the second half the column (x); each half is
``[sin(p * w_0), ..., sin(p * w_{n-1}), cos(p * w_0), ..., cos(p * w_{n-1})]``
with ``n = channels / 4`` frequencies ``w_k = temperature ** (-k / n)`` and
``p`` the coordinate measured from the window centre, ``p = c - (w - 1) / 2``
(so the encoding of a window is symmetric about its centre).  With
``normalize=True`` the coordinate is scaled to ``p * 2 pi / w``, i.e. about
``[-pi, pi]``.

Torch only (no mmdet / mmcv), so the SST encoder runs where only PyTorch is installed.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["window_positional_encoding"]


def window_positional_encoding(coord_in_window: torch.Tensor, *, window_shape: Sequence[int], channels: int,
                               temperature: float = 10000.0, normalize: bool = False) -> torch.Tensor:
    """Encode in-window coordinates.

    Args:
        coord_in_window: ``(V, 2)`` int ``(y, x)`` cell of each voxel inside its window,
            ``0 <= y < wy``, ``0 <= x < wx`` (e.g. ``WindowPartition.coord_in_window``).
        window_shape: ``(wy, wx)`` cells per window.
        channels: encoding width; a multiple of 4.
        temperature: the longest wavelength's scale (10000 as in the Transformer and SST).
        normalize: scale coordinates to about ``[-pi, pi]`` before encoding.

    Returns:
        ``(V, channels)`` float32 encoding (see the module docstring).
    """
    if channels <= 0 or channels % 4:
        raise ValueError(f"window_positional_encoding: channels must be a positive multiple of 4, got {channels}")
    if coord_in_window.dim() != 2 or coord_in_window.shape[1] != 2:
        raise ValueError("window_positional_encoding: coord_in_window must be (V, 2) (y, x), "
                         f"got shape {tuple(coord_in_window.shape)}")
    if temperature <= 0:
        raise ValueError(f"window_positional_encoding: temperature must be > 0, got {temperature}")
    wy, wx = (int(w) for w in window_shape)
    size = torch.tensor([wy, wx], dtype=torch.float32, device=coord_in_window.device)
    pos = coord_in_window.float() - (size - 1) / 2  # (V, 2), centred
    if normalize:
        pos = pos * (2 * math.pi) / size
    n = channels // 4
    freqs = temperature ** (-torch.arange(n, dtype=torch.float32, device=coord_in_window.device) / n)  # (n,)
    angles = pos[:, :, None] * freqs  # (V, 2, n)
    return torch.cat([angles.sin(), angles.cos()], dim=2).reshape(pos.shape[0], channels)
