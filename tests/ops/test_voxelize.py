"""voxel_coords / unique_voxels / dynamic_voxelize: known answers, edge cases, every implementation vs the reference."""
from __future__ import annotations

import pytest
import torch

from perception.ops import (VoxelizationResult, dynamic_voxelize, grid_shape, unique_voxels, unique_voxels_reference,
                            voxel_coords, voxel_coords_reference)

PILLARS = dict(voxel_size=[0.32, 0.32, 4.0], point_range=[0.0, -40.0, -3.0, 70.4, 40.0, 1.0])
SECOND = dict(voxel_size=[0.05, 0.05, 0.1], point_range=[0.0, -40.0, -3.0, 70.4, 40.0, 1.0])


def lidar_points(n: int, device, dtype=torch.float32, seed: int = 0, margin: float = 2.0) -> torch.Tensor:
    """Points over the KITTI range plus a margin outside it, with an intensity column."""
    g = torch.Generator().manual_seed(seed)
    lo = torch.tensor([0.0 - margin, -40.0 - margin, -3.0 - margin, 0.0])
    hi = torch.tensor([70.4 + margin, 40.0 + margin, 1.0 + margin, 1.0])
    return (torch.rand(n, 4, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(device, dtype)


def test_grid_shape():
    assert grid_shape(**PILLARS) == (1, 250, 220)
    assert grid_shape(**SECOND) == (40, 1600, 1408)
    with pytest.raises(ValueError, match="positive"):
        grid_shape([0.0, 1.0, 1.0], [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="max must exceed min"):
        grid_shape([1.0, 1.0, 1.0], [0, 0, 0, 1, -1, 1])
    with pytest.raises(ValueError, match=r"\[vx, vy, vz\]"):
        grid_shape([1.0, 1.0], [0, 0, 0, 1, 1, 1])


def test_voxel_coords_known_answer(device, impls):
    kw = dict(voxel_size=[1.0, 1.0, 0.5], point_range=[0.0, 0.0, 0.0, 4.0, 3.0, 2.0])  # grid (nz, ny, nx) = (4, 3, 4)
    points = torch.tensor([[0.5, 1.5, 1.2],            # -> z 2, y 1, x 0
                           [0.0, 0.0, 0.0],            # on the min borders: inside, voxel 0
                           [4.0, 1.0, 1.0],            # on the x max border: outside (half-open)
                           [3.999, 2.999, 1.999],      # last voxel
                           [-0.001, 1.0, 1.0],         # just below the range
                           [1.0, float("nan"), 1.0],   # NaN: outside
                           [2.0, 1.0, 0.5]],           # on inner voxel borders: the upper voxel
                          device=device)
    expected = [[2, 1, 0], [0, 0, 0], [-1, -1, -1], [3, 2, 3], [-1, -1, -1], [-1, -1, -1], [1, 1, 2]]
    for impl in impls:
        coords = voxel_coords(points, impl=impl, **kw)
        assert coords.dtype == torch.int32 and coords.device.type == device.type
        assert coords.tolist() == expected, impl


def test_voxel_coords_range_not_a_multiple_of_the_voxel(device, impls):
    kw = dict(voxel_size=[0.3, 1.0, 1.0], point_range=[0.0, 0.0, 0.0, 1.0, 1.0, 1.0])  # nx = round(3.33) = 3
    points = torch.tensor([[0.85, 0.5, 0.5], [0.95, 0.5, 0.5]], device=device)
    for impl in impls:
        assert voxel_coords(points, impl=impl, **kw).tolist() == [[0, 0, 2], [-1, -1, -1]]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("grid", [PILLARS, SECOND], ids=["pillars", "second"])
def test_voxel_coords_matches_reference(device, ext, dtype, grid):
    points = lidar_points(20000, device, dtype)
    # points exactly on voxel borders and on the range borders
    nz, ny, nx = grid_shape(**grid)
    g = torch.Generator().manual_seed(1)
    cells = torch.stack([torch.randint(0, n + 1, (2000,), generator=g) for n in (nx, ny, nz)], dim=1).double()
    lo, size = torch.tensor(grid["point_range"][:3]), torch.tensor(grid["voxel_size"])
    border = torch.cat([lo + cells * size, torch.zeros(2000, 1)], dim=1).to(device, dtype)
    points = torch.cat([points, border])
    ref = voxel_coords_reference(points, **grid)
    got = voxel_coords(points, impl=ext, **grid)
    assert torch.equal(got, ref)
    assert (ref[:, 0] >= 0).any() and (ref[:, 0] < 0).any()


def test_unique_voxels_known_answer(device, impls):
    coords = torch.tensor([[0, 0, 1, 1], [1, 0, 0, 0], [0, 0, 1, 1], [-1, -1, -1, -1], [0, 0, 0, 5],
                           [0, 2, 0, 0], [0, -1, 3, 3]], device=device)
    for impl in impls:
        voxels, p2v, counts = unique_voxels(coords, impl=impl)
        assert voxels.tolist() == [[0, 0, 0, 5], [0, 0, 1, 1], [0, 2, 0, 0], [1, 0, 0, 0]], impl
        assert p2v.tolist() == [1, 3, 1, -1, 0, 2, -1]
        assert counts.tolist() == [1, 2, 1, 1]
        assert voxels.dtype == torch.int32 and p2v.dtype == torch.int64 and counts.dtype == torch.int32


def _compare_unique(coords, impl):
    got = unique_voxels(coords, impl=impl)
    ref = unique_voxels_reference(coords)
    for a, b, name in zip(got, ref, ("voxels", "point_to_voxel", "counts")):
        assert a.dtype == b.dtype and a.device == b.device, name
        assert torch.equal(a, b), name
    return got


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("extent", [(3, 1, 250, 220), (4, 40, 1600, 1408), (2000, 2, 3, 4)],
                         ids=["pillars", "second", "large-batch"])
def test_unique_voxels_matches_reference(device, ext, dtype, extent):
    """Random coords: several batches, duplicates, ignored rows; small (counting sort) and large (radix) keys."""
    g = torch.Generator().manual_seed(2)
    n = 30000
    coords = torch.stack([torch.randint(0, e, (n,), generator=g) for e in extent], dim=1)
    coords = torch.cat([coords, coords[:5000]])  # duplicates
    coords[torch.randperm(coords.shape[0], generator=g)[:3000]] = -1  # ignored rows
    coords[::97, 2] = -1  # partially negative rows are ignored too
    voxels, p2v, counts = _compare_unique(coords.to(device, dtype), ext)
    assert int(counts.sum()) == int((p2v >= 0).sum())


@pytest.mark.parametrize("case", ["empty", "one", "all-in-one", "all-ignored", "huge-batch"])
def test_unique_voxels_edge_cases(device, impls, case):
    coords = {
        "empty": torch.zeros(0, 4, dtype=torch.int32),
        "one": torch.tensor([[0, 3, 2, 1]], dtype=torch.int32),
        "all-in-one": torch.tensor([[1, 3, 2, 1]] * 50, dtype=torch.int32),
        "all-ignored": torch.full((7, 4), -1, dtype=torch.int32),
        "huge-batch": torch.tensor([[100000, 0, 0, 0], [5, 39, 1599, 1407], [100000, 0, 0, 0]]),
    }[case].to(device)
    for impl in impls:
        voxels, p2v, counts = _compare_unique(coords, impl)
    expected_v = {"empty": 0, "one": 1, "all-in-one": 1, "all-ignored": 0, "huge-batch": 2}[case]
    assert voxels.shape == (expected_v, 4) and counts.shape == (expected_v,) and p2v.shape == (coords.shape[0],)


def test_unique_voxels_rejects_bad_input(device, impls):
    for impl in impls:
        with pytest.raises(ValueError, match=r"\(P, 4\)"):
            unique_voxels(torch.zeros(3, 3, dtype=torch.int32, device=device), impl=impl)
        with pytest.raises(TypeError, match="int32 or int64"):
            unique_voxels(torch.zeros(3, 4, device=device), impl=impl)


def test_ext_rejects_coords_beyond_int32(device, ext):
    with pytest.raises(ValueError, match="int32 range"):
        unique_voxels(torch.tensor([[0, 0, 0, 2**31]], device=device), impl=ext)


@pytest.mark.parametrize("grid", [PILLARS, SECOND], ids=["pillars", "second"])
def test_dynamic_voxelize(device, impls, grid):
    points = lidar_points(5000, device, seed=4)
    batch = torch.arange(5000, device=device) % 3
    results = [dynamic_voxelize(points, batch, impl=impl, **grid) for impl in impls]
    for r in results:
        assert isinstance(r, VoxelizationResult)
        assert torch.equal(r.voxels, results[0].voxels) and torch.equal(r.counts, results[0].counts)
        assert torch.equal(r.point_to_voxel, results[0].point_to_voxel)
    r = results[0]
    coords = voxel_coords(points, impl="reference", **grid)
    inside = coords[:, 0] >= 0
    assert torch.equal(r.point_to_voxel >= 0, inside)
    assert torch.equal(r.voxels[r.point_to_voxel[inside]][:, 1:], coords[inside])  # every point finds its voxel
    assert torch.equal(r.voxels[r.point_to_voxel[inside]][:, 0], batch[inside].int())
    assert int(r.counts.sum()) == int(inside.sum()) and r.num_voxels == r.voxels.shape[0]
    single = dynamic_voxelize(points, impl=impls[-1], **grid)  # no batch index: one sample
    assert (single.voxels[:, 0] == 0).all()
    with pytest.raises(ValueError, match="batch_idx"):
        dynamic_voxelize(points, batch[:10], **grid)
