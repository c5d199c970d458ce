#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "region_batching/region_batching.h"

namespace perception {

RegionBatchingResult region_batching_cpu(const at::Tensor& window_id, const at::Tensor& index_in_window,
                                         const at::Tensor& tokens_per_window, const BucketCaps& caps) {
  const int64_t v = window_id.size(0), w = tokens_per_window.size(0);
  const auto long_opts = window_id.options();
  const int64_t* tokens = tokens_per_window.data_ptr<int64_t>();
  std::vector<int64_t> bucket(w), row(w), count(caps.num, 0);
  for (int64_t i = 0; i < w; ++i) {
    bucket[i] = bucket_of(tokens[i], caps);
    row[i] = count[bucket[i]]++;  // windows stay in ascending id inside a bucket
  }
  std::vector<at::Tensor> index, windows;
  std::vector<int64_t*> index_ptr, windows_ptr;
  for (int64_t b = 0; b < caps.num; ++b) {
    index.push_back(at::full({count[b], caps.cap[b]}, -1, long_opts));
    windows.push_back(at::empty({count[b]}, long_opts));
    index_ptr.push_back(index.back().data_ptr<int64_t>());
    windows_ptr.push_back(windows.back().data_ptr<int64_t>());
  }
  for (int64_t i = 0; i < w; ++i) windows_ptr[bucket[i]][row[i]] = i;

  at::Tensor keep = at::empty({v}, long_opts.dtype(at::kBool));
  bool* kp = keep.data_ptr<bool>();
  const int64_t* wid = window_id.data_ptr<int64_t>();
  const int64_t* tok = index_in_window.data_ptr<int64_t>();
  at::parallel_for(0, v, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t win = wid[i], t = tok[i];
      TORCH_CHECK_INDEX(win >= 0 && win < w, "region_batching: window_id[", num_str(i), "] = ", num_str(win),
                        " is out of range for ", num_str(w), " windows");
      TORCH_CHECK_VALUE(t >= 0, "region_batching: index_in_window[", num_str(i), "] = ", num_str(t), " must be >= 0");
      const int64_t b = bucket[win];
      kp[i] = t < caps.cap[b];
      if (kp[i]) index_ptr[b][row[win] * caps.cap[b] + t] = i;
    }
  });
  return {keep, index, windows};
}

namespace {

// Writes rows [0, n) of `dst` (`row_bytes` each) in parallel, each once: a copy of `source(r)`, or zeros where
// that is null (all-zero bits are 0 for every float type).  Shared by gather_regions and scatter_regions.
template <typename Source>
void copy_rows(char* dst, int64_t n, size_t row_bytes, const Source& source) {
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(65536 / std::max<size_t>(row_bytes, 1)));
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const char* src = source(r);
      if (src == nullptr) std::memset(dst + r * row_bytes, 0, row_bytes);
      else std::memcpy(dst + r * row_bytes, src, row_bytes);
    }
  });
}

}  // namespace

at::Tensor gather_regions_cpu(const at::Tensor& feats, const at::Tensor& index) {
  const int64_t v = feats.size(0), c = feats.size(1);
  at::Tensor out = at::empty({index.size(0), index.size(1), c}, feats.options());
  const int64_t* idx = index.data_ptr<int64_t>();
  const size_t row_bytes = static_cast<size_t>(c) * feats.element_size();
  const char* src = static_cast<const char*>(feats.data_ptr());
  copy_rows(static_cast<char*>(out.data_ptr()), index.numel(), row_bytes, [&](int64_t r) -> const char* {
    const int64_t k = idx[r];
    if (k < 0) return nullptr;
    TORCH_CHECK_INDEX(k < v, "gather_regions: index ", num_str(k), " is out of range for ", num_str(v), " voxels");
    return src + k * row_bytes;
  });
  return out;
}

at::Tensor scatter_regions_cpu(const std::vector<at::Tensor>& regions, const std::vector<at::Tensor>& index,
                               int64_t num_voxels) {
  const int64_t c = regions[0].size(2), v = num_voxels;
  const size_t row_bytes = static_cast<size_t>(c) * regions[0].element_size();
  // One pass over every bucket validates the indices and finds, per voxel, the row that writes it; region
  // batching puts every kept voxel in exactly one row of one bucket, so usually no voxel is written twice.
  std::vector<const char*> source(static_cast<size_t>(v), nullptr);
  bool injective = true;
  for (size_t b = 0; b < regions.size(); ++b) {
    const int64_t* idx = index[b].data_ptr<int64_t>();
    const char* base = static_cast<const char*>(regions[b].data_ptr());
    for (int64_t r = 0, rows = index[b].numel(); r < rows; ++r) {
      const int64_t k = idx[r];
      TORCH_CHECK_INDEX(k < v, "scatter_regions: index ", num_str(k), " (bucket ", num_str(b),
                        ") is out of range for num_voxels = ", num_str(v));
      if (k < 0) continue;
      if (source[k] != nullptr) injective = false;
      else source[k] = base + r * row_bytes;
    }
  }
  if (injective) {
    // Each output row is written once, in order: a copy of its source row, or zeros (no zero fill, then add).
    at::Tensor out = at::empty({v, c}, regions[0].options());
    copy_rows(static_cast<char*>(out.data_ptr()), v, row_bytes, [&](int64_t k) { return source[k]; });
    return out;
  }
  at::Tensor out = at::zeros({v, c}, regions[0].options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "scatter_regions_cpu", [&] {
    scalar_t* dst = out.data_ptr<scalar_t>();
    // Repeated voxels: threads split the channels, so repeated indices accumulate without races, in bucket and
    // row order.
    at::parallel_for(0, c, 8, [&](int64_t c0, int64_t c1) {
      for (size_t b = 0; b < regions.size(); ++b) {
        const scalar_t* src = regions[b].data_ptr<scalar_t>();
        const int64_t* idx = index[b].data_ptr<int64_t>();
        for (int64_t r = 0, rows = index[b].numel(); r < rows; ++r) {
          const int64_t k = idx[r];
          if (k < 0) continue;
          for (int64_t j = c0; j < c1; ++j) dst[k * c + j] += src[r * c + j];
        }
      }
    });
  });
  return out;
}

}  // namespace perception
