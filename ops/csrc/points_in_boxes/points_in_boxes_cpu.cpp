// CPU points_in_boxes: the boxes' frames are precomputed into structure-of-
// arrays form so the inner loop over boxes is branch-free and vectorises;
// threads split the points.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "points_in_boxes/points_in_boxes.h"

namespace perception {

namespace {

template <typename T>
struct BoxFramesSoA {
  std::vector<T> cx, cy, cz, c, s, hx, hy, hz;

  BoxFramesSoA(const T* boxes, int64_t n, T eps) : cx(n), cy(n), cz(n), c(n), s(n), hx(n), hy(n), hz(n) {
    T frame[kBoxFrameSize];
    for (int64_t j = 0; j < n; ++j) {
      const T* box = boxes + j * 7;
      make_box_frame(box, static_cast<T>(std::cos(box[6])), static_cast<T>(std::sin(box[6])), eps, frame);
      cx[j] = frame[0], cy[j] = frame[1], cz[j] = frame[2], c[j] = frame[3], s[j] = frame[4];
      hx[j] = frame[5], hy[j] = frame[6], hz[j] = frame[7];
    }
  }

  // inside[j - j0] for boxes [j0, j1)
  void test(T x, T y, T z, int64_t j0, int64_t j1, bool* __restrict inside) const {
    const T *bx = cx.data(), *by = cy.data(), *bz = cz.data(), *bc = c.data(), *bs = s.data();
    const T *ex = hx.data(), *ey = hy.data(), *ez = hz.data();
    for (int64_t j = j0; j < j1; ++j)
      inside[j - j0] = point_in_box(x, y, z, bx[j], by[j], bz[j], bc[j], bs[j], ex[j], ey[j], ez[j]);
  }
};

}  // namespace

at::Tensor points_in_boxes_cpu(const at::Tensor& points, const at::Tensor& boxes, double eps) {
  const int64_t p = points.size(0), n = boxes.size(0);
  at::Tensor out = at::empty({p, n}, points.options().dtype(at::kBool));
  if (p == 0 || n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "points_in_boxes_cpu", [&] {
    const scalar_t* pts = points.data_ptr<scalar_t>();
    bool* mask = out.data_ptr<bool>();
    const BoxFramesSoA<scalar_t> frames(boxes.data_ptr<scalar_t>(), n, static_cast<scalar_t>(eps));
    at::parallel_for(0, p, std::max<int64_t>(1, 65536 / n), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) frames.test(pts[i * 3], pts[i * 3 + 1], pts[i * 3 + 2], 0, n, mask + i * n);
    });
  });
  return out;
}

at::Tensor points_in_boxes_index_cpu(const at::Tensor& points, const at::Tensor& boxes, double eps) {
  const int64_t p = points.size(0), n = boxes.size(0);
  at::Tensor out = at::full({p}, -1, points.options().dtype(at::kLong));
  if (p == 0 || n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "points_in_boxes_index_cpu", [&] {
    const scalar_t* pts = points.data_ptr<scalar_t>();
    int64_t* index = out.data_ptr<int64_t>();
    const BoxFramesSoA<scalar_t> frames(boxes.data_ptr<scalar_t>(), n, static_cast<scalar_t>(eps));
    constexpr int64_t kChunk = 64;
    at::parallel_for(0, p, std::max<int64_t>(1, 65536 / n), [&](int64_t begin, int64_t end) {
      bool inside[kChunk];
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t j0 = 0; j0 < n; j0 += kChunk) {  // vectorised chunks, stop at the first chunk with a hit
          const int64_t j1 = std::min(n, j0 + kChunk);
          frames.test(pts[i * 3], pts[i * 3 + 1], pts[i * 3 + 2], j0, j1, inside);
          const bool* hit = std::find(inside, inside + (j1 - j0), true);
          if (hit != inside + (j1 - j0)) {
            index[i] = j0 + (hit - inside);
            break;
          }
        }
      }
    });
  });
  return out;
}

}  // namespace perception
