"""The extension is built, its loader behaves, and the ops stay free of mmdet/mmengine."""
from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import warnings

import pytest
import torch

import perception.ops as ops
from perception.ops import _extension


def test_extension_is_built():
    """Fails (not skips) when PERCEPTION_REQUIRE_OPS=1 and the build is missing."""
    spec = importlib.util.find_spec("perception._ops_ext")
    if spec is None:
        if os.environ.get("PERCEPTION_REQUIRE_OPS", "0") == "1":
            pytest.fail("perception._ops_ext is missing although PERCEPTION_REQUIRE_OPS=1; "
                        "rebuild with `pip install --no-build-isolation -e .`")
        pytest.skip("perception._ops_ext is not built (set PERCEPTION_REQUIRE_OPS=1 to make this a failure)")
    module = _extension.extension()
    assert module is not None and ops.extension_available()
    assert isinstance(module.with_cuda(), bool)
    if torch.cuda.is_available() and os.environ.get("PERCEPTION_REQUIRE_OPS", "0") == "1":
        assert module.with_cuda(), "a GPU is visible but perception._ops_ext was built without CUDA"


@pytest.fixture
def missing_extension(monkeypatch):
    monkeypatch.setattr(_extension, "_loaded", True)
    monkeypatch.setattr(_extension, "_module", None)
    monkeypatch.setattr(_extension, "_warned", set())


def test_missing_extension_warns_once_and_uses_reference(missing_extension):
    points = torch.tensor([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    boxes = torch.tensor([[0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = ops.points_in_boxes(points, boxes)
        ops.points_in_boxes(points, boxes)
        ops.voxel_coords(points, voxel_size=[1, 1, 1], point_range=[0, 0, 0, 4, 4, 4])
    messages = [str(w.message) for w in caught if "not built" in str(w.message)]
    assert len(messages) == 1
    assert "perception._ops_ext is not built; using the pure-PyTorch reference ops (slower)" in messages[0]
    assert "pip install --no-build-isolation -e ." in messages[0]
    assert first[:, 0].tolist() == [True, False]
    with pytest.raises(RuntimeError, match="impl='ext' but perception._ops_ext is not built"):
        ops.points_in_boxes(points, boxes, impl="ext")


def test_reference_never_loads_or_warns(missing_extension):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops.points_in_boxes(torch.zeros(1, 3), torch.zeros(1, 7), impl="reference")


def test_broken_extension_import_propagates(monkeypatch):
    monkeypatch.setattr(_extension, "_loaded", False)
    monkeypatch.setattr(_extension, "_module", None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())

    def broken(name):
        raise ImportError(f"{name}: undefined symbol _ZN3c10 (simulated)")

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ImportError, match="simulated"):
        ops.points_in_boxes(torch.zeros(1, 3), torch.zeros(1, 7))


def test_impl_is_validated():
    with pytest.raises(ValueError, match="impl must be one of"):
        ops.points_in_boxes(torch.zeros(1, 3), torch.zeros(1, 7), impl="fast")


def test_binding_validates_inputs(ext):
    module = _extension.extension()
    pts, boxes = torch.zeros(4, 3), torch.zeros(2, 7)
    with pytest.raises(TypeError, match=r"points_in_boxes: `points` must be float32 or float64, got Int"):
        module.points_in_boxes(pts.int(), boxes, 1e-4)
    with pytest.raises(ValueError, match=r"`boxes` must be \(N, 7\)"):
        module.points_in_boxes(pts, torch.zeros(2, 6), 1e-4)
    with pytest.raises(ValueError, match="must share a dtype"):
        module.points_in_boxes(pts, boxes.double(), 1e-4)
    with pytest.raises(ValueError, match="must be contiguous"):
        module.points_in_boxes(torch.zeros(3, 4)[:, :3], boxes, 1e-4)
    with pytest.raises(ValueError, match="`coords` must be a 2-D tensor"):
        module.unique_voxels(torch.zeros(4, dtype=torch.int32))
    with pytest.raises(ValueError, match="`reduce` must be 'sum', 'mean' or 'max'"):
        module.scatter_reduce_forward(torch.zeros(2, 1), torch.zeros(2, dtype=torch.long), 1, "min")
    with pytest.raises(ValueError, match="strictly ascending"):
        module.region_batching(*(torch.zeros(0, dtype=torch.long),) * 3, [4, 2])
    with pytest.raises(RuntimeError, match="unsupported device meta"):
        module.points_in_boxes(pts.to("meta"), boxes.to("meta"), 1e-4)


def test_ops_do_not_import_mm_packages():
    code = ("import sys, perception.ops, perception.structures; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('mmdet', 'mmengine', 'mmcv')); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def _differentiable_calls(x: torch.Tensor) -> dict:
    """Each op with autograd on the float input ``x`` (``(6, 2)``), by name."""
    p2v = torch.tensor([0, 1, 1, -1, 2, 0], device=x.device)
    index = torch.tensor([[0, 2, -1], [1, 3, 4]], device=x.device)
    return {
        "scatter_reduce": lambda impl: ops.scatter_reduce(x, p2v, 3, "mean", impl=impl),
        "gather_regions": lambda impl: ops.gather_regions(x, index, impl=impl),
        "scatter_regions": lambda impl: ops.scatter_regions(x[:4].reshape(2, 2, 2), index[:, :2], 6, impl=impl),
    }


@pytest.mark.parametrize("op", ["scatter_reduce", "gather_regions", "scatter_regions"])
def test_ops_record_a_graph_only_when_a_gradient_is_wanted(device, ext, op):
    """Without a gradient to compute the ops skip autograd's bookkeeping and call the kernel directly: the same
    values, no graph; with one they record it."""
    x = torch.randn(6, 2, device=device, dtype=torch.float64)
    plain = _differentiable_calls(x)[op](ext)
    leaf = x.clone().requires_grad_(True)
    with torch.no_grad():
        no_grad = _differentiable_calls(leaf)[op](ext)
    graph = _differentiable_calls(leaf)[op](ext)
    assert not plain.requires_grad and not no_grad.requires_grad and graph.grad_fn is not None
    assert torch.equal(plain, no_grad) and torch.equal(plain, graph.detach())
    torch.testing.assert_close(plain, _differentiable_calls(x)[op]("reference"))
