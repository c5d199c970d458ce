#!/usr/bin/env bash
# The GPU checks of the LiDAR ops (issue #3), in one run, for a lent CUDA machine that has only PyTorch
# (no mmdet, mmengine or spconv; nothing can be downloaded there):
#   1. build perception._ops_ext with its CUDA kernels in place (sm_90 unless TORCH_CUDA_ARCH_LIST says otherwise);
#   2. run tests/ops with PERCEPTION_REQUIRE_OPS=1, so every CUDA twin of a CPU op test runs and none may skip
#      for want of the extension;
#   3. time the ops and the SST encoder on the GPU: tools/benchmark.py lidar_ops and lidar (synthetic frame).
# Results land in $OUT (default work_dirs/gpu_check): gpu.txt, build.log, tests_ops.log, lidar_ops_cuda.json,
# lidar_cuda.json.  About 5 minutes on an H200 machine (16 cores).
#
#   bash tools/gpu_check.sh                    # on the GPU machine, from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-work_dirs/gpu_check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PERCEPTION_REQUIRE_OPS=1 FORCE_CUDA=1
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
export MAX_JOBS=${MAX_JOBS:-$(nproc)}

if ! command -v nvidia-smi > /dev/null || ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  echo "gpu_check: no CUDA GPU here (nvidia-smi, torch.cuda.is_available()): run it on the GPU machine" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())" \
  | tee -a "$OUT/gpu.txt"

echo "== build (log: $OUT/build.log)"
"$PY" setup.py build_ext --inplace > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
"$PY" -c "from perception.ops._extension import extension; m = extension(); \
assert m is not None and m.with_cuda(), 'perception._ops_ext was built without CUDA'; print('extension: CPU + CUDA')"

echo "== tests/ops (log: $OUT/tests_ops.log)"
status=0
"$PY" -m pytest -q -p no:cacheprovider tests/ops > "$OUT/tests_ops.log" 2>&1 || status=$?
tail -5 "$OUT/tests_ops.log"

echo "== benchmarks"
"$PY" tools/benchmark.py lidar_ops --device cuda --out "$OUT/lidar_ops_cuda.json" > /dev/null
"$PY" tools/benchmark.py lidar --device cuda --frame synthetic --out "$OUT/lidar_cuda.json" > /dev/null
echo "wrote $OUT/lidar_ops_cuda.json $OUT/lidar_cuda.json"
exit "$status"
