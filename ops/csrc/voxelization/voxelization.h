// Dynamic voxelization: per-point voxel coordinates and the unique voxels.
//
// voxel_coords: points (P, D >= 3) -> (P, 3) int32 [z, y, x]; a point gets a
//   voxel when lo <= p < hi on every axis (half-open range) and its index
//   floor((p - lo) / size), computed in the points' dtype (IEEE subtraction
//   and division, as the reference), is below the grid size on that axis;
//   otherwise its row is (-1, -1, -1).
// unique_voxels: coords (P, 4) [batch, z, y, x] (rows with a negative entry are
//   ignored) -> the occupied voxels in ascending lexicographic (b, z, y, x)
//   order, i.e. ascending linear index batch-major, the voxel of every point
//   (-1 when ignored) and the number of points per voxel.
#pragma once

#include <ATen/ATen.h>

#include <tuple>
#include <vector>

#include "common/checks.h"

namespace perception {

// Voxel index of coordinate p on one axis: floor((p - lo) / size), or -1 outside [lo, hi) or past the
// n-th cell (NaN: -1).  For p >= lo the quotient is >= 0, where truncation equals floor and q < n equals
// floor(q) < n, so a plain conversion does (floor is a libm call on baseline x86-64); the float is
// selected before the conversion so the conversion is always in range.  Branch-free.
template <typename T>
PERCEPTION_HOST_DEVICE inline int32_t voxel_index_1d(T p, T lo, T hi, T size, T n) {
  const T q = (p - lo) / size;
  const bool ok = (p >= lo) & (p < hi) & (q < n);
  return static_cast<int32_t>(ok ? q : T(-1));
}

// Key of a [b, z, y, x] row for extents (D0, D1, D2, D3), -1 for rows with a negative entry.
template <typename I>
PERCEPTION_HOST_DEVICE inline int64_t voxel_key(const I* row, int64_t d1, int64_t d2, int64_t d3) {
  if (row[0] < 0 || row[1] < 0 || row[2] < 0 || row[3] < 0) return -1;
  return ((static_cast<int64_t>(row[0]) * d1 + row[1]) * d2 + row[2]) * d3 + row[3];
}

struct VoxelGrid {
  double lo[3], hi[3], size[3];  // x, y, z
  int64_t n[3];                  // nx, ny, nz
};

inline VoxelGrid make_voxel_grid(const char* op, const std::vector<double>& voxel_size,
                                 const std::vector<double>& point_range, const std::vector<int64_t>& grid_size) {
  TORCH_CHECK_VALUE(voxel_size.size() == 3, op, ": `voxel_size` must be [vx, vy, vz], got ", num_str(voxel_size.size()),
                    " values");
  TORCH_CHECK_VALUE(point_range.size() == 6, op, ": `point_range` must be [x0, y0, z0, x1, y1, z1], got ",
                    num_str(point_range.size()), " values");
  TORCH_CHECK_VALUE(grid_size.size() == 3, op, ": `grid_size` must be [nx, ny, nz], got ", num_str(grid_size.size()),
                    " values");
  VoxelGrid g;
  for (int a = 0; a < 3; ++a) {
    g.lo[a] = point_range[a];
    g.hi[a] = point_range[a + 3];
    g.size[a] = voxel_size[a];
    g.n[a] = grid_size[a];
    TORCH_CHECK_VALUE(g.size[a] > 0, op, ": `voxel_size` must be positive, got ", num_str(g.size[a]), " on axis ",
                      num_str(a));
    TORCH_CHECK_VALUE(g.hi[a] > g.lo[a], op, ": `point_range` max must exceed min on axis ", num_str(a), ", got [",
                      num_str(g.lo[a]), ", ", num_str(g.hi[a]), ")");
    TORCH_CHECK_VALUE(g.n[a] > 0 && g.n[a] <= std::numeric_limits<int32_t>::max(), op,
                      ": grid size must be in [1, 2^31), got ", num_str(g.n[a]), " on axis ", num_str(a));
  }
  return g;
}

inline void check_voxel_coords_inputs(const char* op, const at::Tensor& points) {
  PERCEPTION_CHECK_DIM(op, points, 2);
  TORCH_CHECK_VALUE(points.size(1) >= 3, op, ": `points` must be (P, >=3) with x, y, z first, got shape ",
                    num_str(points.sizes()));
  PERCEPTION_CHECK_FLOATING(op, points);
  PERCEPTION_CHECK_CONTIGUOUS(op, points);
}

inline void check_unique_voxels_inputs(const char* op, const at::Tensor& coords) {
  PERCEPTION_CHECK_DIM(op, coords, 2);
  TORCH_CHECK_VALUE(coords.size(1) == 4, op, ": `coords` must be (P, 4) [batch, z, y, x], got shape ",
                    num_str(coords.sizes()));
  PERCEPTION_CHECK_INTEGER(op, coords);
  PERCEPTION_CHECK_CONTIGUOUS(op, coords);
}

// (voxels (V, 4) int32, point_to_voxel (P,) int64, counts (V,) int32)
using UniqueVoxels = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// Extents (max + 1 per column, at least 1) and the key range of a coords tensor; shared by CPU and CUDA.
struct VoxelKeySpace {
  int64_t d[4];
  int64_t range;
};
VoxelKeySpace voxel_key_space(const char* op, const at::Tensor& coords);

at::Tensor voxel_coords_cpu(const at::Tensor& points, const VoxelGrid& grid);
UniqueVoxels unique_voxels_cpu(const at::Tensor& coords);
#ifdef WITH_CUDA
at::Tensor voxel_coords_cuda(const at::Tensor& points, const VoxelGrid& grid);
UniqueVoxels unique_voxels_cuda(const at::Tensor& coords);
#endif

}  // namespace perception
