// CUDA stable grouping: CUB's LSD radix sort (stable) of (key, index) pairs
// over only the bits the key range needs, head flags, an inclusive scan for
// the group ids, then scatter kernels.  Invalid keys sort last as a sentinel.
#include <cub/cub.cuh>

#include "common/checks.h"
#include "common/cuda_utils.cuh"
#include "common/grouping.h"

namespace perception {

namespace {

__global__ void prepare_keys_kernel(const int64_t* __restrict__ key, int64_t n, int64_t sentinel,
                                    int64_t* __restrict__ key_out, int64_t* __restrict__ idx_out) {
  PERCEPTION_CUDA_LOOP(i, n) {
    const int64_t k = key[i];
    key_out[i] = k >= 0 ? k : sentinel;
    idx_out[i] = i;
  }
}

__global__ void head_flags_kernel(const int64_t* __restrict__ sorted_key, int64_t n, int64_t sentinel,
                                  int64_t* __restrict__ head) {
  PERCEPTION_CUDA_LOOP(i, n) {
    const int64_t k = sorted_key[i];
    head[i] = (k != sentinel && (i == 0 || k != sorted_key[i - 1])) ? 1 : 0;
  }
}

__global__ void assign_groups_kernel(const int64_t* __restrict__ sorted_key, const int64_t* __restrict__ sorted_idx,
                                     const int64_t* __restrict__ head, const int64_t* __restrict__ gid1, int64_t n,
                                     int64_t sentinel, int64_t* __restrict__ group_of, int64_t* __restrict__ first,
                                     int64_t* __restrict__ start_pos, unsigned long long* __restrict__ size,
                                     int64_t* __restrict__ rank) {
  PERCEPTION_CUDA_LOOP(i, n) {
    const int64_t e = sorted_idx[i];
    if (sorted_key[i] == sentinel) {  // invalid element: no group (and no rank)
      group_of[e] = -1;
      if (rank) rank[e] = -1;
      continue;
    }
    const int64_t g = gid1[i] - 1;
    group_of[e] = g;
    atomicAdd(size + g, 1ULL);
    if (head[i]) {
      first[g] = e;
      start_pos[g] = i;
    }
  }
}

__global__ void rank_kernel(const int64_t* __restrict__ sorted_key, const int64_t* __restrict__ sorted_idx,
                            const int64_t* __restrict__ gid1, const int64_t* __restrict__ start_pos, int64_t n,
                            int64_t sentinel, int64_t* __restrict__ rank) {
  PERCEPTION_CUDA_LOOP(i, n) {
    if (sorted_key[i] == sentinel) continue;
    rank[sorted_idx[i]] = i - start_pos[gid1[i] - 1];
  }
}

}  // namespace

KeyGroups group_keys_cuda(const at::Tensor& keys, int64_t key_range, bool need_rank) {
  const c10::cuda::CUDAGuard guard(keys.device());
  const int64_t n = keys.numel();
  TORCH_CHECK_VALUE(n < (int64_t(1) << 31), "group_keys_cuda: at most 2^31 - 1 elements, got ", num_str(n));
  const auto long_opts = keys.options().dtype(at::kLong);
  const cudaStream_t stream = current_stream();
  const int64_t sentinel = key_range;
  const int end_bit = bits_for_range(key_range + 1);

  KeyGroups out;
  out.group_of = at::empty({n}, long_opts);  // every element is written by assign_groups_kernel
  if (need_rank) out.rank = at::empty({n}, long_opts);
  if (n == 0) {
    out.group_first = at::empty({0}, long_opts);
    out.group_size = at::empty({0}, long_opts);
    return out;
  }

  at::Tensor key_in = at::empty({n}, long_opts), idx_in = at::empty({n}, long_opts);
  at::Tensor key_sorted = at::empty({n}, long_opts), idx_sorted = at::empty({n}, long_opts);
  PERCEPTION_LAUNCH(prepare_keys_kernel, n, keys.data_ptr<int64_t>(), n, sentinel, key_in.data_ptr<int64_t>(),
                    idx_in.data_ptr<int64_t>());

  size_t sort_bytes = 0;
  C10_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, sort_bytes, key_in.data_ptr<int64_t>(), key_sorted.data_ptr<int64_t>(), idx_in.data_ptr<int64_t>(),
      idx_sorted.data_ptr<int64_t>(), static_cast<int>(n), 0, end_bit, stream));
  at::Tensor sort_tmp = at::empty({static_cast<int64_t>(sort_bytes)}, keys.options().dtype(at::kByte));
  C10_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      sort_tmp.data_ptr(), sort_bytes, key_in.data_ptr<int64_t>(), key_sorted.data_ptr<int64_t>(),
      idx_in.data_ptr<int64_t>(), idx_sorted.data_ptr<int64_t>(), static_cast<int>(n), 0, end_bit, stream));

  at::Tensor head = at::empty({n}, long_opts), gid1 = at::empty({n}, long_opts);
  PERCEPTION_LAUNCH(head_flags_kernel, n, key_sorted.data_ptr<int64_t>(), n, sentinel, head.data_ptr<int64_t>());
  size_t scan_bytes = 0;
  C10_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, scan_bytes, head.data_ptr<int64_t>(), gid1.data_ptr<int64_t>(),
                                               static_cast<int>(n), stream));
  at::Tensor scan_tmp = at::empty({static_cast<int64_t>(scan_bytes)}, keys.options().dtype(at::kByte));
  C10_CUDA_CHECK(cub::DeviceScan::InclusiveSum(scan_tmp.data_ptr(), scan_bytes, head.data_ptr<int64_t>(),
                                               gid1.data_ptr<int64_t>(), static_cast<int>(n), stream));

  const int64_t num_groups = gid1[n - 1].item<int64_t>();  // the one host sync: output sizes
  out.group_first = at::empty({num_groups}, long_opts);
  at::Tensor start_pos = at::empty({num_groups}, long_opts);
  out.group_size = at::zeros({num_groups}, long_opts);
  PERCEPTION_LAUNCH(assign_groups_kernel, n, key_sorted.data_ptr<int64_t>(), idx_sorted.data_ptr<int64_t>(),
                    head.data_ptr<int64_t>(), gid1.data_ptr<int64_t>(), n, sentinel, out.group_of.data_ptr<int64_t>(),
                    out.group_first.data_ptr<int64_t>(), start_pos.data_ptr<int64_t>(),
                    reinterpret_cast<unsigned long long*>(out.group_size.data_ptr<int64_t>()),
                    need_rank ? out.rank.data_ptr<int64_t>() : nullptr);
  if (need_rank) {
    PERCEPTION_LAUNCH(rank_kernel, n, key_sorted.data_ptr<int64_t>(), idx_sorted.data_ptr<int64_t>(),
                      gid1.data_ptr<int64_t>(), start_pos.data_ptr<int64_t>(), n, sentinel,
                      out.rank.data_ptr<int64_t>());
  }
  return out;
}

}  // namespace perception
