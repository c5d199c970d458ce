// scatter_reduce: reduce per-point features into their voxels.
//
// feats (P, C), point_to_voxel (P,) int64 in [-1, V) (-1 = ignored) ->
// out (V, C): the sum, mean or max of each voxel's points, 0 for a voxel with
// no point.  Max keeps, per (voxel, channel), the lowest point index among the
// maxima (argmax), which receives the whole gradient.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <tuple>

#include "common/checks.h"

namespace perception {

enum class Reduce : int64_t { kSum = 0, kMean = 1, kMax = 2 };

inline Reduce parse_reduce(const char* op, const std::string& reduce) {
  if (reduce == "sum") return Reduce::kSum;
  if (reduce == "mean") return Reduce::kMean;
  TORCH_CHECK_VALUE(reduce == "max", op, ": `reduce` must be 'sum', 'mean' or 'max', got '", reduce, "'");
  return Reduce::kMax;
}

inline void check_scatter_reduce_forward_inputs(const char* op, const at::Tensor& feats,
                                                const at::Tensor& point_to_voxel, int64_t num_voxels) {
  PERCEPTION_CHECK_DIM(op, feats, 2);
  PERCEPTION_CHECK_DIM(op, point_to_voxel, 1);
  PERCEPTION_CHECK_FLOATING(op, feats);
  PERCEPTION_CHECK_DTYPE(op, point_to_voxel, at::kLong);
  TORCH_CHECK_VALUE(point_to_voxel.size(0) == feats.size(0), op, ": `point_to_voxel` has ",
                    num_str(point_to_voxel.size(0)), " entries for ", num_str(feats.size(0)), " points");
  TORCH_CHECK_VALUE(num_voxels >= 0, op, ": `num_voxels` must be >= 0, got ", num_str(num_voxels));
  PERCEPTION_CHECK_SAME_DEVICE(op, feats, point_to_voxel);
  PERCEPTION_CHECK_CONTIGUOUS(op, feats);
  PERCEPTION_CHECK_CONTIGUOUS(op, point_to_voxel);
}

inline void check_scatter_reduce_backward_inputs(const char* op, const at::Tensor& grad_out,
                                                 const at::Tensor& point_to_voxel, const at::Tensor& counts,
                                                 const at::Tensor& argmax, Reduce reduce) {
  PERCEPTION_CHECK_DIM(op, grad_out, 2);
  PERCEPTION_CHECK_FLOATING(op, grad_out);
  PERCEPTION_CHECK_DIM(op, point_to_voxel, 1);
  PERCEPTION_CHECK_DTYPE(op, point_to_voxel, at::kLong);
  PERCEPTION_CHECK_DTYPE(op, counts, at::kLong);
  TORCH_CHECK_VALUE(counts.dim() == 1 && counts.size(0) == grad_out.size(0), op,
                    ": `counts` must be (V,) with V = ", num_str(grad_out.size(0)), ", got shape ",
                    num_str(counts.sizes()));
  if (reduce == Reduce::kMax) {
    PERCEPTION_CHECK_DTYPE(op, argmax, at::kLong);
    TORCH_CHECK_VALUE(argmax.sizes() == grad_out.sizes(), op, ": `argmax` must have the shape of `grad_out` ",
                      num_str(grad_out.sizes()), ", got ", num_str(argmax.sizes()));
    PERCEPTION_CHECK_SAME_DEVICE(op, grad_out, argmax);
    PERCEPTION_CHECK_CONTIGUOUS(op, argmax);
  }
  PERCEPTION_CHECK_SAME_DEVICE(op, grad_out, point_to_voxel);
  PERCEPTION_CHECK_SAME_DEVICE(op, grad_out, counts);
  PERCEPTION_CHECK_CONTIGUOUS(op, grad_out);
  PERCEPTION_CHECK_CONTIGUOUS(op, point_to_voxel);
  PERCEPTION_CHECK_CONTIGUOUS(op, counts);
}

// (out (V, C), counts (V,) int64, argmax (V, C) int64 for max, else an empty tensor)
using ScatterReduceResult = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

ScatterReduceResult scatter_reduce_forward_cpu(const at::Tensor& feats, const at::Tensor& point_to_voxel,
                                               int64_t num_voxels, Reduce reduce);
at::Tensor scatter_reduce_backward_cpu(const at::Tensor& grad_out, const at::Tensor& point_to_voxel,
                                       const at::Tensor& counts, const at::Tensor& argmax, Reduce reduce);
#ifdef WITH_CUDA
ScatterReduceResult scatter_reduce_forward_cuda(const at::Tensor& feats, const at::Tensor& point_to_voxel,
                                                int64_t num_voxels, Reduce reduce);
at::Tensor scatter_reduce_backward_cuda(const at::Tensor& grad_out, const at::Tensor& point_to_voxel,
                                        const at::Tensor& counts, const at::Tensor& argmax, Reduce reduce);
#endif

}  // namespace perception
