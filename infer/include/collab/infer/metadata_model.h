// The side-agnostic fit behind the metadata models (user_metadata_model.h, item_metadata_model.h):
// a ridge regression (ridge.h) from each trained row's side-information features to its vector
// as the model defines it, the ridge strength chosen on held-out rows by the RMSE of their
// predicted ratings of their own training ratings, then refitted on every row. A user front end
// scores a vector against items (CollabModelImpl::score_items), an item front end against users
// (score_users); everything else is the same.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "collab/common/config_reader.h"

namespace collab {

struct MetadataOptions {
  std::vector<double> ridges = {0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000};
  double holdout_fraction = 0.2;  // of the rows, to choose the ridge strength on
  uint64_t seed = 0;
};

// The rows to fit: features [n, F] and targets [n, d] (the rows' vectors), and per row its
// training ratings: the other side's indices and the values.
struct MetadataRows {
  torch::Tensor features;
  torch::Tensor targets;
  const std::vector<std::vector<int64_t>>* others = nullptr;
  const std::vector<std::vector<float>>* ratings = nullptr;
};

// Predicted ratings of `others` (int64 [m]) for a row whose vector is `vector` [d] (float).
using VectorScorer = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

struct MetadataFit {
  torch::Tensor weight;  // float [F, d]
  torch::Tensor bias;    // float [d]
  // "ridge", "rmse_by_ridge", and on the held-out rows "rmse_metadata" and "rmse_mean_<row>"
  // (the mean of the fitting rows' vectors), "holdout_<row>s", "holdout_ratings", "fit_<row>s",
  // "seed"; <row> is `row_name` ("user", "item").
  json report;
};

// Throws collab::Error when fewer than 10 rows are given.
MetadataFit fit_metadata_ridge(const MetadataRows& rows, const VectorScorer& score,
                               const std::string& row_name, const MetadataOptions& options);

}  // namespace collab
