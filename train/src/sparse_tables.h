// Private to the sparse path (sparse_train.cpp, sparse_fit.cpp): SparseTrainer's parameter
// tables, which point into the model's own weights (rows `stride` floats apart), with lazy
// Adam's state beside them (rows `dim` floats apart).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "collab/train/sparse_train.h"

namespace collab {

// One parameter table with, for lazy Adam, its moments and per-row step counts.
struct SparseTrainer::Table {
  float* param = nullptr;  // null for the biases of a model without them
  int64_t rows = 0;
  int64_t dim = 0;
  int64_t stride = 0;  // floats from one row of param to the next (>= dim: rows may be padded)
  std::vector<float> exp_avg, exp_avg_sq;
  std::vector<int32_t> steps;

  Table() = default;
  Table(const torch::Tensor& weight, bool lazy_adam)
      : param(weight.data_ptr<float>()),
        rows(weight.size(0)),
        dim(weight.size(1)),
        stride(weight.stride(0)) {
    if (!lazy_adam) return;
    exp_avg.assign(static_cast<size_t>(rows * dim), 0.0f);
    exp_avg_sq.assign(static_cast<size_t>(rows * dim), 0.0f);
    steps.assign(static_cast<size_t>(rows), 0);
  }
};

// The model's tables, by name.
struct SparseTrainer::Tables {
  Table user_factors, item_factors;
  Table user_bias, item_bias;  // param null when the model has no biases
  bool has_biases() const { return user_bias.param != nullptr; }
};

}  // namespace collab
