// pybind11 module perception._ops_ext: validates inputs once, then dispatches
// on the tensors' device.  This is the only place that chooses CPU or CUDA.
#include <torch/extension.h>

#include <string>
#include <vector>

#include "points_in_boxes/points_in_boxes.h"
#include "region_batching/region_batching.h"
#include "scatter_reduce/scatter_reduce.h"
#include "voxelization/voxelization.h"
#include "window_partition/window_partition.h"

namespace perception {
namespace {

bool with_cuda() {
#ifdef WITH_CUDA
  return true;
#else
  return false;
#endif
}

#ifdef WITH_CUDA
#define PERCEPTION_CUDA_CALL(op, call) return call;
#else
#define PERCEPTION_CUDA_CALL(op, call)                                                           \
  TORCH_CHECK(false, op                                                                          \
              ": got CUDA tensors, but perception._ops_ext was built without CUDA support "      \
              "(WITH_CUDA undefined). Rebuild on a machine with a CUDA build of torch and nvcc " \
              "(`pip install --no-build-isolation -e .`, FORCE_CUDA=1 to force), or pass "       \
              "impl='reference'.");
#endif

// Returns from the enclosing function with the CPU or the CUDA implementation.
#define PERCEPTION_DISPATCH_DEVICE(op, tensor, cpu_call, cuda_call)               \
  do {                                                                            \
    if ((tensor).is_cuda()) {                                                     \
      PERCEPTION_CUDA_CALL(op, cuda_call)                                         \
    }                                                                             \
    TORCH_CHECK((tensor).is_cpu(), op ": unsupported device ", (tensor).device(), \
                "; perception._ops_ext runs on CPU and CUDA tensors");            \
    return cpu_call;                                                              \
  } while (0)

at::Tensor points_in_boxes(const at::Tensor& points, const at::Tensor& boxes, double eps) {
  check_points_in_boxes_inputs("points_in_boxes", points, boxes);
  PERCEPTION_DISPATCH_DEVICE("points_in_boxes", points, points_in_boxes_cpu(points, boxes, eps),
                             points_in_boxes_cuda(points, boxes, eps));
}

at::Tensor points_in_boxes_index(const at::Tensor& points, const at::Tensor& boxes, double eps) {
  check_points_in_boxes_inputs("points_in_boxes_index", points, boxes);
  PERCEPTION_DISPATCH_DEVICE("points_in_boxes_index", points, points_in_boxes_index_cpu(points, boxes, eps),
                             points_in_boxes_index_cuda(points, boxes, eps));
}

at::Tensor voxel_coords(const at::Tensor& points, const std::vector<double>& voxel_size,
                        const std::vector<double>& point_range, const std::vector<int64_t>& grid_size) {
  check_voxel_coords_inputs("voxel_coords", points);
  const VoxelGrid grid = make_voxel_grid("voxel_coords", voxel_size, point_range, grid_size);
  PERCEPTION_DISPATCH_DEVICE("voxel_coords", points, voxel_coords_cpu(points, grid), voxel_coords_cuda(points, grid));
}

UniqueVoxels unique_voxels(const at::Tensor& coords) {
  check_unique_voxels_inputs("unique_voxels", coords);
  PERCEPTION_DISPATCH_DEVICE("unique_voxels", coords, unique_voxels_cpu(coords), unique_voxels_cuda(coords));
}

ScatterReduceResult scatter_reduce_forward(const at::Tensor& feats, const at::Tensor& point_to_voxel,
                                           int64_t num_voxels, const std::string& reduce) {
  check_scatter_reduce_forward_inputs("scatter_reduce", feats, point_to_voxel, num_voxels);
  const Reduce r = parse_reduce("scatter_reduce", reduce);
  PERCEPTION_DISPATCH_DEVICE("scatter_reduce", feats, scatter_reduce_forward_cpu(feats, point_to_voxel, num_voxels, r),
                             scatter_reduce_forward_cuda(feats, point_to_voxel, num_voxels, r));
}

at::Tensor scatter_reduce_backward(const at::Tensor& grad_out, const at::Tensor& point_to_voxel,
                                   const at::Tensor& counts, const at::Tensor& argmax, const std::string& reduce) {
  const Reduce r = parse_reduce("scatter_reduce backward", reduce);
  check_scatter_reduce_backward_inputs("scatter_reduce backward", grad_out, point_to_voxel, counts, argmax, r);
  PERCEPTION_DISPATCH_DEVICE("scatter_reduce backward", grad_out,
                             scatter_reduce_backward_cpu(grad_out, point_to_voxel, counts, argmax, r),
                             scatter_reduce_backward_cuda(grad_out, point_to_voxel, counts, argmax, r));
}

WindowPartitionResult window_partition(const at::Tensor& voxels, const std::vector<int64_t>& sparse_shape,
                                       const std::vector<int64_t>& window_shape, bool shifted) {
  check_window_partition_inputs("window_partition", voxels);
  const WindowGrid grid = make_window_grid("window_partition", sparse_shape, window_shape, shifted);
  PERCEPTION_DISPATCH_DEVICE("window_partition", voxels, window_partition_cpu(voxels, grid),
                             window_partition_cuda(voxels, grid));
}

RegionBatchingResult region_batching(const at::Tensor& window_id, const at::Tensor& index_in_window,
                                     const at::Tensor& tokens_per_window, const std::vector<int64_t>& bucket_caps) {
  check_region_batching_inputs("region_batching", window_id, index_in_window, tokens_per_window);
  const BucketCaps caps = make_bucket_caps("region_batching", bucket_caps);
  PERCEPTION_DISPATCH_DEVICE("region_batching", window_id,
                             region_batching_cpu(window_id, index_in_window, tokens_per_window, caps),
                             region_batching_cuda(window_id, index_in_window, tokens_per_window, caps));
}

at::Tensor gather_regions(const at::Tensor& feats, const at::Tensor& index) {
  check_gather_regions_inputs("gather_regions", feats, index);
  PERCEPTION_DISPATCH_DEVICE("gather_regions", feats, gather_regions_cpu(feats, index),
                             gather_regions_cuda(feats, index));
}

at::Tensor scatter_regions(const std::vector<at::Tensor>& regions, const std::vector<at::Tensor>& index,
                           int64_t num_voxels) {
  check_scatter_regions_inputs("scatter_regions", regions, index, num_voxels);
  PERCEPTION_DISPATCH_DEVICE("scatter_regions", regions[0], scatter_regions_cpu(regions, index, num_voxels),
                             scatter_regions_cuda(regions, index, num_voxels));
}

}  // namespace
}  // namespace perception

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  namespace py = pybind11;
  using namespace perception;
  m.doc() =
      "Compiled sparse LiDAR ops of perception (CPU, and CUDA when built with it). "
      "Use them through perception.ops, which validates arguments and adds autograd.";
  m.def("with_cuda", &with_cuda, "Whether the module was built with its CUDA kernels.");
  m.def("points_in_boxes", &points_in_boxes, py::arg("points"), py::arg("boxes"), py::arg("eps"));
  m.def("points_in_boxes_index", &points_in_boxes_index, py::arg("points"), py::arg("boxes"), py::arg("eps"));
  m.def("voxel_coords", &voxel_coords, py::arg("points"), py::arg("voxel_size"), py::arg("point_range"),
        py::arg("grid_size"));
  m.def("unique_voxels", &unique_voxels, py::arg("coords"));
  m.def("scatter_reduce_forward", &scatter_reduce_forward, py::arg("feats"), py::arg("point_to_voxel"),
        py::arg("num_voxels"), py::arg("reduce"));
  m.def("scatter_reduce_backward", &scatter_reduce_backward, py::arg("grad_out"), py::arg("point_to_voxel"),
        py::arg("counts"), py::arg("argmax"), py::arg("reduce"));
  m.def("window_partition", &window_partition, py::arg("voxels"), py::arg("sparse_shape"), py::arg("window_shape"),
        py::arg("shifted"));
  m.def("region_batching", &region_batching, py::arg("window_id"), py::arg("index_in_window"),
        py::arg("tokens_per_window"), py::arg("bucket_caps"));
  m.def("gather_regions", &gather_regions, py::arg("feats"), py::arg("index"));
  m.def("scatter_regions", &scatter_regions, py::arg("regions"), py::arg("index"), py::arg("num_voxels"));
}
