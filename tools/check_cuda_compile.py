"""Compile every CUDA source of the ops (``ops/csrc/**/*.cu``) with nvcc, compile only.

CI has no GPU and a CPU build of torch, so ``setup.py`` builds the CPU kernels
only; this script keeps the ``.cu`` files honest there.  Each file is compiled
with ``nvcc -c`` (C++17, ``-DWITH_CUDA``, torch's include dirs, the same
``COMMON_NVCC_FLAGS`` a torch CUDA extension gets, one SASS per arch in
``--archs``) into a temporary directory; one line per file is printed, and
nvcc's output for each failure.  Exits non-zero when any file fails or nvcc
is missing.

The CPU torch wheel ships the ATen/c10 CUDA headers the kernels use, except
the generated ``c10/cuda/impl/cuda_cmake_macros.h`` (it only exists in CUDA
builds); when it is missing, this script writes the stub a CUDA build would
have (``#define C10_CUDA_BUILD_SHARED_LIBS``) into its temp include dir.  The
kernels include ``c10/cuda`` headers rather than ``ATen/cuda/CUDAContext.h``,
which would need the cuBLAS/cuSPARSE/cuSOLVER headers that a minimal CUDA
toolkit lacks.

Usage::

    python tools/check_cuda_compile.py [--archs 80,90] [--jobs N] [--nvcc PATH]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
CSRC = ROOT / "ops" / "csrc"
CMAKE_MACROS = "c10/cuda/impl/cuda_cmake_macros.h"


def find_nvcc(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    found = shutil.which("nvcc")
    if found:
        return found
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home and (pathlib.Path(home) / "bin" / "nvcc").is_file():
            return str(pathlib.Path(home) / "bin" / "nvcc")
    return None


def nvcc_command(nvcc: str, source: pathlib.Path, output: pathlib.Path, include_dirs: list[str],
                 archs: list[str]) -> list[str]:
    import torch
    from torch.utils.cpp_extension import COMMON_NVCC_FLAGS

    cmd = [nvcc, "-c", str(source), "-o", str(output), "-std=c++17", "-O2", "-DWITH_CUDA",
           "-DTORCH_EXTENSION_NAME=_ops_ext", f"-D_GLIBCXX_USE_CXX11_ABI={int(torch.compiled_with_cxx11_abi())}",
           "-Xcompiler", "-fPIC", *COMMON_NVCC_FLAGS]
    for arch in archs:
        cmd.append(f"-gencode=arch=compute_{arch},code=sm_{arch}")
    for inc in include_dirs:
        cmd += ["-I", inc]
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default="80,90", help="comma-separated SM versions (default: 80,90)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel nvcc processes")
    parser.add_argument("--nvcc", help="nvcc to use (default: PATH, then $CUDA_HOME/bin)")
    args = parser.parse_args(argv)

    sources = sorted(CSRC.rglob("*.cu"))
    if not sources:
        print(f"check_cuda_compile: no .cu files under {CSRC}", file=sys.stderr)
        return 1
    nvcc = find_nvcc(args.nvcc)
    if nvcc is None:
        print("check_cuda_compile: nvcc not found (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin)", file=sys.stderr)
        return 1
    from torch.utils.cpp_extension import include_paths

    archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    version = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout.strip().splitlines()
    print(f"check_cuda_compile: {nvcc} ({version[-1] if version else 'unknown version'}), archs {archs}, "
          f"{len(sources)} files")

    with tempfile.TemporaryDirectory(prefix="check_cuda_") as tmp:
        tmp_path = pathlib.Path(tmp)
        torch_includes = include_paths()
        include_dirs = [str(CSRC), *torch_includes, sysconfig.get_paths()["include"]]
        if not any((pathlib.Path(d) / CMAKE_MACROS).is_file() for d in torch_includes):
            stub = tmp_path / "include" / CMAKE_MACROS
            stub.parent.mkdir(parents=True)
            stub.write_text("#pragma once\n// Stub of the header that CUDA builds of torch generate.\n"
                            "#define C10_CUDA_BUILD_SHARED_LIBS\n")
            include_dirs.append(str(tmp_path / "include"))
            print(f"check_cuda_compile: {CMAKE_MACROS} is missing from this (CPU) torch; using a stub")

        def compile_one(source: pathlib.Path) -> tuple[pathlib.Path, int, str, float]:
            output = tmp_path / (source.relative_to(CSRC).as_posix().replace("/", "_") + ".o")
            start = time.perf_counter()
            proc = subprocess.run(nvcc_command(nvcc, source, output, include_dirs, archs), capture_output=True,
                                  text=True)
            return source, proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start

        failures = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for source, code, log, seconds in pool.map(compile_one, sources):
                rel = source.relative_to(ROOT)
                if code == 0:
                    print(f"OK    {rel} ({seconds:.1f} s)")
                else:
                    failures += 1
                    print(f"FAIL  {rel} (nvcc exit {code}, {seconds:.1f} s)\n{log.rstrip()}")
    # Worded unlike a test runner's "N passed, N failed" summary, which CI logs are scanned for.
    if failures:
        print(f"check_cuda_compile: {failures} of {len(sources)} CUDA sources FAILED to compile")
    else:
        print(f"check_cuda_compile: all {len(sources)} CUDA sources compiled")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
