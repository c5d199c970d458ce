// window_partition: group BEV voxels into the (optionally shifted) windows of
// sparse regional attention (SST, Fan et al. CVPR 2022).
//
// voxels (V, 4) [b, z, y, x] on a (ny, nx) BEV grid (z is ignored: a window
// spans the full height), windows of (wy, wx) cells.  Shifted grids move the
// window origin by (sy, sx) = (wy / 2, wx / 2) cells: window (i, j) covers
// y in [i*wy - sy, (i+1)*wy - sy) and x in [j*wx - sx, (j+1)*wx - sx), i.e. a
// voxel's window is ((y + sy) / wy, (x + sx) / wx) (SST's "x + shift"; the
// same partition as Swin's cyclic shift by -s, without the wrap-around), so
// there are ceil((n + s) / w) windows along an axis: at most one more than the
// unshifted ceil(n / w), exactly one more when w divides n (and w > 1).
// Non-empty windows get compact ids in ascending (b, window row, window
// column) order; a voxel's index_in_window is its rank among its window's
// voxels in ascending voxel index.
#pragma once

#include <ATen/ATen.h>

#include <tuple>
#include <vector>

#include "common/checks.h"

namespace perception {

struct WindowGrid {
  int64_t ny, nx, wy, wx, sy, sx;
  int64_t nwy, nwx;  // windows per axis: ceil((n + s) / w)
};

inline WindowGrid make_window_grid(const char* op, const std::vector<int64_t>& sparse_shape,
                                   const std::vector<int64_t>& window_shape, bool shifted) {
  TORCH_CHECK_VALUE(sparse_shape.size() == 2, op, ": `sparse_shape` must be (ny, nx), got ",
                    num_str(sparse_shape.size()), " values");
  TORCH_CHECK_VALUE(window_shape.size() == 2, op, ": `window_shape` must be (wy, wx), got ",
                    num_str(window_shape.size()), " values");
  WindowGrid g;
  g.ny = sparse_shape[0];
  g.nx = sparse_shape[1];
  g.wy = window_shape[0];
  g.wx = window_shape[1];
  TORCH_CHECK_VALUE(g.ny > 0 && g.nx > 0, op, ": `sparse_shape` must be positive, got (", num_str(g.ny), ", ",
                    num_str(g.nx), ")");
  TORCH_CHECK_VALUE(g.wy > 0 && g.wx > 0, op, ": `window_shape` must be positive, got (", num_str(g.wy), ", ",
                    num_str(g.wx), ")");
  TORCH_CHECK_VALUE(g.ny < (int64_t(1) << 31) && g.nx < (int64_t(1) << 31), op, ": `sparse_shape` must be < 2^31");
  g.sy = shifted ? g.wy / 2 : 0;
  g.sx = shifted ? g.wx / 2 : 0;
  g.nwy = (g.ny + g.sy + g.wy - 1) / g.wy;
  g.nwx = (g.nx + g.sx + g.wx - 1) / g.wx;
  return g;
}

inline void check_window_partition_inputs(const char* op, const at::Tensor& voxels) {
  PERCEPTION_CHECK_DIM(op, voxels, 2);
  TORCH_CHECK_VALUE(voxels.size(1) == 4, op, ": `voxels` must be (V, 4) [batch, z, y, x], got shape ",
                    num_str(voxels.sizes()));
  PERCEPTION_CHECK_INTEGER(op, voxels);
  PERCEPTION_CHECK_CONTIGUOUS(op, voxels);
}

template <typename I>
PERCEPTION_HOST_DEVICE inline int64_t window_key(const I* row, const WindowGrid& g) {
  const int64_t wy = (static_cast<int64_t>(row[2]) + g.sy) / g.wy;
  const int64_t wx = (static_cast<int64_t>(row[3]) + g.sx) / g.wx;
  return (static_cast<int64_t>(row[0]) * g.nwy + wy) * g.nwx + wx;
}

// Checks that every voxel lies on the grid (one host sync) and returns the window key range.
int64_t window_key_range(const char* op, const at::Tensor& voxels, const WindowGrid& g);

// (window_id (V,), index_in_window (V,), coord_in_window (V, 2), tokens_per_window (W,)), all int64
using WindowPartitionResult = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

WindowPartitionResult window_partition_cpu(const at::Tensor& voxels, const WindowGrid& g);
#ifdef WITH_CUDA
WindowPartitionResult window_partition_cuda(const at::Tensor& voxels, const WindowGrid& g);
#endif

}  // namespace perception
