#include "collab/infer/blend.h"

#include "collab/common/error.h"
#include "collab/infer/ridge.h"

namespace collab {

BlendWeights fit_blend(const std::vector<torch::Tensor>& predictions, const torch::Tensor& targets,
                       double ridge) {
  if (predictions.empty()) throw Error("a blend needs at least one model");
  const int64_t n = targets.numel(), k = static_cast<int64_t>(predictions.size());
  if (n <= k) {
    throw Error("a blend of " + std::to_string(k) + " models needs more than " +
                std::to_string(k) + " ratings to fit on, got " + std::to_string(n));
  }
  std::vector<torch::Tensor> columns;
  for (const auto& p : predictions) {
    if (p.numel() != n) {
      throw Error("a blend's predictions and ratings differ in length (" +
                  std::to_string(p.numel()) + " and " + std::to_string(n) + ")");
    }
    columns.push_back(p.reshape({n}));
  }
  // The ridge scales with the ratings, so that its pull on the weights does not fade as they grow.
  const RidgeFit fit = fit_ridge(torch::stack(columns, 1), targets.reshape({n, 1}),
                                 ridge * static_cast<double>(n));
  BlendWeights out;
  for (int64_t j = 0; j < k; ++j) out.weights.push_back(fit.weight[j][0].item<double>());
  out.intercept = fit.bias[0].item<double>();
  return out;
}

BlendedModelImpl::BlendedModelImpl(std::vector<CollabModel> models, BlendWeights weights)
    : models_(std::move(models)), weights_(std::move(weights)) {
  if (models_.size() != weights_.weights.size()) {
    throw Error("a blend of " + std::to_string(models_.size()) + " models got " +
                std::to_string(weights_.weights.size()) + " weights");
  }
  for (size_t j = 0; j < models_.size(); ++j) register_module("model" + std::to_string(j), models_[j]);
}

torch::Tensor BlendedModelImpl::forward(torch::Tensor x) {
  torch::Tensor out;
  for (size_t j = 0; j < models_.size(); ++j) {
    const torch::Tensor part = models_[j]->forward(x) * weights_.weights[j];
    out = out.defined() ? out + part : part;
  }
  return out + weights_.intercept;
}

void BlendedModelImpl::script_into(torch::jit::Module& /*m*/) const {
  throw Error("a blend of models cannot be exported; export the models it blends");
}

}  // namespace collab
