#include <ATen/Dispatch.h>

#include "common/cuda_utils.cuh"
#include "common/grouping.h"
#include "voxelization/voxelization.h"

namespace perception {

namespace {

template <typename T>
__global__ void voxel_coords_kernel(const T* __restrict__ pts, int64_t p, int64_t stride, T lx, T ly, T lz, T hx, T hy,
                                    T hz, T sx, T sy, T sz, T nx, T ny, T nz, int32_t* __restrict__ out) {
  PERCEPTION_CUDA_LOOP(i, p) {
    const T* q = pts + i * stride;
    const int32_t x = voxel_index_1d(q[0], lx, hx, sx, nx);
    const int32_t y = voxel_index_1d(q[1], ly, hy, sy, ny);
    const int32_t z = voxel_index_1d(q[2], lz, hz, sz, nz);
    const bool ok = x >= 0 && y >= 0 && z >= 0;
    out[i * 3] = ok ? z : -1;
    out[i * 3 + 1] = ok ? y : -1;
    out[i * 3 + 2] = ok ? x : -1;
  }
}

template <typename I>
__global__ void voxel_keys_kernel(const I* __restrict__ coords, int64_t p, int64_t d1, int64_t d2, int64_t d3,
                                  int64_t* __restrict__ keys) {
  PERCEPTION_CUDA_LOOP(i, p) { keys[i] = voxel_key(coords + i * 4, d1, d2, d3); }
}

}  // namespace

at::Tensor voxel_coords_cuda(const at::Tensor& points, const VoxelGrid& g) {
  const c10::cuda::CUDAGuard guard(points.device());
  const int64_t p = points.size(0), stride = points.size(1);
  at::Tensor out = at::empty({p, 3}, points.options().dtype(at::kInt));
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "voxel_coords_cuda", [&] {
    using T = scalar_t;
    PERCEPTION_LAUNCH(voxel_coords_kernel<T>, p, points.data_ptr<T>(), p, stride, T(g.lo[0]), T(g.lo[1]), T(g.lo[2]),
                      T(g.hi[0]), T(g.hi[1]), T(g.hi[2]), T(g.size[0]), T(g.size[1]), T(g.size[2]), T(g.n[0]),
                      T(g.n[1]), T(g.n[2]), out.data_ptr<int32_t>());
  });
  return out;
}

UniqueVoxels unique_voxels_cuda(const at::Tensor& coords) {
  const c10::cuda::CUDAGuard guard(coords.device());
  const int64_t p = coords.size(0);
  const VoxelKeySpace ks = voxel_key_space("unique_voxels", coords);
  at::Tensor keys = at::empty({p}, coords.options().dtype(at::kLong));
  AT_DISPATCH_INDEX_TYPES(coords.scalar_type(), "unique_voxels_cuda", [&] {
    PERCEPTION_LAUNCH(voxel_keys_kernel<index_t>, p, coords.data_ptr<index_t>(), p, ks.d[1], ks.d[2], ks.d[3],
                      keys.data_ptr<int64_t>());
  });
  KeyGroups groups = group_keys_cuda(keys, ks.range, /*need_rank=*/false);
  at::Tensor voxels = coords.index_select(0, groups.group_first).to(at::kInt);
  return {voxels, groups.group_of, groups.group_size.to(at::kInt)};
}

}  // namespace perception
