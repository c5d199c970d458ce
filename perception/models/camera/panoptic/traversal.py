"""Minimum traversing distance on an image grid: multi-source shortest paths over 8-connected pixels.

The grid graph has one node per cell of an ``(h, w)`` map (row-major index ``y * w + x``) and an undirected edge
between every pair of 8-neighbours.  Edge costs are given per *direction* as ``(4, h, w)`` maps, one for each of
:data:`GRID_OFFSETS`: ``costs[d, y, x]`` is the cost of the edge between ``(y, x)`` and
``(y + dy_d, x + dx_d)`` (entries whose neighbour falls outside the grid are ignored).  The traversing distance
from a source cell to a cell is the smallest sum of edge costs along any 8-connected path between them
(Dijkstra, :func:`scipy.sparse.csgraph.dijkstra`).
"""
from __future__ import annotations

import functools

import numpy as np
from torch import Tensor

__all__ = ["GRID_OFFSETS", "grid_edges", "neighbour_pairs", "traversal_distances"]

#: ``(dy, dx)`` of the four edge directions; with their opposites they make the 8-neighbourhood.
GRID_OFFSETS: tuple[tuple[int, int], ...] = ((0, 1), (1, 0), (1, 1), (1, -1))


@functools.lru_cache(maxsize=32)
def grid_edges(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges of the 8-connected ``(h, w)`` grid: ``(src, dst, cost_index)``, each ``(E,)`` int64.

    ``src``/``dst`` are node indices; ``cost_index`` indexes the flattened ``(4, h, w)`` cost map, i.e.
    ``d * h * w + src``.  Cached per grid size (read-only arrays).
    """
    ys, xs = np.mgrid[0:h, 0:w]
    src_all, dst_all, idx_all = [], [], []
    for d, (dy, dx) in enumerate(GRID_OFFSETS):
        ok = (ys + dy >= 0) & (ys + dy < h) & (xs + dx >= 0) & (xs + dx < w)
        src = (ys * w + xs)[ok]
        src_all.append(src)
        dst_all.append(((ys + dy) * w + (xs + dx))[ok])
        idx_all.append(d * h * w + src)
    out = tuple(np.concatenate(a).astype(np.int64) for a in (src_all, dst_all, idx_all))
    for a in out:
        a.setflags(write=False)
    return out


def neighbour_pairs(x: Tensor) -> Tensor:
    """Pair every cell with its neighbour in each :data:`GRID_OFFSETS` direction.

    Args:
        x: ``(..., C, h, w)`` per-cell features.
    Returns:
        ``(..., 4, C, h, w)`` the neighbour's features (zeros where the neighbour is outside the grid).
    """
    h, w = x.shape[-2:]
    out = x.new_zeros(x.shape[:-3] + (len(GRID_OFFSETS),) + x.shape[-3:])
    for d, (dy, dx) in enumerate(GRID_OFFSETS):
        ys, ye = max(0, -dy), h - max(0, dy)
        xs, xe = max(0, -dx), w - max(0, dx)
        out[..., d, :, ys:ye, xs:xe] = x[..., :, ys + dy:ye + dy, xs + dx:xe + dx]
    return out


def traversal_distances(costs: Tensor | np.ndarray, sources: Tensor | np.ndarray) -> np.ndarray:
    """Shortest-path distances from each source cell to every cell.

    Args:
        costs: ``(4, h, w)`` non-negative edge costs per :data:`GRID_OFFSETS` direction (see the module
            docstring).  Zero costs are allowed.
        sources: ``(K,)`` integer node indices ``y * w + x``.
    Returns:
        ``(K, h, w)`` float64 distances (0 at each source; ``inf`` only for unreachable cells, which an
        8-connected grid does not have).
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    c = costs.detach().cpu().double().numpy() if isinstance(costs, Tensor) else np.asarray(costs, np.float64)
    if c.ndim != 3 or c.shape[0] != len(GRID_OFFSETS):
        raise ValueError(f"costs must be (4, h, w), got {c.shape}")
    if not np.isfinite(c).all() or (c < 0).any():
        raise ValueError("edge costs must be finite and non-negative")
    _, h, w = c.shape
    src_nodes = np.asarray(sources.cpu() if isinstance(sources, Tensor) else sources, np.int64).reshape(-1)
    if len(src_nodes) == 0:
        return np.zeros((0, h, w))
    if src_nodes.min() < 0 or src_nodes.max() >= h * w:
        raise ValueError(f"source indices must be in [0, {h * w}), got {src_nodes.min()}..{src_nodes.max()}")
    src, dst, idx = grid_edges(h, w)
    # a tiny floor: sparse-matrix operations may drop exact zeros, which would delete zero-cost edges
    weights = np.maximum(c.reshape(-1)[idx], 1e-12)
    graph = csr_matrix((weights, (src, dst)), shape=(h * w, h * w))
    dist = dijkstra(graph, directed=False, indices=src_nodes)
    return dist.reshape(len(src_nodes), h, w)
