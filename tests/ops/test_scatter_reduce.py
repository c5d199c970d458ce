"""scatter_reduce: known answers, gradients (gradcheck in float64), every implementation vs the reference."""
from __future__ import annotations

import pytest
import torch

from perception.ops import REDUCTIONS, scatter_reduce, scatter_reduce_reference

FEATS = [[1.0, 5.0], [3.0, 2.0], [2.0, 2.0], [7.0, 0.0], [3.0, -1.0]]
P2V = [0, 0, -1, 2, 0]  # voxel 1 and 3 have no point; point 2 is ignored
EXPECTED = {
    "sum": [[7.0, 6.0], [0.0, 0.0], [7.0, 0.0], [0.0, 0.0]],
    "mean": [[7.0 / 3, 2.0], [0.0, 0.0], [7.0, 0.0], [0.0, 0.0]],
    "max": [[3.0, 5.0], [0.0, 0.0], [7.0, 0.0], [0.0, 0.0]],
}
# d out[v, c] / d feats: max ties (3.0 at points 1 and 4, channel 0) go to the lowest index
EXPECTED_GRAD = {
    "sum": [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]],
    "mean": [[1 / 3, 1 / 3], [1 / 3, 1 / 3], [0.0, 0.0], [1.0, 1.0], [1 / 3, 1 / 3]],
    "max": [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]],
}


@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_known_answer_and_gradient(device, impls, reduce):
    for impl in impls:
        feats = torch.tensor(FEATS, device=device, requires_grad=True)
        out = scatter_reduce(feats, torch.tensor(P2V, device=device), 4, reduce, impl=impl)
        torch.testing.assert_close(out, torch.tensor(EXPECTED[reduce], device=device), msg=impl)
        out.sum().backward()
        torch.testing.assert_close(feats.grad, torch.tensor(EXPECTED_GRAD[reduce], device=device), msg=impl)


def random_case(p: int, v: int, c: int, device, dtype, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(p, c, generator=g, dtype=torch.float64).to(device, dtype)
    p2v = torch.randint(-1, v, (p,), generator=g).to(device)
    return feats, p2v


# (P, V, C): the CPU kernel streams sums and means of up to 4 channels into outputs of up to 2 MiB, and groups
# points by voxel otherwise (more channels, max, larger outputs)
XYZ, SMALL_OUTPUT, LARGE_OUTPUT = (20000, 3000, 3), (20000, 3000, 16), (8000, 3000, 64)
SIZES = pytest.mark.parametrize("size", [XYZ, SMALL_OUTPUT, LARGE_OUTPUT], ids=["xyz", "C=16", "C=64"])


@SIZES
@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ext_matches_reference(device, ext, reduce, dtype, size):
    p, v, c = size
    feats, p2v = random_case(p, v, c, device, dtype)
    feats[::7] = feats[::7].round()  # plenty of exact ties for max
    weights = torch.randn(v, c, dtype=dtype, device=device)
    results = []
    for impl in ("reference", ext):
        x = feats.clone().requires_grad_(True)
        out = scatter_reduce(x, p2v, v, reduce, impl=impl)
        (out * weights).sum().backward()
        results.append((out.detach(), x.grad))
    (ref, ref_grad), (got, got_grad) = results
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got, ref, **tol)
    torch.testing.assert_close(got_grad, ref_grad, **tol)
    if reduce == "max":  # max selects values: exact, and the tie-breaking must agree
        assert torch.equal(got, ref) and torch.equal(got_grad, ref_grad)


@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_gradcheck(device, impls, reduce):
    for impl in impls:
        feats, p2v = random_case(12, 5, 3, device, torch.float64, seed=1)
        feats.requires_grad_(True)
        assert torch.autograd.gradcheck(lambda f: scatter_reduce(f, p2v, 5, reduce, impl=impl), (feats,)), impl


@pytest.mark.parametrize("case", ["empty", "no-voxels", "all-ignored", "one-point", "all-in-one"])
@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_edge_cases(device, impls, case, reduce):
    p, v = {"empty": (0, 3), "no-voxels": (0, 0), "all-ignored": (4, 2), "one-point": (1, 1),
            "all-in-one": (50, 1)}[case]
    feats = torch.randn(p, 4, device=device, dtype=torch.float64)
    p2v = torch.full((p,), -1 if case == "all-ignored" else 0, device=device, dtype=torch.long)
    outs = []
    for impl in impls:
        x = feats.clone().requires_grad_(True)
        out = scatter_reduce(x, p2v, v, reduce, impl=impl)
        out.sum().backward()
        assert out.shape == (v, 4) and x.grad.shape == (p, 4)
        outs.append((out.detach(), x.grad))
    for out, grad in outs[1:]:
        torch.testing.assert_close(out, outs[0][0])
        torch.testing.assert_close(grad, outs[0][1])
    if case == "all-ignored":
        assert (outs[0][0] == 0).all()


def test_rejects_bad_input(device, impls):
    feats = torch.zeros(3, 2, device=device)
    for impl in impls:
        with pytest.raises(ValueError, match="reduce must be one of"):
            scatter_reduce(feats, torch.zeros(3, dtype=torch.long, device=device), 1, "min", impl=impl)
        with pytest.raises(ValueError, match=r"point_to_voxel must be \(P,\)"):
            scatter_reduce(feats, torch.zeros(2, dtype=torch.long, device=device), 1, impl=impl)
        with pytest.raises(TypeError, match="int64"):
            scatter_reduce(feats, torch.zeros(3, dtype=torch.int32, device=device), 1, impl=impl)


def test_cpu_ext_rejects_out_of_range_voxels(ext, device):
    if device.type != "cpu":
        pytest.skip("the CUDA kernel ignores out-of-range indices (a check would need a device sync)")
    with pytest.raises(IndexError, match="out of range"):
        scatter_reduce(torch.zeros(3, 2), torch.tensor([0, 5, 1]), 2, impl=ext)


def test_half_precision_falls_back_to_reference(device):
    feats = torch.randn(10, 3, device=device).half()
    p2v = torch.arange(10, device=device) % 4
    out = scatter_reduce(feats, p2v, 4, "mean")
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), scatter_reduce_reference(feats.float(), p2v, 4, "mean"),
                               rtol=1e-2, atol=1e-2)


@SIZES
@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_cpu_ext_is_independent_of_the_thread_count(device, ext, reduce, size):
    """Each voxel is reduced by one thread in ascending point order, whatever the split: bitwise equal."""
    if device.type != "cpu":
        pytest.skip("the thread count is a property of the CPU kernels")
    p, v, c = size
    feats, p2v = random_case(p, v, c, "cpu", torch.float32, seed=3)
    threads = torch.get_num_threads()
    outs = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            outs.append(scatter_reduce(feats, p2v, v, reduce, impl=ext))
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(outs[0], o) for o in outs[1:])


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_cpu_streaming_and_grouped_kernels_agree_bitwise(device, ext, reduce, channels):
    """The same voxels reduced into a 2.3-9 MiB output (grouped kernel) and, alone, into a small one (streaming
    kernel): the same points in the same order, so bitwise the same values and gradients."""
    if device.type != "cpu":
        pytest.skip("the kernel choice is a property of the CPU kernels")
    p, v, c = 400_000, 600_000, channels
    feats, p2v = random_case(p, v, c, "cpu", torch.float32, seed=4)
    subset = 2000                     # voxels [0, 2000): an output of at most 31 KiB
    inside = (p2v >= 0) & (p2v < subset)
    results = []
    for x_all, index, num_voxels in ((feats, p2v, v), (feats[inside], p2v[inside], subset)):
        x = x_all.clone().requires_grad_(True)
        out = scatter_reduce(x, index, num_voxels, reduce, impl=ext)
        out[:subset].sum().backward()
        results.append((out[:subset].detach(), x.grad if num_voxels == subset else x.grad[inside]))
    (grouped, grouped_grad), (streamed, streamed_grad) = results
    assert torch.equal(grouped, streamed) and torch.equal(grouped_grad, streamed_grad)
