// Nearest items in embedding space: cosine similarity between rows of an item-factor matrix,
// the seed's "movies closest to Silence of the Lambs" and `collab similar`'s ranking.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "collab/infer/top_k.h"

namespace collab {

// Cosine similarity [n] of every row of `factors` [n, d] with row `item`. A zero row has
// similarity 0 with everything (rather than NaN).
torch::Tensor cosine_similarities(const torch::Tensor& factors, int64_t item);

// Cosine similarity [n] of every row of `factors` [n, d] with a vector `query` [d] (an item
// that is not a row, e.g. one built from its features); zero vectors give 0.
torch::Tensor cosine_similarities_to(const torch::Tensor& factors, const torch::Tensor& query);

// The mean row [d] of `factors` [n, d], in double on the CPU. `collab similar` subtracts the
// mean of its neighbour candidates from every item vector (and from a query vector) before
// taking cosines: a component every item shares says nothing about which items resemble each
// other (for the dot models it adds the same u . mean to every item a user is scored on), yet it
// pulls every cosine towards 1.
torch::Tensor mean_row(const torch::Tensor& factors);

// `collab similar`'s ranking: the top `k` rows of `factors` [n, d] by cosine similarity to
// `query` [d], both centred on the mean of the rows that compete as neighbours (those not in
// `exclude`, which never appear): rarely-rated items sit near their zero start and would dilute
// the shared component.
std::vector<ScoredItem> centred_nearest_items(const torch::Tensor& factors,
                                              const torch::Tensor& query,
                                              const std::vector<int64_t>& exclude, int64_t k);

// The `k` rows most similar to row `item` (itself left out), most similar first; k <= 0: all.
std::vector<ScoredItem> nearest_items(const torch::Tensor& factors, int64_t item, int64_t k);

}  // namespace collab
