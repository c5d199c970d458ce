"""window_partition: hand-computed windows (plain and shifted), borders, every implementation vs the reference."""
from __future__ import annotations

import pytest
import torch

from perception.ops import WindowPartition, window_partition, window_partition_reference

# (V, 4) [b, z, y, x] on a (ny, nx) = (4, 6) grid, windows of (wy, wx) = (2, 3); not in window order on purpose.
VOXELS = [[0, 0, 1, 2], [1, 0, 2, 0], [0, 0, 0, 0], [0, 0, 3, 5], [0, 0, 0, 3], [0, 1, 1, 2]]


def test_known_answer_unshifted(device, impls):
    # windows (b, row, col): v0 (0,0,0), v1 (1,1,0), v2 (0,0,0), v3 (0,1,1), v4 (0,0,1), v5 (0,0,0) (z is ignored)
    # sorted non-empty windows: (0,0,0)=0, (0,0,1)=1, (0,1,1)=2, (1,1,0)=3
    for impl in impls:
        wp = window_partition(torch.tensor(VOXELS, device=device), sparse_shape=(4, 6), window_shape=(2, 3),
                              shifted=False, impl=impl)
        assert isinstance(wp, WindowPartition) and wp.num_windows == 4 and wp.shift == (0, 0)
        assert wp.window_id.tolist() == [0, 3, 0, 2, 1, 0], impl
        assert wp.index_in_window.tolist() == [0, 0, 1, 0, 0, 2]  # stable: ascending voxel index
        assert wp.coord_in_window.tolist() == [[1, 2], [0, 0], [0, 0], [1, 2], [0, 0], [1, 2]]
        assert wp.tokens_per_window.tolist() == [3, 1, 1, 1]


def test_known_answer_shifted(device, impls):
    # shift (sy, sx) = (1, 1): window = ((y + 1) // 2, (x + 1) // 3), 3 windows per axis (ceil(5/2), ceil(7/3))
    # v0 (0,1,1), v1 (1,1,0), v2 (0,0,0), v3 (0,2,2), v4 (0,0,1), v5 (0,1,1)
    # sorted: (0,0,0)=0, (0,0,1)=1, (0,1,1)=2, (0,2,2)=3, (1,1,0)=4
    for impl in impls:
        wp = window_partition(torch.tensor(VOXELS, device=device), sparse_shape=(4, 6), window_shape=(2, 3),
                              shifted=True, impl=impl)
        assert wp.num_windows == 5 and wp.shift == (1, 1)
        assert wp.window_id.tolist() == [2, 4, 0, 3, 1, 2], impl
        assert wp.index_in_window.tolist() == [0, 0, 0, 0, 0, 1]
        assert wp.coord_in_window.tolist() == [[0, 0], [1, 1], [1, 1], [0, 0], [1, 1], [0, 0]]
        assert wp.tokens_per_window.tolist() == [1, 1, 2, 1, 1]


def _compare(voxels, impl, **kw):
    got = window_partition(voxels, impl=impl, **kw)
    ref = window_partition_reference(voxels, **kw)
    for name in ("window_id", "index_in_window", "coord_in_window", "tokens_per_window"):
        a, b = getattr(got, name), getattr(ref, name)
        assert a.dtype == b.dtype == torch.long and a.device == b.device, name
        assert torch.equal(a, b), name
    assert got.num_windows == ref.num_windows
    return got


@pytest.mark.parametrize("shifted", [False, True], ids=["plain", "shifted"])
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_ext_matches_reference(device, ext, shifted, dtype):
    g = torch.Generator().manual_seed(0)
    ny, nx, n = 250, 220, 20000
    voxels = torch.stack([torch.randint(0, 4, (n,), generator=g), torch.zeros(n, dtype=torch.long),
                          torch.randint(0, ny, (n,), generator=g), torch.randint(0, nx, (n,), generator=g)], 1)
    border = torch.tensor([[0, 0, 0, 0], [0, 0, ny - 1, nx - 1], [3, 0, 0, nx - 1], [3, 0, ny - 1, 0]])
    voxels = torch.cat([voxels, border]).to(device, dtype)
    wp = _compare(voxels, ext, sparse_shape=(ny, nx), window_shape=(12, 12), shifted=shifted)
    # invariants: ranks are 0..n-1 per window, local coordinates stay inside the window
    assert torch.equal(torch.bincount(wp.window_id, minlength=wp.num_windows), wp.tokens_per_window)
    assert int(wp.index_in_window.max()) == int(wp.tokens_per_window.max()) - 1
    assert (wp.coord_in_window >= 0).all() and (wp.coord_in_window < 12).all()


@pytest.mark.parametrize("shifted", [False, True], ids=["plain", "shifted"])
def test_windows_at_grid_borders(device, impls, shifted):
    """Every cell of a grid that the window does not divide: window counts per axis as documented."""
    ny, nx, wy, wx = 7, 10, 3, 4
    ys, xs = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
    voxels = torch.stack([torch.zeros(ny * nx, dtype=torch.long), torch.zeros(ny * nx, dtype=torch.long),
                          ys.reshape(-1), xs.reshape(-1)], 1).to(device)
    sy, sx = (wy // 2, wx // 2) if shifted else (0, 0)
    rows, cols = -(-(ny + sy) // wy), -(-(nx + sx) // wx)  # ceil((n + s) / w)
    for impl in impls:
        wp = _compare(voxels, impl, sparse_shape=(ny, nx), window_shape=(wy, wx), shifted=shifted)
        assert wp.num_windows == rows * cols
        assert int(wp.tokens_per_window.sum()) == ny * nx
    if shifted:
        assert (rows, cols) == (3, 3)  # ceil(8 / 3), ceil(12 / 4): the first row / column of windows is partial
        assert wp.tokens_per_window[0].item() == (wy - sy) * (wx - sx)  # top-left: y + sy < wy, x + sx < wx


@pytest.mark.parametrize("case", ["empty", "one", "all-in-one", "large-batch"])
def test_edge_cases(device, impls, case):
    voxels = {
        "empty": torch.zeros(0, 4, dtype=torch.long),
        "one": torch.tensor([[2, 0, 5, 5]]),
        "all-in-one": torch.tensor([[0, z, y, x] for z in range(3) for y in range(2) for x in range(2)]),
        "large-batch": torch.tensor([[5000, 0, 1, 1], [3, 0, 1, 1], [5000, 0, 1, 2]]),
    }[case].to(device)
    for impl in impls:
        wp = _compare(voxels, impl, sparse_shape=(8, 8), window_shape=(4, 4), shifted=False)
    assert wp.num_windows == {"empty": 0, "one": 1, "all-in-one": 1, "large-batch": 2}[case]


def test_rejects_voxels_off_the_grid(device, impls):
    for impl in impls:
        for bad in ([[0, 0, 8, 0]], [[0, 0, 0, -1]], [[-1, 0, 0, 0]]):
            with pytest.raises(ValueError):
                window_partition(torch.tensor(bad, device=device), sparse_shape=(8, 8), window_shape=(4, 4),
                                 impl=impl)
        with pytest.raises(ValueError, match="window_shape"):
            window_partition(torch.zeros(1, 4, dtype=torch.long, device=device), sparse_shape=(8, 8),
                             window_shape=(0, 4), impl=impl)
