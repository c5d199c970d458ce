"""Build and install ``perception`` and its compiled sparse ops.

The C++ sources in ``ops/csrc`` (``*.cpp``) are always compiled into
``perception._ops_ext``.  The CUDA sources (``*.cu``) are added when CUDA is
usable: a CUDA build of torch and ``nvcc`` found, or ``FORCE_CUDA=1``.  If no
compiler works at all, set ``PERCEPTION_SKIP_OPS=1`` (or let the build fail
over to it, see below): the package then installs without the extension and
``perception.ops`` runs the pure-PyTorch reference, warning once.

Install with ``pip install --no-build-isolation -e .`` after torch (see README).
"""
from __future__ import annotations

import glob
import os
import sys

from setuptools import find_packages, setup

ROOT = os.path.dirname(os.path.abspath(__file__))


def _read_version() -> str:
    scope: dict = {}
    with open(os.path.join(ROOT, "perception", "version.py"), encoding="utf-8") as f:
        exec(f.read(), scope)
    return scope["__version__"]


def _ops_extension():
    """The ``perception._ops_ext`` extension, or ``None`` when it cannot be built here."""
    if os.environ.get("PERCEPTION_SKIP_OPS", "0") == "1":
        print("perception setup: PERCEPTION_SKIP_OPS=1, installing without compiled ops", file=sys.stderr)
        return None, {}
    import torch
    from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

    csrc = os.path.join("ops", "csrc")
    cpp_sources = sorted(glob.glob(os.path.join(csrc, "**", "*.cpp"), recursive=True))
    cu_sources = sorted(glob.glob(os.path.join(csrc, "**", "*.cu"), recursive=True))
    force_cuda = os.environ.get("FORCE_CUDA", "0") == "1"
    with_cuda = force_cuda or (torch.cuda.is_available() and CUDA_HOME is not None)
    if with_cuda and torch.version.cuda is None:
        print("perception setup: FORCE_CUDA=1 but this torch is a CPU build; building CPU ops only. "
              "(CI checks the .cu sources with `tools/check_cuda_compile.py` instead.)", file=sys.stderr)
        with_cuda = False
    # Optional unless PERCEPTION_REQUIRE_OPS=1 (CI and the Makefile set it, so a broken kernel fails there):
    # an optional build that fails installs the package without the extension, and perception.ops then
    # runs the PyTorch references, warning once.
    required = os.environ.get("PERCEPTION_REQUIRE_OPS", "0") == "1"
    cxx_flags = ["-O3", "-std=c++17", "-fopenmp"]
    define_macros = []
    if with_cuda:
        define_macros.append(("WITH_CUDA", None))
        ext = CUDAExtension(
            name="perception._ops_ext", sources=cpp_sources + cu_sources, define_macros=define_macros,
            include_dirs=[os.path.join(ROOT, csrc)],
            extra_compile_args={"cxx": cxx_flags, "nvcc": ["-O3", "-std=c++17", "--expt-relaxed-constexpr"]},
            extra_link_args=["-fopenmp"], optional=not required)
    else:
        ext = CppExtension(
            name="perception._ops_ext", sources=cpp_sources, define_macros=define_macros,
            include_dirs=[os.path.join(ROOT, csrc)], extra_compile_args={"cxx": cxx_flags},
            extra_link_args=["-fopenmp"], optional=not required)
    print(f"perception setup: building perception._ops_ext ({'CPU + CUDA' if with_cuda else 'CPU'}, "
          f"{'required' if required else 'optional'})", file=sys.stderr)

    class BuildOps(BuildExtension.with_options(use_ninja=True)):
        # setuptools skips a failed optional extension only for distutils' compiler errors; torch's ninja
        # build raises RuntimeError, so catch that here too.
        def build_extension(self, extension):
            try:
                super().build_extension(extension)
            except Exception as exc:  # noqa: BLE001 - any build failure of an optional extension
                if not getattr(extension, "optional", False):
                    raise
                print(f"perception setup: WARNING: building {extension.name} failed ({exc}); installing "
                      "without it (perception.ops falls back to the PyTorch references). Set "
                      "PERCEPTION_REQUIRE_OPS=1 to make this an error.", file=sys.stderr)

    return ext, {"build_ext": BuildOps}


ext, cmdclass = _ops_extension()

setup(
    name="perception",
    version=_read_version(),
    description="Multi-source perception for autonomous driving: TridentNet, pointly-supervised panoptic "
                "segmentation, SST LiDAR detection and late fusion",
    packages=find_packages(include=["perception", "perception.*"]),
    package_data={"perception.ros": ["msg/*/*.msg"]},
    python_requires=">=3.10",
    ext_modules=[ext] if ext is not None else [],
    cmdclass=cmdclass,
    zip_safe=False,
)
