"""Fixtures of the ops tests: a ``device`` fixture that gives every test a CUDA twin
(skipped, visibly, without a GPU) and an ``ext`` fixture for the compiled implementation."""
from __future__ import annotations

import os

import pytest
import torch

from perception.ops._extension import extension

REQUIRE_OPS = os.environ.get("PERCEPTION_REQUIRE_OPS", "0") == "1"
CUDA = pytest.param("cuda", marks=[pytest.mark.cuda,
                                   pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")])


@pytest.fixture(params=["cpu", CUDA])
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture
def ext(device) -> str:
    """``"ext"`` when the extension can run on ``device``; skips (fails under PERCEPTION_REQUIRE_OPS=1) otherwise."""
    module = extension()
    if module is None:
        if REQUIRE_OPS:
            pytest.fail("perception._ops_ext is not built but PERCEPTION_REQUIRE_OPS=1")
        pytest.skip("perception._ops_ext is not built")
    if device.type == "cuda" and not module.with_cuda():
        if REQUIRE_OPS:
            pytest.fail("perception._ops_ext was built without CUDA on a machine with a GPU")
        pytest.skip("perception._ops_ext was built without CUDA")
    return "ext"


@pytest.fixture
def impls(device) -> list[str]:
    """The implementations that can run on ``device``: the reference, plus the extension when usable."""
    module = extension()
    usable = module is not None and (device.type == "cpu" or module.with_cuda())
    return ["reference", "ext"] if usable else ["reference"]
