#include <ATen/Dispatch.h>

#include "common/cuda_utils.cuh"
#include "common/grouping.h"
#include "window_partition/window_partition.h"

namespace perception {

namespace {

template <typename I>
__global__ void window_keys_kernel(const I* __restrict__ voxels, int64_t v, WindowGrid g, int64_t* __restrict__ keys,
                                   int64_t* __restrict__ local) {
  PERCEPTION_CUDA_LOOP(i, v) {
    const I* row = voxels + i * 4;
    keys[i] = window_key(row, g);
    local[i * 2] = (static_cast<int64_t>(row[2]) + g.sy) % g.wy;
    local[i * 2 + 1] = (static_cast<int64_t>(row[3]) + g.sx) % g.wx;
  }
}

}  // namespace

WindowPartitionResult window_partition_cuda(const at::Tensor& voxels, const WindowGrid& g) {
  const c10::cuda::CUDAGuard guard(voxels.device());
  const int64_t v = voxels.size(0);
  const int64_t key_range = window_key_range("window_partition", voxels, g);
  at::Tensor keys = at::empty({v}, voxels.options().dtype(at::kLong));
  at::Tensor local = at::empty({v, 2}, voxels.options().dtype(at::kLong));
  AT_DISPATCH_INDEX_TYPES(voxels.scalar_type(), "window_partition_cuda", [&] {
    PERCEPTION_LAUNCH(window_keys_kernel<index_t>, v, voxels.data_ptr<index_t>(), v, g, keys.data_ptr<int64_t>(),
                      local.data_ptr<int64_t>());
  });
  KeyGroups groups = group_keys_cuda(keys, key_range, /*need_rank=*/true);
  return {groups.group_of, groups.rank, local, groups.group_size};
}

}  // namespace perception
