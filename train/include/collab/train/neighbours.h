// Nearest items in embedding space: cosine similarity between rows of an item-factor matrix,
// the seed's "movies closest to Silence of the Lambs" and `collab similar`'s ranking.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "collab/train/top_k.h"

namespace collab {

// Cosine similarity [n] of every row of `factors` [n, d] with row `item`. A zero row has
// similarity 0 with everything (rather than NaN).
torch::Tensor cosine_similarities(const torch::Tensor& factors, int64_t item);

// The `k` rows most similar to row `item` (itself left out), most similar first; k <= 0: all.
std::vector<ScoredItem> nearest_items(const torch::Tensor& factors, int64_t item, int64_t k);

}  // namespace collab
