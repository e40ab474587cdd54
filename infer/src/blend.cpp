#include "collab/infer/blend.h"

#include "collab/common/error.h"

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
    columns.push_back(p.reshape({n}).to(torch::kDouble));
  }
  columns.push_back(torch::ones({n}, torch::kDouble));
  const torch::Tensor x = torch::stack(columns, 1);  // [n, k + 1]
  const torch::Tensor y = targets.reshape({n, 1}).to(torch::kDouble);
  torch::Tensor gram = x.t().mm(x);
  const torch::Tensor penalty = torch::full({k + 1}, ridge * static_cast<double>(n), torch::kDouble);
  penalty[k] = 0.0;  // the intercept is not shrunk
  gram += torch::diag(penalty);
  const torch::Tensor solution = torch::linalg_solve(gram, x.t().mm(y)).reshape({k + 1});
  BlendWeights out;
  for (int64_t j = 0; j < k; ++j) out.weights.push_back(solution[j].item<double>());
  out.intercept = solution[k].item<double>();
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
