#include "collab/infer/blend.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "collab/common/error.h"
#include "collab/common/utf8.h"
#include "collab/infer/ridge.h"

namespace collab {

BlendFeature blend_feature(const std::string& name, const std::string& key) {
  if (name == "user_support") return BlendFeature::kUserSupport;
  if (name == "item_support") return BlendFeature::kItemSupport;
  throw Error(key + ": unknown blend feature " + quoted_for_message(name) +
              " (expected \"user_support\" or \"item_support\")");
}

std::string blend_feature_name(BlendFeature feature) {
  return feature == BlendFeature::kUserSupport ? "user_support" : "item_support";
}

std::vector<BlendFeature> read_blend_features(ConfigReader& section) {
  const json features = section.raw("features", json::array());
  if (!features.is_array()) {
    section.fail("features", "expected an array of feature names, got " + describe(features));
  }
  std::vector<BlendFeature> out;
  for (size_t i = 0; i < features.size(); ++i) {
    const std::string key = section.path_of("features") + "[" + std::to_string(i) + "]";
    if (!features[i].is_string()) {
      throw Error(key + ": expected a blend feature name, got " + describe(features[i]));
    }
    out.push_back(blend_feature(features[i].get<std::string>(), key));
  }
  return out;
}

json blend_feature_names(const std::vector<BlendFeature>& features) {
  json out = json::array();
  for (const BlendFeature f : features) out.push_back(blend_feature_name(f));
  return out;
}

BlendSupport blend_support(const Dataset& data, const Ratings& ratings) {
  const auto count = [](const std::vector<int32_t>& ids, size_t size) {
    const torch::Tensor t = torch::tensor(ids, torch::kLong);
    return torch::bincount(t, /*weights=*/{}, static_cast<int64_t>(size)).to(torch::kFloat);
  };
  return {count(ratings.users, data.users.size()), count(ratings.items, data.items.size())};
}

torch::Tensor blend_feature_values(const std::vector<BlendFeature>& features,
                                   const BlendSupport& support, const torch::Tensor& x) {
  std::vector<torch::Tensor> columns;
  for (const BlendFeature f : features) {
    const bool user = f == BlendFeature::kUserSupport;
    const torch::Tensor& counts = user ? support.user_counts : support.item_counts;
    columns.push_back(torch::log1p(counts.index_select(0, x.select(1, user ? 0 : 1))));
  }
  if (columns.empty()) return torch::zeros({x.size(0), 0});
  return torch::stack(columns, 1);
}

BlendWeights fit_blend(const std::vector<torch::Tensor>& predictions, const torch::Tensor& targets,
                       double ridge) {
  return fit_blend(predictions, torch::zeros({targets.numel(), 0}), targets, ridge);
}

BlendWeights fit_blend(const std::vector<torch::Tensor>& predictions, const torch::Tensor& features,
                       const torch::Tensor& targets, double ridge) {
  if (predictions.empty()) throw Error("a blend needs at least one model");
  const int64_t n = targets.numel(), k = static_cast<int64_t>(predictions.size());
  const int64_t n_features = features.dim() == 2 ? features.size(1) : -1;
  if (n_features < 0 || features.size(0) != n) {
    throw Error("a blend's features must be [ratings, features] with one row per rating (" +
                std::to_string(n) + ")");
  }
  const int64_t unknowns = k * (1 + n_features) + n_features;
  if (n <= unknowns) {
    throw Error("a blend of " + std::to_string(k) + " models needs more than " +
                std::to_string(unknowns) + " ratings to fit on, got " + std::to_string(n));
  }
  std::vector<torch::Tensor> columns;
  for (const auto& p : predictions) {
    if (p.numel() != n) {
      throw Error("a blend's predictions and ratings differ in length (" +
                  std::to_string(p.numel()) + " and " + std::to_string(n) + ")");
    }
    columns.push_back(p.reshape({n}).to(torch::kFloat));
  }
  const torch::Tensor f = features.to(torch::kFloat);
  for (int64_t m = 0; m < k; ++m) {
    for (int64_t j = 0; j < n_features; ++j) columns.push_back(columns[m] * f.select(1, j));
  }
  for (int64_t j = 0; j < n_features; ++j) columns.push_back(f.select(1, j));
  // The ridge scales with the ratings, so that its pull on the weights does not fade as they grow.
  const RidgeFit fit = fit_ridge(torch::stack(columns, 1), targets.reshape({n, 1}),
                                 ridge * static_cast<double>(n));
  BlendWeights out;
  for (int64_t m = 0; m < k; ++m) out.weights.push_back(fit.weight[m][0].item<double>());
  out.intercept = fit.bias[0].item<double>();
  if (n_features == 0) return out;
  for (int64_t m = 0; m < k; ++m) {
    out.feature_weights.emplace_back();
    for (int64_t j = 0; j < n_features; ++j) {
      out.feature_weights[m].push_back(fit.weight[k + m * n_features + j][0].item<double>());
    }
  }
  for (int64_t j = 0; j < n_features; ++j) {
    out.feature_intercepts.push_back(fit.weight[k * (1 + n_features) + j][0].item<double>());
  }
  return out;
}

torch::Tensor apply_blend(const BlendWeights& weights, const std::vector<torch::Tensor>& predictions,
                          const torch::Tensor& features) {
  const bool featured = !weights.feature_intercepts.empty();
  torch::Tensor out;
  for (size_t m = 0; m < predictions.size(); ++m) {
    torch::Tensor part = predictions[m] * weights.weights[m];
    // With features the model's weight varies by row: its slopes times the features.
    for (size_t j = 0; featured && j < weights.feature_intercepts.size(); ++j) {
      part = part + predictions[m] * features.select(1, static_cast<int64_t>(j)) *
                        weights.feature_weights[m][j];
    }
    out = out.defined() ? out + part : part;
  }
  out = out + weights.intercept;
  for (size_t j = 0; featured && j < weights.feature_intercepts.size(); ++j) {
    out = out + weights.feature_intercepts[j] * features.select(1, static_cast<int64_t>(j));
  }
  return out;
}

double cross_validated_blend_rmse(const std::vector<torch::Tensor>& predictions,
                                  const torch::Tensor& features, const torch::Tensor& targets,
                                  double ridge, int64_t folds) {
  if (folds < 2) throw Error("a cross-validated blend needs at least 2 folds, got " +
                             std::to_string(folds));
  const int64_t n = targets.numel();
  const torch::Tensor fold_of = torch::arange(n) % folds;
  double squared = 0;
  for (int64_t f = 0; f < folds; ++f) {
    const torch::Tensor fit_rows = (fold_of != f).nonzero().reshape({-1});
    const torch::Tensor out_rows = (fold_of == f).nonzero().reshape({-1});
    std::vector<torch::Tensor> fit_p, out_p;
    for (const auto& p : predictions) {
      fit_p.push_back(p.reshape({n}).index_select(0, fit_rows));
      out_p.push_back(p.reshape({n}).index_select(0, out_rows));
    }
    const BlendWeights w = fit_blend(fit_p, features.index_select(0, fit_rows),
                                     targets.reshape({n}).index_select(0, fit_rows), ridge);
    const torch::Tensor err = apply_blend(w, out_p, features.index_select(0, out_rows)) -
                              targets.reshape({n}).index_select(0, out_rows);
    squared += err.to(torch::kDouble).pow(2).sum().item<double>();
  }
  return std::sqrt(squared / static_cast<double>(n));
}

BlendSelection select_blend(const std::vector<torch::Tensor>& candidates,
                            const torch::Tensor& features, const torch::Tensor& targets,
                            double ridge, int64_t folds, size_t max_models, double min_gain) {
  if (candidates.empty()) throw Error("a blend needs at least one model to choose from");
  BlendSelection out;
  std::vector<bool> taken(candidates.size(), false);
  double best = std::numeric_limits<double>::infinity();
  while (out.chosen.size() < std::min(max_models, candidates.size())) {
    std::vector<torch::Tensor> trial;
    for (const size_t c : out.chosen) trial.push_back(candidates[c]);
    trial.emplace_back();
    size_t pick = candidates.size();
    double pick_rmse = best;
    for (size_t c = 0; c < candidates.size(); ++c) {
      if (taken[c]) continue;
      trial.back() = candidates[c];
      const double rmse = cross_validated_blend_rmse(trial, features, targets, ridge, folds);
      if (rmse < pick_rmse) pick = c, pick_rmse = rmse;
    }
    // The first model is always taken; later ones must earn their weights.
    if (pick == candidates.size() || (!out.chosen.empty() && best - pick_rmse <= min_gain)) break;
    taken[pick] = true;
    out.chosen.push_back(pick);
    out.cv_rmse.push_back(pick_rmse);
    best = pick_rmse;
  }
  return out;
}

BlendedModelImpl::BlendedModelImpl(std::vector<CollabModel> models, BlendWeights weights)
    : BlendedModelImpl(std::move(models), std::move(weights), {}, {}) {}

BlendedModelImpl::BlendedModelImpl(std::vector<CollabModel> models, BlendWeights weights,
                                   std::vector<BlendFeature> features, BlendSupport support)
    : models_(std::move(models)),
      weights_(std::move(weights)),
      features_(std::move(features)),
      support_(std::move(support)) {
  if (models_.size() != weights_.weights.size()) {
    throw Error("a blend of " + std::to_string(models_.size()) + " models got " +
                std::to_string(weights_.weights.size()) + " weights");
  }
  if (weights_.feature_intercepts.size() != features_.size() ||
      (!features_.empty() && weights_.feature_weights.size() != models_.size())) {
    throw Error("a blend with " + std::to_string(features_.size()) + " features got weights for " +
                std::to_string(weights_.feature_intercepts.size()));
  }
  for (size_t j = 0; j < models_.size(); ++j) register_module("model" + std::to_string(j), models_[j]);
  if (!features_.empty()) {
    support_.user_counts = register_buffer("user_counts", support_.user_counts.to(torch::kFloat));
    support_.item_counts = register_buffer("item_counts", support_.item_counts.to(torch::kFloat));
  }
}

torch::Tensor BlendedModelImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> predictions;
  for (auto& model : models_) predictions.push_back(model->forward(x));
  if (features_.empty()) return apply_blend(weights_, predictions, torch::Tensor());
  return apply_blend(weights_, predictions, blend_feature_values(features_, support_, x));
}

void BlendedModelImpl::script_into(torch::jit::Module& /*m*/) const {
  throw Error("a blend of models cannot be exported; export the models it blends");
}

}  // namespace collab
