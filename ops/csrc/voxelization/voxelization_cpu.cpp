#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>

#include "common/grouping.h"
#include "voxelization/voxelization.h"

namespace perception {

VoxelKeySpace voxel_key_space(const char* op, const at::Tensor& coords) {
  VoxelKeySpace ks{{1, 1, 1, 1}, 1};
  if (coords.size(0) == 0) return ks;
  // Ignored rows hold negative entries, which never raise a maximum.
  const at::Tensor maxima = coords.amax(0).to(at::kCPU, at::kLong);
  const int64_t* m = maxima.data_ptr<int64_t>();
  for (int a = 0; a < 4; ++a) {
    TORCH_CHECK_VALUE(m[a] <= std::numeric_limits<int32_t>::max(), op, ": coordinate column ", num_str(a),
                      " exceeds the int32 range (max ", num_str(m[a]), ")");
    ks.d[a] = std::max<int64_t>(m[a], 0) + 1;
  }
  ks.range = checked_product({ks.d[0], ks.d[1], ks.d[2], ks.d[3]});
  TORCH_CHECK_VALUE(ks.range > 0, op, ": the coordinate extents ", num_str(ks.d[0]), " x ", num_str(ks.d[1]), " x ",
                    num_str(ks.d[2]), " x ", num_str(ks.d[3]), " overflow a 62-bit linear index");
  return ks;
}

at::Tensor voxel_coords_cpu(const at::Tensor& points, const VoxelGrid& g) {
  const int64_t p = points.size(0), stride = points.size(1);
  at::Tensor out = at::empty({p, 3}, points.options().dtype(at::kInt));
  if (p == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "voxel_coords_cpu", [&] {
    const scalar_t* pts = points.data_ptr<scalar_t>();
    int32_t* c = out.data_ptr<int32_t>();
    using T = scalar_t;
    const T lx = T(g.lo[0]), ly = T(g.lo[1]), lz = T(g.lo[2]), hx = T(g.hi[0]), hy = T(g.hi[1]), hz = T(g.hi[2]);
    const T sx = T(g.size[0]), sy = T(g.size[1]), sz = T(g.size[2]), nx = T(g.n[0]), ny = T(g.n[1]), nz = T(g.n[2]);
    constexpr int64_t kBlock = 256;  // de-interleave a block of points so the arithmetic vectorises
    at::parallel_for(0, p, 16384, [&](int64_t begin, int64_t end) {
      T px[kBlock], py[kBlock], pz[kBlock];
      int32_t ix[kBlock], iy[kBlock], iz[kBlock];
      for (int64_t b0 = begin; b0 < end; b0 += kBlock) {
        const int64_t m = std::min(kBlock, end - b0);
        for (int64_t t = 0; t < m; ++t) {
          const T* q = pts + (b0 + t) * stride;
          px[t] = q[0], py[t] = q[1], pz[t] = q[2];
        }
        for (int64_t t = 0; t < m; ++t) {
          ix[t] = voxel_index_1d(px[t], lx, hx, sx, nx);
          iy[t] = voxel_index_1d(py[t], ly, hy, sy, ny);
          iz[t] = voxel_index_1d(pz[t], lz, hz, sz, nz);
        }
        int32_t* out_row = c + b0 * 3;
        for (int64_t t = 0; t < m; ++t) {
          const bool ok = (ix[t] >= 0) & (iy[t] >= 0) & (iz[t] >= 0);
          out_row[t * 3] = ok ? iz[t] : -1;
          out_row[t * 3 + 1] = ok ? iy[t] : -1;
          out_row[t * 3 + 2] = ok ? ix[t] : -1;
        }
      }
    });
  });
  return out;
}

UniqueVoxels unique_voxels_cpu(const at::Tensor& coords) {
  const int64_t p = coords.size(0);
  const VoxelKeySpace ks = voxel_key_space("unique_voxels", coords);
  at::Tensor keys = at::empty({p}, coords.options().dtype(at::kLong));
  AT_DISPATCH_INDEX_TYPES(coords.scalar_type(), "unique_voxels_cpu", [&] {
    const index_t* c = coords.data_ptr<index_t>();
    int64_t* k = keys.data_ptr<int64_t>();
    at::parallel_for(0, p, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) k[i] = voxel_key(c + i * 4, ks.d[1], ks.d[2], ks.d[3]);
    });
  });
  KeyGroups groups = group_keys_cpu(keys, ks.range, /*need_rank=*/false);
  at::Tensor voxels = coords.index_select(0, groups.group_first).to(at::kInt);
  return {voxels, groups.group_of, groups.group_size.to(at::kInt)};
}

}  // namespace perception
