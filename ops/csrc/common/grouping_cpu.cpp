// CPU stable grouping.
//
// Small key ranges (pillar grids, window grids; key_range <= 4 N + 65536): no
// sort at all.  One pass in ascending element order gives every new key a
// provisional id in a direct table (first-seen order, so a group's first
// element and every element's rank come for free); one scan of the table in key
// order then renumbers the groups in ascending key order.
// Large key ranges (fine 3D grids): an LSD radix sort of (key, index) over only
// the bits the key range needs (<= 11 bits per pass), then one walk of the
// sorted run.  Both are stable and O(N + range) / O(N * passes).
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "common/checks.h"
#include "common/grouping.h"

namespace perception {

namespace {

KeyGroups allocate(int64_t n, int64_t num_groups, bool need_rank, const at::TensorOptions& opts) {
  KeyGroups out;
  out.group_of = at::empty({n}, opts);
  if (need_rank) out.rank = at::empty({n}, opts);
  out.group_first = at::empty({num_groups}, opts);
  out.group_size = at::empty({num_groups}, opts);
  return out;
}

KeyGroups group_dense(const int64_t* key, int64_t n, int64_t key_range, bool need_rank, const at::TensorOptions& opts) {
  std::vector<int32_t> slot(static_cast<size_t>(key_range), -1);  // key -> provisional id
  std::vector<int64_t> first, size;
  at::Tensor provisional = at::empty({n}, opts), rank = at::empty({need_rank ? n : 0}, opts);
  int64_t* prov = provisional.data_ptr<int64_t>();
  int64_t* rk = need_rank ? rank.data_ptr<int64_t>() : nullptr;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = key[i];
    if (k < 0) {
      prov[i] = -1;
      if (rk) rk[i] = -1;
      continue;
    }
    int32_t s = slot[k];
    if (s < 0) {
      s = slot[k] = static_cast<int32_t>(first.size());
      first.push_back(i);
      size.push_back(0);
    }
    prov[i] = s;
    const int64_t r = size[s]++;
    if (rk) rk[i] = r;
  }
  const int64_t num_groups = static_cast<int64_t>(first.size());
  std::vector<int64_t> final_id(static_cast<size_t>(num_groups));
  for (int64_t k = 0, g = 0; k < key_range; ++k)
    if (slot[k] >= 0) final_id[slot[k]] = g++;

  KeyGroups out = allocate(0, num_groups, false, opts);
  int64_t* gf = out.group_first.data_ptr<int64_t>();
  int64_t* gs = out.group_size.data_ptr<int64_t>();
  for (int64_t u = 0; u < num_groups; ++u) {
    gf[final_id[u]] = first[u];
    gs[final_id[u]] = size[u];
  }
  at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      if (prov[i] >= 0) prov[i] = final_id[prov[i]];
  });
  out.group_of = provisional;
  if (need_rank) out.rank = rank;
  return out;
}

KeyGroups group_sorted(const int64_t* key, int64_t n, int64_t key_range, bool need_rank,
                       const at::TensorOptions& opts) {
  std::vector<int64_t> key_a, idx_a;
  key_a.reserve(static_cast<size_t>(n));
  idx_a.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    if (key[i] >= 0) {
      key_a.push_back(key[i]);
      idx_a.push_back(i);
    }
  const size_t m = key_a.size();
  const int bits = bits_for_range(key_range);
  const int passes = std::max(1, (bits + 10) / 11);
  const int digit_bits = (bits + passes - 1) / passes;
  const int64_t radix = int64_t(1) << digit_bits;
  std::vector<int64_t> key_b(m), idx_b(m), offset(static_cast<size_t>(radix));
  for (int p = 0; p < passes; ++p) {  // stable LSD passes: ties keep ascending element order
    const int shift = p * digit_bits;
    std::fill(offset.begin(), offset.end(), 0);
    for (size_t j = 0; j < m; ++j) ++offset[(key_a[j] >> shift) & (radix - 1)];
    int64_t run = 0;
    for (int64_t b = 0; b < radix; ++b) {
      const int64_t c = offset[b];
      offset[b] = run;
      run += c;
    }
    for (size_t j = 0; j < m; ++j) {
      const int64_t dst = offset[(key_a[j] >> shift) & (radix - 1)]++;
      key_b[dst] = key_a[j];
      idx_b[dst] = idx_a[j];
    }
    key_a.swap(key_b);
    idx_a.swap(idx_b);
  }

  int64_t num_groups = 0;
  for (size_t j = 0; j < m; ++j) num_groups += (j == 0 || key_a[j] != key_a[j - 1]);
  KeyGroups out = allocate(n, num_groups, need_rank, opts);
  int64_t* group_of = out.group_of.data_ptr<int64_t>();
  int64_t* rank = need_rank ? out.rank.data_ptr<int64_t>() : nullptr;
  int64_t* first = out.group_first.data_ptr<int64_t>();
  int64_t* size = out.group_size.data_ptr<int64_t>();
  std::fill(group_of, group_of + n, int64_t(-1));
  if (rank) std::fill(rank, rank + n, int64_t(-1));
  int64_t g = -1, start = 0;
  for (size_t j = 0; j < m; ++j) {
    const int64_t e = idx_a[j];
    if (j == 0 || key_a[j] != key_a[j - 1]) {
      if (g >= 0) size[g] = static_cast<int64_t>(j) - start;
      ++g;
      start = static_cast<int64_t>(j);
      first[g] = e;  // stable sort: the first element of a group has the lowest index
    }
    group_of[e] = g;
    if (rank) rank[e] = static_cast<int64_t>(j) - start;
  }
  if (g >= 0) size[g] = static_cast<int64_t>(m) - start;
  return out;
}

}  // namespace

KeyGroups group_keys_cpu(const at::Tensor& keys, int64_t key_range, bool need_rank) {
  const int64_t n = keys.numel();
  const auto opts = keys.options().dtype(at::kLong);
  if (key_range <= 4 * n + (int64_t(1) << 16))
    return group_dense(keys.data_ptr<int64_t>(), n, key_range, need_rank, opts);
  return group_sorted(keys.data_ptr<int64_t>(), n, key_range, need_rank, opts);
}

}  // namespace perception
