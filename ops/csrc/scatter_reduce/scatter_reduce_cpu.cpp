// CPU scatter_reduce, two kernels with bitwise-identical results (each voxel's
// points taken in ascending point index: the reference's index_add order for
// sums; ties of max go to the lowest point index by a strict >):
// - streaming, for sums and means of a few channels into an output that stays
//   in cache (the xyz means of a voxel encoder): one thread adds the points in
//   order straight into the output, with no grouping pass;
// - grouped, otherwise: points grouped by voxel (a stable counting sort), each
//   voxel reduced by one thread, no atomics.
// Neither depends on the thread count.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "scatter_reduce/scatter_reduce.h"

namespace perception {

namespace {

// point_to_voxel[i], checked: -1 (ignored) or a voxel index < v.
inline int64_t voxel_of(const int64_t* p2v, int64_t i, int64_t v) {
  const int64_t k = p2v[i];
  TORCH_CHECK_INDEX(k < v, "scatter_reduce: point_to_voxel[", num_str(i), "] = ", num_str(k),
                    " is out of range for num_voxels = ", num_str(v));
  return k;
}

// Points grouped by voxel: `offset` (V + 1) and `order` (the points of voxel k are order[offset[k]:offset[k+1]],
// ascending), by a stable counting sort; `cnt` gets the points per voxel.  Serial: two passes over the P indices
// into L2-sized tables.  Two parallel versions (per-thread counts with a prefix over voxels and threads; ranks
// recorded while counting, then a parallel placing pass) were slower on 2 threads.
void group_points(const int64_t* p2v, int64_t p, int64_t v, int64_t* cnt, std::vector<int64_t>& offset,
                  std::vector<int32_t>& order) {
  std::fill(cnt, cnt + v, int64_t(0));
  for (int64_t i = 0; i < p; ++i) {
    const int64_t k = voxel_of(p2v, i, v);
    if (k < 0) continue;
    ++cnt[k];
  }
  offset.assign(static_cast<size_t>(v) + 1, 0);
  for (int64_t k = 0; k < v; ++k) offset[k + 1] = offset[k] + cnt[k];
  order.resize(static_cast<size_t>(offset[v]));
  std::vector<int64_t> fill(offset.begin(), offset.end() - 1);
  for (int64_t i = 0; i < p; ++i)
    if (p2v[i] >= 0) order[fill[p2v[i]]++] = static_cast<int32_t>(i);
}

// Sum / mean of at most kStreamChannels channels into an output of at most kStreamBytes go to the streaming
// kernel.  Measured on a 2-core Xeon (2 MiB L2) with 58k-120k points: xyz means 1.3-1.6x faster than grouped
// (random or scan order, up to 117k voxels); from 8 channels on, and for max (its argmax select), the
// grouped kernel is as fast or faster: it runs on every thread and its random accesses are prefetched reads.
constexpr int64_t kStreamChannels = 4;
constexpr int64_t kStreamBytes = 2 * 1024 * 1024;

// The streaming kernel (sum / mean, kC channels, fixed at compile time so the per-point loops unroll): one pass
// over the points in ascending order, adding each into its voxel's row, which stays in cache.  `cnt` (V) gets
// the points per voxel; rows of empty voxels get 0.
template <typename scalar_t, int64_t kC>
void reduce_streaming(const scalar_t* f, const int64_t* p2v, int64_t p, int64_t v, Reduce reduce, scalar_t* o,
                      int64_t* cnt) {
  std::fill(cnt, cnt + v, int64_t(0));
  for (int64_t i = 0; i < p; ++i) {
    const int64_t k = voxel_of(p2v, i, v);
    if (k < 0) continue;
    const scalar_t* __restrict frow = f + i * kC;
    scalar_t* __restrict row = o + k * kC;
    if (cnt[k]++ == 0) {  // the voxel's first point (the grouped kernel also starts from it, not from 0)
      for (int64_t j = 0; j < kC; ++j) row[j] = frow[j];
    } else {
      for (int64_t j = 0; j < kC; ++j) row[j] += frow[j];
    }
  }
  for (int64_t k = 0; k < v; ++k) {
    scalar_t* __restrict row = o + k * kC;
    if (cnt[k] == 0) {
      for (int64_t j = 0; j < kC; ++j) row[j] = scalar_t(0);
    } else if (reduce == Reduce::kMean) {
      const scalar_t denom = static_cast<scalar_t>(cnt[k]);
      for (int64_t j = 0; j < kC; ++j) row[j] /= denom;
    }
  }
}

template <typename scalar_t>
void reduce_streaming(const scalar_t* f, const int64_t* p2v, int64_t p, int64_t c, int64_t v, Reduce reduce,
                      scalar_t* o, int64_t* cnt) {
  switch (c) {
    case 1: return reduce_streaming<scalar_t, 1>(f, p2v, p, v, reduce, o, cnt);
    case 2: return reduce_streaming<scalar_t, 2>(f, p2v, p, v, reduce, o, cnt);
    case 3: return reduce_streaming<scalar_t, 3>(f, p2v, p, v, reduce, o, cnt);
    case 4: return reduce_streaming<scalar_t, 4>(f, p2v, p, v, reduce, o, cnt);
    default: TORCH_CHECK(false, "scatter_reduce: the streaming kernel takes 1-", kStreamChannels, " channels");
  }
}

}  // namespace

ScatterReduceResult scatter_reduce_forward_cpu(const at::Tensor& feats, const at::Tensor& point_to_voxel,
                                               int64_t num_voxels, Reduce reduce) {
  const int64_t p = feats.size(0), c = feats.size(1), v = num_voxels;
  const int64_t* p2v = point_to_voxel.data_ptr<int64_t>();
  at::Tensor counts = at::empty({v}, point_to_voxel.options());
  at::Tensor out = at::empty({v, c}, feats.options());
  at::Tensor argmax =
      reduce == Reduce::kMax ? at::empty({v, c}, point_to_voxel.options()) : at::empty({0}, point_to_voxel.options());
  if (reduce != Reduce::kMax && c >= 1 && c <= kStreamChannels &&
      v * c * static_cast<int64_t>(feats.element_size()) <= kStreamBytes) {
    AT_DISPATCH_FLOATING_TYPES(feats.scalar_type(), "scatter_reduce_forward_cpu", [&] {
      reduce_streaming(feats.data_ptr<scalar_t>(), p2v, p, c, v, reduce, out.data_ptr<scalar_t>(),
                       counts.data_ptr<int64_t>());
    });
    return {out, counts, argmax};
  }
  TORCH_CHECK_VALUE(p <= std::numeric_limits<int32_t>::max(), "scatter_reduce: too many points (", num_str(p), ")");
  // Each voxel is then reduced by one thread over its points in ascending index, its output row resident in
  // cache while the point rows (random reads) are prefetched a few points ahead.
  std::vector<int64_t> offset;
  std::vector<int32_t> order;
  group_points(p2v, p, v, counts.data_ptr<int64_t>(), offset, order);
  AT_DISPATCH_FLOATING_TYPES(feats.scalar_type(), "scatter_reduce_forward_cpu", [&] {
    // The running argmax is kept at the width of scalar_t so the select loop vectorises.
    using Index = typename std::conditional<sizeof(scalar_t) == 4, int32_t, int64_t>::type;
    const scalar_t* f = feats.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    int64_t* am = reduce == Reduce::kMax ? argmax.data_ptr<int64_t>() : nullptr;
    constexpr int64_t kPrefetch = 16;  // points ahead: their rows are random reads, prefetched whole
    constexpr int64_t kLine = 64 / sizeof(scalar_t);
    const int64_t total = static_cast<int64_t>(order.size());
    at::parallel_for(0, v, std::max<int64_t>(1, 4096 / std::max<int64_t>(c, 1)), [&](int64_t begin, int64_t end) {
      std::vector<Index> best(reduce == Reduce::kMax ? static_cast<size_t>(c) : 0);
      Index* __restrict b = best.data();
      for (int64_t k = begin; k < end; ++k) {
        scalar_t* __restrict row = o + k * c;
        const int64_t q0 = offset[k], q1 = offset[k + 1];
        if (q0 == q1) {  // no point: 0 (and argmax -1)
          std::fill(row, row + c, scalar_t(0));
          if (am) std::fill(am + k * c, am + (k + 1) * c, int64_t(-1));
          continue;
        }
        for (int64_t q = q0; q < q1; ++q) {
          if (q + kPrefetch < total) {  // every point, also a voxel's first (most voxels hold few points)
            const scalar_t* ahead = f + static_cast<int64_t>(order[q + kPrefetch]) * c;
            for (int64_t j = 0; j < c; j += kLine) __builtin_prefetch(ahead + j);
          }
          const Index i = static_cast<Index>(order[q]);
          const scalar_t* __restrict frow = f + static_cast<int64_t>(i) * c;
          if (q == q0) {
            std::copy(frow, frow + c, row);
            if (am) std::fill(b, b + c, i);
          } else if (am) {
            for (int64_t j = 0; j < c; ++j) {  // bit masks, not a conditional store: GCC vectorises this
              const scalar_t fv = frow[j], rv = row[j];
              const Index take = -static_cast<Index>(fv > rv);
              row[j] = fv > rv ? fv : rv;
              b[j] = (b[j] & ~take) | (i & take);
            }
          } else {
            for (int64_t j = 0; j < c; ++j) row[j] += frow[j];
          }
        }
        if (am) std::copy(b, b + c, am + k * c);
        if (reduce == Reduce::kMean) {
          const scalar_t denom = static_cast<scalar_t>(q1 - q0);
          for (int64_t j = 0; j < c; ++j) row[j] /= denom;
        }
      }
    });
  });
  return {out, counts, argmax};
}

at::Tensor scatter_reduce_backward_cpu(const at::Tensor& grad_out, const at::Tensor& point_to_voxel,
                                       const at::Tensor& counts, const at::Tensor& argmax, Reduce reduce) {
  const int64_t p = point_to_voxel.size(0), v = grad_out.size(0), c = grad_out.size(1);
  const int64_t* p2v = point_to_voxel.data_ptr<int64_t>();
  const int64_t* cnt = counts.data_ptr<int64_t>();
  at::Tensor grad;
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "scatter_reduce_backward_cpu", [&] {
    const scalar_t* go = grad_out.data_ptr<scalar_t>();
    if (reduce == Reduce::kMax) {
      // The gradient of each (voxel, channel) goes to its argmax point; each (point, channel) is the argmax of
      // at most one voxel, so voxels never write the same element.
      grad = at::zeros({p, c}, grad_out.options());
      scalar_t* g = grad.data_ptr<scalar_t>();
      const int64_t* am = argmax.data_ptr<int64_t>();
      at::parallel_for(0, v, std::max<int64_t>(1, 16384 / std::max<int64_t>(c, 1)), [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k)
          for (int64_t j = 0; j < c; ++j) {
            const int64_t src = am[k * c + j];
            if (src >= 0) g[src * c + j] = go[k * c + j];
          }
      });
      return;
    }
    // Sum / mean: every gradient row is written exactly once (no zero fill first), gathered from its voxel.
    grad = at::empty({p, c}, grad_out.options());
    scalar_t* g = grad.data_ptr<scalar_t>();
    at::parallel_for(0, p, std::max<int64_t>(1, 16384 / std::max<int64_t>(c, 1)), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        scalar_t* __restrict grow = g + i * c;
        const int64_t k = p2v[i];
        if (k < 0) {
          std::fill(grow, grow + c, scalar_t(0));
          continue;
        }
        TORCH_CHECK_INDEX(k < v, "scatter_reduce backward: point_to_voxel[", num_str(i), "] = ", num_str(k),
                          " is out of range for num_voxels = ", num_str(v));
        const scalar_t* __restrict src = go + k * c;
        if (reduce == Reduce::kMean) {
          const scalar_t denom = static_cast<scalar_t>(cnt[k]);
          for (int64_t j = 0; j < c; ++j) grow[j] = src[j] / denom;
        } else {
          std::copy(src, src + c, grow);
        }
      }
    });
  });
  return grad;
}

}  // namespace perception
