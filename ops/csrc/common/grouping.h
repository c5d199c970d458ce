// Stable grouping of integer keys: the building block of unique_voxels and
// window_partition.
//
// Given N keys (negative = invalid, ignored) with every valid key in
// [0, key_range), returns the groups of equal keys *in ascending key order*,
// and for every element its group and its rank inside the group, ranks taken
// in ascending element index (the sort is stable).  Both implementations
// return identical results.
#pragma once

#include <ATen/ATen.h>

namespace perception {

struct KeyGroups {
  at::Tensor group_of;     // (N,) int64: group id of each element, -1 for invalid keys
  at::Tensor rank;         // (N,) int64: rank inside its group (stable), -1 for invalid; undefined if !need_rank
  at::Tensor group_first;  // (G,) int64: index of the lowest-index element of each group
  at::Tensor group_size;   // (G,) int64: number of elements of each group
};

KeyGroups group_keys_cpu(const at::Tensor& keys, int64_t key_range, bool need_rank);
#ifdef WITH_CUDA
KeyGroups group_keys_cuda(const at::Tensor& keys, int64_t key_range, bool need_rank);
#endif

}  // namespace perception
