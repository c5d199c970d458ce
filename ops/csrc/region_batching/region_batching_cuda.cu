// CUDA region batching and region gather / scatter.  Indices outside [-1, V)
// are ignored here (checking them would cost a device sync); the CPU kernels
// raise on them.
#include <ATen/Dispatch.h>

#include <ATen/cuda/Atomic.cuh>

#include "common/cuda_utils.cuh"
#include "region_batching/region_batching.h"

namespace perception {

namespace {

struct BucketLayout {
  BucketCaps caps;
  int64_t index_offset[kMaxBuckets];   // start of each bucket's (Wb, cap) block in the flat index buffer
  int64_t window_offset[kMaxBuckets];  // start of each bucket's window ids in the flat window buffer
};

__global__ void bucket_kernel(const int64_t* __restrict__ tokens, int64_t w, BucketCaps caps,
                              int64_t* __restrict__ bucket, int64_t* __restrict__ onehot) {
  PERCEPTION_CUDA_LOOP(i, w) {
    const int64_t b = bucket_of(tokens[i], caps);
    bucket[i] = b;
    onehot[i * caps.num + b] = 1;
  }
}

// After the column-wise cumulative sum of the one-hot matrix, a window's row inside its bucket.
__global__ void window_rows_kernel(const int64_t* __restrict__ bucket, const int64_t* __restrict__ cums, int64_t w,
                                   int64_t num_buckets, BucketLayout layout, int64_t* __restrict__ row,
                                   int64_t* __restrict__ windows) {
  PERCEPTION_CUDA_LOOP(i, w) {
    const int64_t b = bucket[i];
    const int64_t r = cums[i * num_buckets + b] - 1;
    row[i] = r;
    windows[layout.window_offset[b] + r] = i;
  }
}

__global__ void fill_index_kernel(const int64_t* __restrict__ window_id, const int64_t* __restrict__ index_in_window,
                                  const int64_t* __restrict__ bucket, const int64_t* __restrict__ row, int64_t v,
                                  int64_t w, BucketLayout layout, bool* __restrict__ keep,
                                  int64_t* __restrict__ index) {
  PERCEPTION_CUDA_LOOP(i, v) {
    const int64_t win = window_id[i], t = index_in_window[i];
    if (win < 0 || win >= w || t < 0) {
      keep[i] = false;
      continue;
    }
    const int64_t b = bucket[win], cap = layout.caps.cap[b];
    keep[i] = t < cap;
    if (t < cap) index[layout.index_offset[b] + row[win] * cap + t] = i;
  }
}

template <typename T>
__global__ void gather_regions_kernel(const T* __restrict__ feats, const int64_t* __restrict__ index, int64_t rows,
                                      int64_t c, int64_t v, T* __restrict__ out) {
  PERCEPTION_CUDA_LOOP(e, rows * c) {
    const int64_t r = e / c;
    const int64_t k = index[r];
    out[e] = (k >= 0 && k < v) ? feats[k * c + (e - r * c)] : T(0);
  }
}

template <typename T>
__global__ void scatter_regions_kernel(const T* __restrict__ regions, const int64_t* __restrict__ index, int64_t rows,
                                       int64_t c, int64_t v, T* __restrict__ out) {
  PERCEPTION_CUDA_LOOP(e, rows * c) {
    const int64_t r = e / c;
    const int64_t k = index[r];
    if (k >= 0 && k < v) gpuAtomicAdd(out + k * c + (e - r * c), regions[e]);
  }
}

}  // namespace

RegionBatchingResult region_batching_cuda(const at::Tensor& window_id, const at::Tensor& index_in_window,
                                          const at::Tensor& tokens_per_window, const BucketCaps& caps) {
  const c10::cuda::CUDAGuard guard(window_id.device());
  const int64_t v = window_id.size(0), w = tokens_per_window.size(0), nb = caps.num;
  const auto long_opts = window_id.options();
  at::Tensor bucket = at::empty({w}, long_opts);
  at::Tensor onehot = at::zeros({w, nb}, long_opts);
  PERCEPTION_LAUNCH(bucket_kernel, w, tokens_per_window.data_ptr<int64_t>(), w, caps, bucket.data_ptr<int64_t>(),
                    onehot.data_ptr<int64_t>());
  at::Tensor cums = onehot.cumsum(0);
  // One host sync: the number of windows per bucket sizes the outputs.
  const at::Tensor count = w > 0 ? cums[w - 1].to(at::kCPU) : at::zeros({nb}, long_opts.device(at::kCPU));
  const int64_t* cnt = count.data_ptr<int64_t>();

  BucketLayout layout;
  layout.caps = caps;
  int64_t index_total = 0, window_total = 0;
  for (int64_t b = 0; b < nb; ++b) {
    layout.index_offset[b] = index_total;
    layout.window_offset[b] = window_total;
    index_total += cnt[b] * caps.cap[b];
    window_total += cnt[b];
  }
  at::Tensor index_flat = at::full({index_total}, -1, long_opts);
  at::Tensor windows_flat = at::empty({window_total}, long_opts);
  at::Tensor row = at::empty({w}, long_opts);
  PERCEPTION_LAUNCH(window_rows_kernel, w, bucket.data_ptr<int64_t>(), cums.data_ptr<int64_t>(), w, nb, layout,
                    row.data_ptr<int64_t>(), windows_flat.data_ptr<int64_t>());
  at::Tensor keep = at::empty({v}, long_opts.dtype(at::kBool));
  PERCEPTION_LAUNCH(fill_index_kernel, v, window_id.data_ptr<int64_t>(), index_in_window.data_ptr<int64_t>(),
                    bucket.data_ptr<int64_t>(), row.data_ptr<int64_t>(), v, w, layout, keep.data_ptr<bool>(),
                    index_flat.data_ptr<int64_t>());

  std::vector<at::Tensor> index, windows;
  for (int64_t b = 0; b < nb; ++b) {
    index.push_back(index_flat.narrow(0, layout.index_offset[b], cnt[b] * caps.cap[b]).view({cnt[b], caps.cap[b]}));
    windows.push_back(windows_flat.narrow(0, layout.window_offset[b], cnt[b]));
  }
  return {keep, index, windows};
}

at::Tensor gather_regions_cuda(const at::Tensor& feats, const at::Tensor& index) {
  const c10::cuda::CUDAGuard guard(feats.device());
  const int64_t v = feats.size(0), c = feats.size(1), rows = index.numel();
  at::Tensor out = at::empty({index.size(0), index.size(1), c}, feats.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, feats.scalar_type(), "gather_regions_cuda", [&] {
    PERCEPTION_LAUNCH(gather_regions_kernel<scalar_t>, rows * c, feats.data_ptr<scalar_t>(), index.data_ptr<int64_t>(),
                      rows, c, v, out.data_ptr<scalar_t>());
  });
  return out;
}

at::Tensor scatter_regions_cuda(const std::vector<at::Tensor>& regions, const std::vector<at::Tensor>& index,
                                int64_t num_voxels) {
  const c10::cuda::CUDAGuard guard(regions[0].device());
  const int64_t c = regions[0].size(2);
  at::Tensor out = at::zeros({num_voxels, c}, regions[0].options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "scatter_regions_cuda", [&] {
    for (size_t b = 0; b < regions.size(); ++b) {  // all buckets into one output, one launch each
      const int64_t rows = index[b].numel();
      PERCEPTION_LAUNCH(scatter_regions_kernel<scalar_t>, rows * c, regions[b].data_ptr<scalar_t>(),
                        index[b].data_ptr<int64_t>(), rows, c, num_voxels, out.data_ptr<scalar_t>());
    }
  });
  return out;
}

}  // namespace perception
