// Building blocks shared by the architectures, as fastai defines them: embeddings with its
// truncated-normal init, sigmoid_range, and the embedding-size rule of its tabular models.
#pragma once

#include <cstdint>
#include <optional>

#include <torch/torch.h>

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

// nn.Embedding(n, dim) initialised as fastai's trunc_normal_: normal(0, 1).fmod(2) * 0.01
// (values beyond 2 standard deviations wrap around rather than being resampled).
torch::nn::Embedding make_embedding(int64_t n, int64_t dim);

// sigmoid(x) * (hi - lo) + lo, or x unchanged without a range.
torch::Tensor sigmoid_range(const torch::Tensor& x, const std::optional<YRange>& range);

// Reads `y_range` (null or [lo, hi]) from a model section.
std::optional<YRange> read_y_range(ConfigReader& model);

// fastai's emb_sz_rule: min(600, round(1.6 * n^0.56)).
int64_t embedding_size_rule(int64_t n_categories);

}  // namespace collab
