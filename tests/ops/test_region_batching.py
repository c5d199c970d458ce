"""region_batching / gather_regions / scatter_regions: buckets, drops, autograd, every implementation vs the reference."""
from __future__ import annotations

import pytest
import torch

from perception.ops import (RegionBatches, gather_regions, gather_regions_reference, region_batching,
                            region_batching_reference, scatter_regions, scatter_regions_reference, window_partition)


def partition_with_tokens(tokens: list[int], device):
    """A partition whose window w holds tokens[w] voxels (windows of 4x4 cells, one per window column)."""
    voxels = [[0, 0, i // 4, 4 * w + i % 4] for w, n in enumerate(tokens) for i in range(n)]
    voxels = torch.tensor(voxels, dtype=torch.long).reshape(-1, 4)
    perm = torch.randperm(voxels.shape[0], generator=torch.Generator().manual_seed(0))  # interleave windows
    return window_partition(voxels[perm].to(device), sparse_shape=(4, 4 * len(tokens)), window_shape=(4, 4),
                            impl="reference")


def test_known_answer_buckets_and_drop(device, impls):
    wp = partition_with_tokens([1, 3, 7, 2, 4], device)  # caps (2, 4): buckets 0: w0, w3; 1: w1, w2, w4
    for impl in impls:
        rb = region_batching(wp, bucket_caps=(2, 4), impl=impl)
        assert isinstance(rb, RegionBatches) and rb.num_voxels == 17
        b0, b1 = rb.buckets
        assert (b0.cap, b1.cap) == (2, 4)
        assert b0.window_ids.tolist() == [0, 3] and b1.window_ids.tolist() == [1, 2, 4], impl
        assert b0.index.shape == (2, 2) and b1.index.shape == (3, 4)
        # window 2 has 7 tokens > the largest cap: tokens 4..6 are dropped
        assert torch.equal(rb.keep, wp.index_in_window < torch.where(wp.window_id == 2, 4, 4))
        assert int((~rb.keep).sum()) == 3
        for bucket in rb.buckets:
            assert torch.equal(bucket.padding_mask, bucket.index < 0)
            for r, w in enumerate(bucket.window_ids.tolist()):
                n = min(int(wp.tokens_per_window[w]), bucket.cap)
                row = bucket.index[r]
                assert (row[n:] == -1).all() and (row[:n] >= 0).all()
                assert (wp.window_id[row[:n]] == w).all()
                assert wp.index_in_window[row[:n]].tolist() == list(range(n))  # token t at column t
        assert b0.padding_mask.tolist() == [[False, True], [False, False]]


def _compare(wp, caps, impl):
    got = region_batching(wp, bucket_caps=caps, impl=impl)
    ref = region_batching_reference(wp, bucket_caps=caps)
    assert torch.equal(got.keep, ref.keep)
    for a, b in zip(got.buckets, ref.buckets, strict=True):
        assert a.cap == b.cap
        for name in ("index", "padding_mask", "window_ids"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
    return got


@pytest.mark.parametrize("shifted", [False, True], ids=["plain", "shifted"])
def test_ext_matches_reference(device, ext, shifted):
    g = torch.Generator().manual_seed(1)
    # per sample about 17, 50, 75 and 125 voxels per 10x10 window: every bucket is used, and sample 3 drops
    per_sample = [2000, 6000, 9000, 15000]
    batch = torch.cat([torch.full((n,), b) for b, n in enumerate(per_sample)])
    n = batch.numel()
    voxels = torch.stack([batch, torch.zeros(n, dtype=torch.long), torch.randint(0, 100, (n,), generator=g),
                          torch.randint(0, 120, (n,), generator=g)], 1)
    wp = window_partition(voxels.to(device), sparse_shape=(100, 120), window_shape=(10, 10), shifted=shifted)
    rb = _compare(wp, (30, 60, 100), ext)
    assert all(b.num_windows > 0 for b in rb.buckets) and not rb.keep.all()  # every bucket used, some drops


@pytest.mark.parametrize("case", ["empty", "one", "single-bucket"])
def test_edge_cases(device, impls, case):
    tokens = {"empty": [], "one": [1], "single-bucket": [5, 1, 9]}[case]
    wp = partition_with_tokens(tokens, device) if tokens else window_partition(
        torch.zeros(0, 4, dtype=torch.long, device=device), sparse_shape=(4, 4), window_shape=(4, 4))
    caps = (8,) if case == "single-bucket" else (2, 4)
    for impl in impls:
        rb = _compare(wp, caps, impl)
    assert sum(b.num_windows for b in rb.buckets) == len(tokens)
    with pytest.raises(ValueError, match="strictly ascending"):
        region_batching(wp, bucket_caps=(4, 4))


def _index_and_feats(device, dtype=torch.float64, v=9, c=3):
    index = torch.tensor([[0, 4, -1], [7, 2, 8], [-1, -1, -1], [5, -1, -1]], device=device)
    feats = torch.randn(v, c, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(device, dtype)
    return index, feats


def test_gather_scatter_known_answer(device, impls):
    index, feats = _index_and_feats(device)
    for impl in impls:
        regions = gather_regions(feats, index, impl=impl)
        assert regions.shape == (4, 3, 3)
        assert torch.equal(regions[0, 1], feats[4]) and torch.equal(regions[1, 2], feats[8])
        assert (regions[index < 0] == 0).all()
        back = scatter_regions(regions, index, 9, impl=impl)
        present = torch.zeros(9, dtype=torch.bool, device=device)
        present[index[index >= 0]] = True
        assert torch.equal(back[present], feats[present]) and (back[~present] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_gather_scatter_match_reference(device, ext, dtype):
    g = torch.Generator().manual_seed(3)
    v, c = 5000, 32
    index = torch.randint(-1, v, (400, 30), generator=g).to(device)  # repeated indices: scatter sums them
    feats = torch.randn(v, c, generator=g).to(device, dtype)
    regions = torch.randn(400, 30, c, generator=g).to(device, dtype)
    assert torch.equal(gather_regions(feats, index, impl=ext), gather_regions_reference(feats, index))
    tol = dict(rtol=1e-2, atol=5e-2) if dtype in (torch.float16, torch.bfloat16) else {}
    torch.testing.assert_close(scatter_regions(regions, index, v, impl=ext),
                               scatter_regions_reference(regions, index, v), **tol)
    # each voxel at most once (what region batching produces): the copy path, bit-exact
    unique = torch.randperm(v, generator=g)[:400 * 10].reshape(400, 10)
    unique = torch.where(torch.rand(400, 10, generator=g) < 0.2, -1, unique).to(device)
    few = regions[:, :10].contiguous()
    assert torch.equal(scatter_regions(few, unique, v, impl=ext), scatter_regions_reference(few, unique, v))
    # several buckets into one output: copy path (disjoint voxels) and accumulate path (a voxel in two buckets)
    buckets = [few[:150], regions[150:250, :7].contiguous(), few[250:]]
    idx = [unique[:150], unique[150:250, :7].contiguous(), unique[250:]]
    expected = torch.zeros(v, c, dtype=dtype, device=device)
    for r, i in zip(buckets, idx):
        expected[i[i >= 0]] += r[i >= 0]
    assert torch.equal(scatter_regions(buckets, idx, v, impl=ext), expected)
    assert torch.equal(scatter_regions_reference(buckets, idx, v), expected)
    idx[2] = idx[2].clone()
    idx[2][0, 0] = idx[0][idx[0] >= 0][0]          # that voxel is now in buckets 0 and 2
    torch.testing.assert_close(scatter_regions(buckets, idx, v, impl=ext), scatter_regions_reference(buckets, idx, v),
                               **tol)


def test_gather_scatter_gradcheck_and_adjoint(device, impls):
    index, feats = _index_and_feats(device)
    index[3, 1] = 0  # voxel 0 twice: scatter sums, gather's backward accumulates
    for impl in impls:
        f = feats.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda x: gather_regions(x, index, impl=impl), (f,)), impl
        r = torch.randn(4, 3, 3, dtype=torch.float64, device=device, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x: scatter_regions(x, index, 9, impl=impl), (r,)), impl
        # <gather(f), r> == <f, scatter(r)>
        lhs = (gather_regions(feats, index, impl=impl) * r.detach()).sum()
        rhs = (feats * scatter_regions(r.detach(), index, 9, impl=impl)).sum()
        torch.testing.assert_close(lhs, rhs)


def test_double_backward_through_ext(device, ext):
    index, feats = _index_and_feats(device)
    f = feats.clone().requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda x: gather_regions(x, index, impl=ext) ** 2, (f,))


def test_sst_round_trip(device, impls):
    """gather every bucket, scatter back: the kept voxels get their features, the dropped ones zero."""
    wp = partition_with_tokens([1, 3, 7, 2, 4], device)
    feats = torch.randn(wp.num_voxels, 8, device=device)
    for impl in impls:
        rb = region_batching(wp, bucket_caps=(2, 4), impl=impl)
        out = sum(scatter_regions(gather_regions(feats, b.index, impl=impl), b.index, rb.num_voxels, impl=impl)
                  for b in rb.buckets)
        assert torch.equal(out, feats * rb.keep[:, None])
        index = [b.index for b in rb.buckets]
        at_once = scatter_regions([gather_regions(feats, i, impl=impl) for i in index], index, rb.num_voxels,
                                  impl=impl)
        assert torch.equal(at_once, out)
        # gradients reach every bucket's regions: d(sum of the output)/d(regions) is 1 at voxels, 0 at padding
        regions = [gather_regions(feats, i, impl=impl).requires_grad_(True) for i in index]
        scatter_regions(regions, index, rb.num_voxels, impl=impl).sum().backward()
        for r, i in zip(regions, index):
            assert torch.equal(r.grad, (i >= 0)[..., None].expand_as(r).to(r.dtype))


def test_rejects_bad_input(device, impls):
    index, feats = _index_and_feats(device)
    for impl in impls:
        with pytest.raises(ValueError, match="int64"):
            gather_regions(feats, index.int(), impl=impl)
        with pytest.raises(ValueError, match="matching index"):
            scatter_regions(torch.zeros(4, 2, 3, device=device), index, 9, impl=impl)
        with pytest.raises(ValueError, match="as many region tensors as index tensors"):
            scatter_regions([torch.zeros(4, 3, 3, device=device)], [index, index], 9, impl=impl)
        with pytest.raises(ValueError, match="bucket 1 has 2"):
            scatter_regions([torch.zeros(4, 3, 3, device=device), torch.zeros(4, 3, 2, device=device)],
                            [index, index], 9, impl=impl)


def test_cpu_ext_rejects_out_of_range_index(ext, device):
    if device.type != "cpu":
        pytest.skip("the CUDA kernels ignore out-of-range indices (a check would need a device sync)")
    index, feats = _index_and_feats(device)
    with pytest.raises(IndexError, match="out of range"):
        gather_regions(feats, index + 5, impl=ext)
    with pytest.raises(IndexError, match="out of range"):
        scatter_regions(torch.zeros(4, 3, 3, dtype=torch.float64), index + 5, 9, impl=ext)
