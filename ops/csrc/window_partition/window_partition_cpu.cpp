#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "common/grouping.h"
#include "window_partition/window_partition.h"

namespace perception {

int64_t window_key_range(const char* op, const at::Tensor& voxels, const WindowGrid& g) {
  if (voxels.size(0) == 0) return 1;
  const at::Tensor cols = voxels.index_select(1, at::tensor({0, 2, 3}, voxels.options().dtype(at::kLong)));
  const auto min_max = cols.aminmax(0);
  const at::Tensor mm = at::stack({std::get<0>(min_max), std::get<1>(min_max)})
                            .to(at::kCPU, at::kLong);  // (2, 3): min and max of b, y, x
  const int64_t* m = mm.data_ptr<int64_t>();
  TORCH_CHECK_VALUE(m[0] >= 0, op, ": batch indices must be >= 0, got ", num_str(m[0]));
  TORCH_CHECK_VALUE(m[1] >= 0 && m[4] < g.ny, op, ": voxel y must be in [0, ", num_str(g.ny), "), got values in [",
                    num_str(m[1]), ", ", num_str(m[4]), "]");
  TORCH_CHECK_VALUE(m[2] >= 0 && m[5] < g.nx, op, ": voxel x must be in [0, ", num_str(g.nx), "), got values in [",
                    num_str(m[2]), ", ", num_str(m[5]), "]");
  const int64_t range = checked_product({m[3] + 1, g.nwy, g.nwx});
  TORCH_CHECK_VALUE(range > 0, op, ": (batch, windows) extents overflow a 62-bit index");
  return range;
}

WindowPartitionResult window_partition_cpu(const at::Tensor& voxels, const WindowGrid& g) {
  const int64_t v = voxels.size(0);
  const int64_t key_range = window_key_range("window_partition", voxels, g);
  at::Tensor keys = at::empty({v}, voxels.options().dtype(at::kLong));
  at::Tensor local = at::empty({v, 2}, voxels.options().dtype(at::kLong));
  AT_DISPATCH_INDEX_TYPES(voxels.scalar_type(), "window_partition_cpu", [&] {
    const index_t* c = voxels.data_ptr<index_t>();
    int64_t* k = keys.data_ptr<int64_t>();
    int64_t* l = local.data_ptr<int64_t>();
    at::parallel_for(0, v, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const index_t* row = c + i * 4;
        k[i] = window_key(row, g);
        l[i * 2] = (static_cast<int64_t>(row[2]) + g.sy) % g.wy;
        l[i * 2 + 1] = (static_cast<int64_t>(row[3]) + g.sx) % g.wx;
      }
    });
  });
  KeyGroups groups = group_keys_cpu(keys, key_range, /*need_rank=*/true);
  return {groups.group_of, groups.rank, local, groups.group_size};
}

}  // namespace perception
