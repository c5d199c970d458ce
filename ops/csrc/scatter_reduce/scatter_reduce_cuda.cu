// CUDA scatter_reduce: atomics per (point, channel).  Sum/mean add with
// atomicAdd (the summation order, hence the last bits, may vary run to run);
// max takes the maximum with a compare-and-swap loop, then the lowest index
// among the maxima with atomicMin, so the argmax is deterministic.
// point_to_voxel entries outside [0, V) are ignored (checking would cost a
// device sync; the CPU kernel raises instead).
#include <ATen/Dispatch.h>

#include <limits>

#include "common/cuda_utils.cuh"
#include "scatter_reduce/scatter_reduce.h"

namespace perception {

namespace {

__device__ inline void atomic_max(float* addr, float val) {
  unsigned int* bits = reinterpret_cast<unsigned int*>(addr);
  unsigned int old = *bits;
  while (val > __uint_as_float(old)) {
    const unsigned int assumed = old;
    old = atomicCAS(bits, assumed, __float_as_uint(val));
    if (old == assumed) break;
  }
}

__device__ inline void atomic_max(double* addr, double val) {
  unsigned long long* bits = reinterpret_cast<unsigned long long*>(addr);
  unsigned long long old = *bits;
  while (val > __longlong_as_double(static_cast<long long>(old))) {
    const unsigned long long assumed = old;
    old = atomicCAS(bits, assumed, static_cast<unsigned long long>(__double_as_longlong(val)));
    if (old == assumed) break;
  }
}

__global__ void count_kernel(const int64_t* __restrict__ p2v, int64_t p, int64_t v,
                             unsigned long long* __restrict__ counts) {
  PERCEPTION_CUDA_LOOP(i, p) {
    const int64_t k = p2v[i];
    if (k >= 0 && k < v) atomicAdd(counts + k, 1ULL);
  }
}

template <typename T>
__global__ void scatter_sum_kernel(const T* __restrict__ feats, const int64_t* __restrict__ p2v, int64_t p, int64_t c,
                                   int64_t v, T* __restrict__ out) {
  PERCEPTION_CUDA_LOOP(e, p * c) {
    const int64_t i = e / c, j = e - i * c;
    const int64_t k = p2v[i];
    if (k >= 0 && k < v) atomicAdd(out + k * c + j, feats[e]);
  }
}

template <typename T>
__global__ void divide_by_count_kernel(T* __restrict__ out, const int64_t* __restrict__ counts, int64_t v, int64_t c) {
  PERCEPTION_CUDA_LOOP(e, v * c) {
    const int64_t n = counts[e / c];
    if (n > 0) out[e] /= static_cast<T>(n);
  }
}

template <typename T>
__global__ void scatter_max_kernel(const T* __restrict__ feats, const int64_t* __restrict__ p2v, int64_t p, int64_t c,
                                   int64_t v, T* __restrict__ out) {
  PERCEPTION_CUDA_LOOP(e, p * c) {
    const int64_t i = e / c, j = e - i * c;
    const int64_t k = p2v[i];
    if (k >= 0 && k < v) atomic_max(out + k * c + j, feats[e]);
  }
}

template <typename T>
__global__ void scatter_argmax_kernel(const T* __restrict__ feats, const int64_t* __restrict__ p2v, int64_t p,
                                      int64_t c, int64_t v, const T* __restrict__ out, long long* __restrict__ argmax) {
  PERCEPTION_CUDA_LOOP(e, p * c) {
    const int64_t i = e / c, j = e - i * c;
    const int64_t k = p2v[i];
    if (k >= 0 && k < v && feats[e] == out[k * c + j]) atomicMin(argmax + k * c + j, static_cast<long long>(i));
  }
}

// Empty voxels (argmax still at the sentinel P) get 0 and -1; the others take the argmax point's value.
template <typename T>
__global__ void finalize_max_kernel(const T* __restrict__ feats, int64_t p, int64_t v, int64_t c, T* __restrict__ out,
                                    int64_t* __restrict__ argmax) {
  PERCEPTION_CUDA_LOOP(e, v * c) {
    const int64_t src = argmax[e];
    if (src >= p) {
      argmax[e] = -1;
      out[e] = T(0);
    } else {
      out[e] = feats[src * c + (e % c)];
    }
  }
}

template <typename T>
__global__ void gather_grad_kernel(const T* __restrict__ grad_out, const int64_t* __restrict__ p2v,
                                   const int64_t* __restrict__ counts, int64_t p, int64_t c, int64_t v, bool mean,
                                   T* __restrict__ grad) {
  PERCEPTION_CUDA_LOOP(e, p * c) {
    const int64_t i = e / c, j = e - i * c;
    const int64_t k = p2v[i];
    if (k < 0 || k >= v) {
      grad[e] = T(0);
      continue;
    }
    const T g = grad_out[k * c + j];
    grad[e] = mean ? g / static_cast<T>(counts[k]) : g;
  }
}

template <typename T>
__global__ void argmax_grad_kernel(const T* __restrict__ grad_out, const int64_t* __restrict__ argmax, int64_t v,
                                   int64_t c, T* __restrict__ grad) {
  PERCEPTION_CUDA_LOOP(e, v * c) {
    const int64_t src = argmax[e];
    if (src >= 0) grad[src * c + (e % c)] = grad_out[e];  // one writer per element: no atomics
  }
}

}  // namespace

ScatterReduceResult scatter_reduce_forward_cuda(const at::Tensor& feats, const at::Tensor& point_to_voxel,
                                                int64_t num_voxels, Reduce reduce) {
  const c10::cuda::CUDAGuard guard(feats.device());
  const int64_t p = feats.size(0), c = feats.size(1), v = num_voxels;
  const int64_t* p2v = point_to_voxel.data_ptr<int64_t>();
  at::Tensor counts = at::zeros({v}, point_to_voxel.options());
  PERCEPTION_LAUNCH(count_kernel, p, p2v, p, v, reinterpret_cast<unsigned long long*>(counts.data_ptr<int64_t>()));
  at::Tensor out, argmax = at::empty({0}, point_to_voxel.options());
  AT_DISPATCH_FLOATING_TYPES(feats.scalar_type(), "scatter_reduce_forward_cuda", [&] {
    const scalar_t* f = feats.data_ptr<scalar_t>();
    if (reduce == Reduce::kMax) {
      out = at::full({v, c}, -std::numeric_limits<scalar_t>::infinity(), feats.options());
      argmax = at::full({v, c}, p, point_to_voxel.options());
      PERCEPTION_LAUNCH(scatter_max_kernel<scalar_t>, p * c, f, p2v, p, c, v, out.data_ptr<scalar_t>());
      PERCEPTION_LAUNCH(scatter_argmax_kernel<scalar_t>, p * c, f, p2v, p, c, v, out.data_ptr<scalar_t>(),
                        reinterpret_cast<long long*>(argmax.data_ptr<int64_t>()));
      PERCEPTION_LAUNCH(finalize_max_kernel<scalar_t>, v * c, f, p, v, c, out.data_ptr<scalar_t>(),
                        argmax.data_ptr<int64_t>());
    } else {
      out = at::zeros({v, c}, feats.options());
      PERCEPTION_LAUNCH(scatter_sum_kernel<scalar_t>, p * c, f, p2v, p, c, v, out.data_ptr<scalar_t>());
      if (reduce == Reduce::kMean)
        PERCEPTION_LAUNCH(divide_by_count_kernel<scalar_t>, v * c, out.data_ptr<scalar_t>(), counts.data_ptr<int64_t>(),
                          v, c);
    }
  });
  return {out, counts, argmax};
}

at::Tensor scatter_reduce_backward_cuda(const at::Tensor& grad_out, const at::Tensor& point_to_voxel,
                                        const at::Tensor& counts, const at::Tensor& argmax, Reduce reduce) {
  const c10::cuda::CUDAGuard guard(grad_out.device());
  const int64_t p = point_to_voxel.size(0), v = grad_out.size(0), c = grad_out.size(1);
  // Max scatters into zeros; sum / mean write every element (no zero fill).
  at::Tensor grad =
      reduce == Reduce::kMax ? at::zeros({p, c}, grad_out.options()) : at::empty({p, c}, grad_out.options());
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "scatter_reduce_backward_cuda", [&] {
    if (reduce == Reduce::kMax) {
      PERCEPTION_LAUNCH(argmax_grad_kernel<scalar_t>, v * c, grad_out.data_ptr<scalar_t>(), argmax.data_ptr<int64_t>(),
                        v, c, grad.data_ptr<scalar_t>());
    } else {
      PERCEPTION_LAUNCH(gather_grad_kernel<scalar_t>, p * c, grad_out.data_ptr<scalar_t>(),
                        point_to_voxel.data_ptr<int64_t>(), counts.data_ptr<int64_t>(), p, c, v,
                        reduce == Reduce::kMean, grad.data_ptr<scalar_t>());
    }
  });
  return grad;
}

}  // namespace perception
