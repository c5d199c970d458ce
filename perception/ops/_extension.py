"""Loading ``perception._ops_ext`` and choosing, per call, the extension or the reference.

* The extension missing (the optional build was skipped or failed): warn once,
  use the pure-PyTorch references.
* The extension present but failing to import (an ABI mismatch, a missing
  library): the ``ImportError`` propagates; a broken build is never hidden.
* Every public op takes ``impl`` in ``{"auto", "ext", "reference"}``:
  ``"reference"`` always runs the PyTorch reference; ``"ext"`` always runs the
  extension (an error when it is not built); ``"auto"`` runs the extension when
  it is built and can take the tensors (CPU, or CUDA when built with CUDA), the
  reference otherwise.  The extension itself picks its CPU or CUDA kernel from
  the tensors' device.
"""
from __future__ import annotations

import importlib
import importlib.util
import warnings
from types import ModuleType

import torch

__all__ = ["IMPLS", "backend_summary", "extension", "extension_available", "needs_autograd", "use_extension"]

IMPLS = ("auto", "ext", "reference")
EXTENSION_NAME = "perception._ops_ext"
REBUILD_HINT = "Rebuild with `pip install --no-build-isolation -e .`"

_loaded = False
_module: ModuleType | None = None
_warned: set[str] = set()


def extension() -> ModuleType | None:
    """The compiled module, or ``None`` when it is not built.  An import failure propagates."""
    global _loaded, _module
    if not _loaded:
        if importlib.util.find_spec(EXTENSION_NAME) is None:
            _module = None
        else:
            _module = importlib.import_module(EXTENSION_NAME)  # torch is imported above: libc10 is loaded
        _loaded = True
    return _module


def extension_available() -> bool:
    return extension() is not None


def backend_summary() -> str:
    """One line saying which implementations ``impl="auto"`` runs on CPU and CUDA tensors."""
    ext = extension()
    if ext is None:
        return f"{EXTENSION_NAME} not built: PyTorch references on every device"
    cuda = "CUDA kernels" if ext.with_cuda() else "PyTorch references (built without CUDA)"
    return f"{EXTENSION_NAME}: C++ kernels on CPU, {cuda} on CUDA"


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def use_extension(op: str, impl: str, *tensors: torch.Tensor, supported_dtype: bool = True) -> bool:
    """Whether ``op`` runs in the extension (True) or the PyTorch reference (False) for these tensors.

    ``supported_dtype=False`` (a dtype the kernels do not take) sends ``"auto"`` to the reference; ``"ext"``
    still calls the extension, which raises a clear error.
    """
    if impl not in IMPLS:
        raise ValueError(f"{op}: impl must be one of {IMPLS}, got {impl!r}")
    if impl == "reference":
        return False
    ext = extension()
    if ext is None:
        if impl == "ext":
            raise RuntimeError(f"{op}: impl='ext' but {EXTENSION_NAME} is not built. {REBUILD_HINT}")
        _warn_once("missing", f"{EXTENSION_NAME} is not built; using the pure-PyTorch reference ops (slower). "
                              f"{REBUILD_HINT}")
        return False
    if impl == "ext":
        return True  # the extension raises a clear error for a device it cannot take
    if not supported_dtype:
        return False
    devices = {t.device.type for t in tensors}
    if "cuda" in devices and not ext.with_cuda():
        _warn_once("no-cuda", f"{EXTENSION_NAME} was built without CUDA; CUDA tensors use the pure-PyTorch "
                              f"reference ops (slower). {REBUILD_HINT} on a machine with nvcc and a CUDA torch")
        return False
    return devices <= {"cpu", "cuda"}


def needs_autograd(*tensors: torch.Tensor) -> bool:
    """Whether a call on ``tensors`` must record a graph: grad mode is on and one of them requires grad.  When
    not, an op calls its kernel directly: the ``autograd.Function`` bookkeeping alone costs tens of
    microseconds a call, a large share of a sub-millisecond op."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
