// Top-k selection over one user's scores of every item, leaving out the items that must not be
// recommended again (those the user rated in training): what `collab recommend` ranks with.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace collab {

struct ScoredItem {
  int64_t item;  // index into the item vocabulary
  double score;
};

// The `k` best-scored items of `scores` [n_items], highest first (ties: lower index first),
// never one listed in `exclude` (indices; out-of-range entries are ignored). k <= 0 means every
// item not excluded. NaN scores rank last.
std::vector<ScoredItem> top_k(const torch::Tensor& scores, int64_t k,
                              const std::vector<int64_t>& exclude = {});

// The same selection over one row of raw floats, for callers that rank many rows (every user's
// scores of a block): `scores` [n_items], `sorted_exclude` ascending. One pass with a bounded
// heap when k is small, so a row costs about n_items comparisons; the order is top_k's (highest
// first, ties to the lower index, NaN last). Safe to call from several threads at once.
std::vector<ScoredItem> top_k_of_row(const float* scores, int64_t n_items,
                                     const std::vector<int64_t>& sorted_exclude, int64_t k);

}  // namespace collab
