// What a model offers the fast training kernels in train/ (the fused CPU steps and the sparse
// path): its parameters grouped by role, so a kernel asks the model for the tables it trains
// instead of switching on the model's type. A model that has no such layout returns none from
// CollabModelImpl::dot_tables() / mlp_tables() and trains by autograd.
#pragma once

#include <optional>

#include <torch/torch.h>

namespace collab {

// A dot-product model: rating = user_factors[u] . item_factors[i] (+ user_bias[u] + item_bias[i]),
// then sigmoid_range when the model has a y_range. The biases are 1-wide embeddings, both
// present or both absent (null modules).
struct DotTables {
  torch::nn::Embedding user_factors{nullptr};
  torch::nn::Embedding item_factors{nullptr};
  torch::nn::Embedding user_bias{nullptr};
  torch::nn::Embedding item_bias{nullptr};

  bool has_biases() const { return !user_bias.is_empty() && !item_bias.is_empty(); }
};

// An MLP on concatenated embeddings: mlp([user_embedding[u]; item_embedding[i]]), then
// sigmoid_range. `embedding_dropout` is the dropout probability applied to the concatenation in
// training; `mlp` the layers as the model runs them (the fused step checks that they are plain
// Linear/ReLU pairs).
struct MlpTables {
  torch::nn::Embedding user_embedding{nullptr};
  torch::nn::Embedding item_embedding{nullptr};
  double embedding_dropout = 0.0;
  torch::nn::Sequential mlp{nullptr};
};

}  // namespace collab
