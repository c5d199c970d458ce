// Small helpers shared by the CUDA kernels.
//
// Deliberately includes only c10/cuda headers (stream, guard, launch checks)
// and not ATen/cuda/CUDAContext.h: the latter pulls in the cuBLAS, cuSPARSE
// and cuSOLVER headers, which a minimal CUDA toolkit (nvcc + cudart + CCCL, as
// on CI) lacks, and none of these ops needs them.
// c10::cuda::getCurrentCUDAStream() is the function that
// at::cuda::getCurrentCUDAStream() re-exports.
#pragma once

#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cstdint>

namespace perception {

constexpr int kThreadsPerBlock = 256;

// Enough blocks to cover n with grid-stride loops, capped (the loops do the rest).
inline int blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(blocks, int64_t(1) << 16)));
}

inline cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

}  // namespace perception

#define PERCEPTION_CUDA_LOOP(i, n)                                                       \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// Launch `kernel` over n items on the current stream (skipped when n == 0) and check the launch.
#define PERCEPTION_LAUNCH(kernel, n, ...)                                                                         \
  do {                                                                                                            \
    if ((n) > 0) {                                                                                                \
      kernel<<<::perception::blocks_for(n), ::perception::kThreadsPerBlock, 0, ::perception::current_stream()>>>( \
          __VA_ARGS__);                                                                                           \
      C10_CUDA_KERNEL_LAUNCH_CHECK();                                                                             \
    }                                                                                                             \
  } while (0)
