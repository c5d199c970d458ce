#include <ATen/Dispatch.h>

#include "common/cuda_utils.cuh"
#include "points_in_boxes/points_in_boxes.h"

namespace perception {

namespace {

template <typename T>
__global__ void box_frame_kernel(const T* __restrict__ boxes, int64_t n, T eps, T* __restrict__ frames) {
  PERCEPTION_CUDA_LOOP(j, n) {
    const T* box = boxes + j * 7;
    make_box_frame(box, static_cast<T>(cos(box[6])), static_cast<T>(sin(box[6])), eps, frames + j * kBoxFrameSize);
  }
}

template <typename T>
__device__ inline bool inside_frame(const T* __restrict__ pts, int64_t i, const T* __restrict__ f) {
  return point_in_box(pts[i * 3], pts[i * 3 + 1], pts[i * 3 + 2], f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
}

// One thread per (point, box) pair: consecutive threads write consecutive mask bytes.
template <typename T>
__global__ void points_in_boxes_kernel(const T* __restrict__ pts, const T* __restrict__ frames, int64_t p, int64_t n,
                                       bool* __restrict__ mask) {
  PERCEPTION_CUDA_LOOP(k, p * n) {
    const int64_t i = k / n;
    mask[k] = inside_frame(pts, i, frames + (k - i * n) * kBoxFrameSize);
  }
}

template <typename T>
__global__ void points_in_boxes_index_kernel(const T* __restrict__ pts, const T* __restrict__ frames, int64_t p,
                                             int64_t n, int64_t* __restrict__ index) {
  PERCEPTION_CUDA_LOOP(i, p) {
    int64_t found = -1;
    for (int64_t j = 0; j < n; ++j) {
      if (inside_frame(pts, i, frames + j * kBoxFrameSize)) {
        found = j;
        break;
      }
    }
    index[i] = found;
  }
}

}  // namespace

at::Tensor points_in_boxes_cuda(const at::Tensor& points, const at::Tensor& boxes, double eps) {
  const c10::cuda::CUDAGuard guard(points.device());
  const int64_t p = points.size(0), n = boxes.size(0);
  at::Tensor out = at::empty({p, n}, points.options().dtype(at::kBool));
  if (p == 0 || n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "points_in_boxes_cuda", [&] {
    at::Tensor frames = at::empty({n, kBoxFrameSize}, boxes.options());
    PERCEPTION_LAUNCH(box_frame_kernel<scalar_t>, n, boxes.data_ptr<scalar_t>(), n, static_cast<scalar_t>(eps),
                      frames.data_ptr<scalar_t>());
    PERCEPTION_LAUNCH(points_in_boxes_kernel<scalar_t>, p * n, points.data_ptr<scalar_t>(), frames.data_ptr<scalar_t>(),
                      p, n, out.data_ptr<bool>());
  });
  return out;
}

at::Tensor points_in_boxes_index_cuda(const at::Tensor& points, const at::Tensor& boxes, double eps) {
  const c10::cuda::CUDAGuard guard(points.device());
  const int64_t p = points.size(0), n = boxes.size(0);
  at::Tensor out = at::full({p}, -1, points.options().dtype(at::kLong));
  if (p == 0 || n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "points_in_boxes_index_cuda", [&] {
    at::Tensor frames = at::empty({n, kBoxFrameSize}, boxes.options());
    PERCEPTION_LAUNCH(box_frame_kernel<scalar_t>, n, boxes.data_ptr<scalar_t>(), n, static_cast<scalar_t>(eps),
                      frames.data_ptr<scalar_t>());
    PERCEPTION_LAUNCH(points_in_boxes_index_kernel<scalar_t>, p, points.data_ptr<scalar_t>(),
                      frames.data_ptr<scalar_t>(), p, n, out.data_ptr<int64_t>());
  });
  return out;
}

}  // namespace perception
