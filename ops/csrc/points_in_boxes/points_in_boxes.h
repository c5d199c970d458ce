// points_in_boxes: which points lie inside which oriented 3D boxes (LiDAR frame).
//
// points (P, 3) and boxes (N, 7) [x, y, z, l, w, h, yaw] (geometric centre,
// yaw counter-clockwise about +z, heading (cos yaw, sin yaw, 0)), one float
// dtype.  A point is inside when, in the box's local frame,
// |x| <= l/2 + eps, |y| <= w/2 + eps and |z| <= h/2 + eps (boundary inclusive).
#pragma once

#include <ATen/ATen.h>

#include "common/checks.h"

namespace perception {

// The one formula every implementation (CPU, CUDA, and the PyTorch reference in
// perception/ops/points_in_boxes.py) evaluates, in the same order of operations:
// per box, half extents h = dims / 2 + eps and (cos yaw, sin yaw); per point,
// d = p - centre, local x = dx*cos + dy*sin, local y = dy*cos - dx*sin, and
// inside = |x| <= hx & |y| <= hy & |dz| <= hz.
constexpr int kBoxFrameSize = 8;  // cx, cy, cz, cos, sin, hx, hy, hz

template <typename T>
PERCEPTION_HOST_DEVICE inline void make_box_frame(const T* box, T cos_yaw, T sin_yaw, T eps, T* frame) {
  frame[0] = box[0];
  frame[1] = box[1];
  frame[2] = box[2];
  frame[3] = cos_yaw;
  frame[4] = sin_yaw;
  frame[5] = box[3] / T(2) + eps;
  frame[6] = box[4] / T(2) + eps;
  frame[7] = box[5] / T(2) + eps;
}

template <typename T>
PERCEPTION_HOST_DEVICE inline bool point_in_box(T px, T py, T pz, T cx, T cy, T cz, T c, T s, T hx, T hy, T hz) {
  const T dx = px - cx;
  const T dy = py - cy;
  const T dz = pz - cz;
  const T lx = dx * c + dy * s;
  const T ly = dy * c - dx * s;
  const T ax = lx < T(0) ? -lx : lx;
  const T ay = ly < T(0) ? -ly : ly;
  const T az = dz < T(0) ? -dz : dz;
  return (ax <= hx) & (ay <= hy) & (az <= hz);  // no short-circuit: branch-free, vectorisable
}

inline void check_points_in_boxes_inputs(const char* op, const at::Tensor& points, const at::Tensor& boxes) {
  PERCEPTION_CHECK_DIM(op, points, 2);
  PERCEPTION_CHECK_DIM(op, boxes, 2);
  TORCH_CHECK_VALUE(points.size(1) == 3, op, ": `points` must be (P, 3) [x, y, z], got shape ",
                    num_str(points.sizes()));
  TORCH_CHECK_VALUE(boxes.size(1) == 7, op, ": `boxes` must be (N, 7) [x, y, z, l, w, h, yaw], got shape ",
                    num_str(boxes.sizes()));
  PERCEPTION_CHECK_FLOATING(op, points);
  TORCH_CHECK_VALUE(points.scalar_type() == boxes.scalar_type(), op, ": `points` and `boxes` must share a dtype, got ",
                    points.scalar_type(), " and ", boxes.scalar_type());
  PERCEPTION_CHECK_SAME_DEVICE(op, points, boxes);
  PERCEPTION_CHECK_CONTIGUOUS(op, points);
  PERCEPTION_CHECK_CONTIGUOUS(op, boxes);
}

at::Tensor points_in_boxes_cpu(const at::Tensor& points, const at::Tensor& boxes, double eps);
at::Tensor points_in_boxes_index_cpu(const at::Tensor& points, const at::Tensor& boxes, double eps);
#ifdef WITH_CUDA
at::Tensor points_in_boxes_cuda(const at::Tensor& points, const at::Tensor& boxes, double eps);
at::Tensor points_in_boxes_index_cuda(const at::Tensor& points, const at::Tensor& boxes, double eps);
#endif

}  // namespace perception
