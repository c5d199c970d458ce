// Input validation shared by every entry point of perception._ops_ext.
//
// Each op validates its inputs once, in the binding (bindings.cpp), before it
// dispatches on the tensors' device; the CPU and CUDA implementations may then
// assume well-formed inputs (dtype, rank, sizes, contiguity, one device).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>

namespace perception {

// Numbers in error messages go through num_str(), never through std::ostream: on the GPU image (torch
// 2.11+cu130, Python 3.12) streaming an integer or an IntArrayRef through c10::str inside this extension
// segfaulted in libstdc++'s numeric insertion (strings and ScalarTypes streamed fine), so every number is
// formatted with std::to_string / snprintf and passed as a string.
template <typename T, typename std::enable_if<std::is_integral<T>::value, int>::type = 0>
inline std::string num_str(T value) {
  return std::to_string(value);
}

inline std::string num_str(double value) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", value);
  return buf;
}

inline std::string num_str(c10::IntArrayRef values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

}  // namespace perception

#define PERCEPTION_CHECK_DIM(op, x, d)                                                                    \
  TORCH_CHECK_VALUE((x).dim() == (d), op, ": `" #x "` must be a ", num_str((d)), "-D tensor, got shape ", \
                    num_str((x).sizes()))

#define PERCEPTION_CHECK_CONTIGUOUS(op, x) \
  TORCH_CHECK_VALUE((x).is_contiguous(), op, ": `" #x "` must be contiguous (call .contiguous())")

#define PERCEPTION_CHECK_FLOATING(op, x)                                                    \
  TORCH_CHECK_TYPE((x).scalar_type() == at::kFloat || (x).scalar_type() == at::kDouble, op, \
                   ": `" #x "` must be float32 or float64, got ", (x).scalar_type())

#define PERCEPTION_CHECK_INTEGER(op, x)                                                 \
  TORCH_CHECK_TYPE((x).scalar_type() == at::kInt || (x).scalar_type() == at::kLong, op, \
                   ": `" #x "` must be int32 or int64, got ", (x).scalar_type())

#define PERCEPTION_CHECK_DTYPE(op, x, dtype) \
  TORCH_CHECK_TYPE((x).scalar_type() == (dtype), op, ": `" #x "` must be ", (dtype), ", got ", (x).scalar_type())

#define PERCEPTION_CHECK_SAME_DEVICE(op, x, y)                                                                    \
  TORCH_CHECK_VALUE((x).device() == (y).device(), op, ": `" #x "` and `" #y "` must be on the same device, got ", \
                    (x).device(), " and ", (y).device())

namespace perception {

// Number of bits needed to represent every value in [0, range).
inline int bits_for_range(int64_t range) {
  int bits = 0;
  while (bits < 63 && (int64_t(1) << bits) < range) ++bits;
  return bits;
}

// Product of the extents, or -1 if it exceeds 2^62 (keys must stay far from int64 overflow).
inline int64_t checked_product(std::initializer_list<int64_t> extents) {
  const int64_t limit = int64_t(1) << 62;
  int64_t p = 1;
  for (int64_t e : extents) {
    if (e <= 0) return 0;
    if (p > limit / e) return -1;
    p *= e;
  }
  return p;
}

}  // namespace perception

// Marks small helpers that both the CPU and the CUDA kernels use (one formula, one place).
#ifdef __CUDACC__
#define PERCEPTION_HOST_DEVICE __host__ __device__
#else
#define PERCEPTION_HOST_DEVICE
#endif
