// Region batching (SST's bucketed windows) and the gather / scatter between the
// flat voxel list and the padded (windows, tokens, channels) regions.
//
// region_batching: each non-empty window goes to the smallest bucket whose cap
//   is >= its token count; windows with more tokens than the largest cap go to
//   the largest bucket and keep only their first `cap` tokens (index_in_window
//   < cap; keep = false for the rest).  Per bucket: the windows in ascending
//   window id, `index` (Wb, cap) int64 into the flat voxel list, token t of row
//   r at [r, t], -1 padding.
// gather_regions: (V, C) -> (Wb, Tb, C), zeros at index -1.
// scatter_regions: buckets [(Wb, Tb, C)] -> one (V, C), out[v] = sum of the rows
//   of every bucket whose index is v (an assignment when every voxel appears at
//   most once, as region batching gives), so each is the other's adjoint
//   (backward: one gather per bucket).
#pragma once

#include <ATen/ATen.h>

#include <tuple>
#include <vector>

#include "common/checks.h"

namespace perception {

constexpr int kMaxBuckets = 16;

struct BucketCaps {
  int64_t num;
  int64_t cap[kMaxBuckets];
};

inline BucketCaps make_bucket_caps(const char* op, const std::vector<int64_t>& caps) {
  TORCH_CHECK_VALUE(!caps.empty() && caps.size() <= static_cast<size_t>(kMaxBuckets), op,
                    ": `bucket_caps` must hold 1 to ", num_str(kMaxBuckets), " caps, got ", num_str(caps.size()));
  BucketCaps b;
  b.num = static_cast<int64_t>(caps.size());
  for (size_t i = 0; i < caps.size(); ++i) {
    TORCH_CHECK_VALUE(caps[i] > 0, op, ": `bucket_caps` must be positive, got ", num_str(caps[i]));
    TORCH_CHECK_VALUE(i == 0 || caps[i] > caps[i - 1], op, ": `bucket_caps` must be strictly ascending, got ",
                      num_str(caps[i - 1]), " then ", num_str(caps[i]));
    b.cap[i] = caps[i];
  }
  return b;
}

// Bucket of a window with `tokens` tokens: the smallest cap >= tokens, else the largest.
PERCEPTION_HOST_DEVICE inline int64_t bucket_of(int64_t tokens, const BucketCaps& b) {
  int64_t k = 0;
  while (k < b.num - 1 && b.cap[k] < tokens) ++k;
  return k;
}

inline void check_region_batching_inputs(const char* op, const at::Tensor& window_id, const at::Tensor& index_in_window,
                                         const at::Tensor& tokens_per_window) {
  PERCEPTION_CHECK_DIM(op, window_id, 1);
  PERCEPTION_CHECK_DIM(op, index_in_window, 1);
  PERCEPTION_CHECK_DIM(op, tokens_per_window, 1);
  PERCEPTION_CHECK_DTYPE(op, window_id, at::kLong);
  PERCEPTION_CHECK_DTYPE(op, index_in_window, at::kLong);
  PERCEPTION_CHECK_DTYPE(op, tokens_per_window, at::kLong);
  TORCH_CHECK_VALUE(window_id.size(0) == index_in_window.size(0), op, ": `window_id` (", num_str(window_id.size(0)),
                    ") and `index_in_window` (", num_str(index_in_window.size(0)), ") must have one entry per voxel");
  PERCEPTION_CHECK_SAME_DEVICE(op, window_id, index_in_window);
  PERCEPTION_CHECK_SAME_DEVICE(op, window_id, tokens_per_window);
  PERCEPTION_CHECK_CONTIGUOUS(op, window_id);
  PERCEPTION_CHECK_CONTIGUOUS(op, index_in_window);
  PERCEPTION_CHECK_CONTIGUOUS(op, tokens_per_window);
}

#define PERCEPTION_CHECK_REGION_FLOAT(op, x)                                                \
  TORCH_CHECK_TYPE((x).scalar_type() == at::kHalf || (x).scalar_type() == at::kBFloat16 ||  \
                       (x).scalar_type() == at::kFloat || (x).scalar_type() == at::kDouble, \
                   op, ": `" #x "` must be float16, bfloat16, float32 or float64, got ", (x).scalar_type())

inline void check_gather_regions_inputs(const char* op, const at::Tensor& feats, const at::Tensor& index) {
  PERCEPTION_CHECK_DIM(op, feats, 2);
  PERCEPTION_CHECK_DIM(op, index, 2);
  PERCEPTION_CHECK_REGION_FLOAT(op, feats);
  PERCEPTION_CHECK_DTYPE(op, index, at::kLong);
  PERCEPTION_CHECK_SAME_DEVICE(op, feats, index);
  PERCEPTION_CHECK_CONTIGUOUS(op, feats);
  PERCEPTION_CHECK_CONTIGUOUS(op, index);
}

inline void check_scatter_regions_inputs(const char* op, const std::vector<at::Tensor>& regions,
                                         const std::vector<at::Tensor>& index, int64_t num_voxels) {
  TORCH_CHECK_VALUE(!regions.empty(), op, ": needs at least one bucket");
  TORCH_CHECK_VALUE(regions.size() == index.size(), op, ": ", num_str(regions.size()), " region tensors but ",
                    num_str(index.size()), " index tensors");
  TORCH_CHECK_VALUE(num_voxels >= 0, op, ": `num_voxels` must be >= 0, got ", num_str(num_voxels));
  for (size_t b = 0; b < regions.size(); ++b) {
    const at::Tensor& r = regions[b];
    const at::Tensor& i = index[b];
    PERCEPTION_CHECK_DIM(op, r, 3);
    PERCEPTION_CHECK_DIM(op, i, 2);
    PERCEPTION_CHECK_REGION_FLOAT(op, r);
    PERCEPTION_CHECK_DTYPE(op, i, at::kLong);
    TORCH_CHECK_VALUE(r.size(0) == i.size(0) && r.size(1) == i.size(1), op, ": bucket ", num_str(b),
                      ": `regions` (Wb, Tb, C) and `index` (Wb, Tb) disagree: ", num_str(r.sizes()), " vs ",
                      num_str(i.sizes()));
    TORCH_CHECK_VALUE(r.size(2) == regions[0].size(2) && r.scalar_type() == regions[0].scalar_type(), op,
                      ": bucket ", num_str(b), " has ", num_str(r.size(2)), " ", r.scalar_type(),
                      " channels, bucket 0 has ", num_str(regions[0].size(2)), " ", regions[0].scalar_type());
    PERCEPTION_CHECK_SAME_DEVICE(op, r, i);
    PERCEPTION_CHECK_SAME_DEVICE(op, r, regions[0]);
    PERCEPTION_CHECK_CONTIGUOUS(op, r);
    PERCEPTION_CHECK_CONTIGUOUS(op, i);
  }
}

// (keep (V,) bool, per bucket index (Wb, cap) int64, per bucket window ids (Wb,) int64)
using RegionBatchingResult = std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>>;

RegionBatchingResult region_batching_cpu(const at::Tensor& window_id, const at::Tensor& index_in_window,
                                         const at::Tensor& tokens_per_window, const BucketCaps& caps);
at::Tensor gather_regions_cpu(const at::Tensor& feats, const at::Tensor& index);
at::Tensor scatter_regions_cpu(const std::vector<at::Tensor>& regions, const std::vector<at::Tensor>& index,
                               int64_t num_voxels);
#ifdef WITH_CUDA
RegionBatchingResult region_batching_cuda(const at::Tensor& window_id, const at::Tensor& index_in_window,
                                          const at::Tensor& tokens_per_window, const BucketCaps& caps);
at::Tensor gather_regions_cuda(const at::Tensor& feats, const at::Tensor& index);
at::Tensor scatter_regions_cuda(const std::vector<at::Tensor>& regions, const std::vector<at::Tensor>& index,
                                int64_t num_voxels);
#endif

}  // namespace perception
