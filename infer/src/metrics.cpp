#include "collab/infer/metrics.h"

#include <cmath>

namespace collab {

torch::Tensor predict(CollabModelImpl& model, const Batch& all, int64_t chunk) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<torch::Tensor> parts;
  for (const Batch& b : chunks(all, chunk)) parts.push_back(model.forward(b.x));
  model.train(was_training);
  return torch::cat(parts);
}

RatingMetrics rating_metrics(const torch::Tensor& predictions, const torch::Tensor& targets) {
  // Accumulate in double: 20k float squared errors summed in float lose ~1e-4 relative.
  const torch::Tensor err = (predictions.to(torch::kDouble) - targets.to(torch::kDouble));
  RatingMetrics m;
  m.mse = err.pow(2).mean().item<double>();
  m.rmse = std::sqrt(m.mse);
  m.mae = err.abs().mean().item<double>();
  return m;
}

}  // namespace collab
