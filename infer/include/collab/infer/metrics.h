// Rating-error metrics of a model over a set of ratings.
#pragma once

#include <cstdint>

#include "collab/data/batches.h"
#include "collab/models/collab_model.h"

namespace collab {

struct RatingMetrics {
  double mse = 0;
  double rmse = 0;
  double mae = 0;
};

// Rows per forward pass when predicting outside training (a blend's inputs, an audit).
constexpr int64_t kPredictChunk = 1 << 16;

// Predictions for all rows of `all`, in eval mode and without gradients, `chunk` rows at a time.
torch::Tensor predict(CollabModelImpl& model, const Batch& all, int64_t chunk);
RatingMetrics rating_metrics(const torch::Tensor& predictions, const torch::Tensor& targets);

}  // namespace collab
