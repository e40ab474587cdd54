// The blend row of `collab compare` (compare.h): on each split, the candidates trained again on
// an inner random split of the training part, a linear blend of their predictions fitted on the
// inner validation ratings (infer/blend.h), and that blend of the candidates' full models (those
// compare trained on the whole training part) scored on the test part like any candidate.
#include <cstdio>
#include <string>
#include <vector>

#include "collab/app/compare.h"
#include "collab/data/batches.h"
#include "collab/data/split.h"
#include "collab/infer/blend.h"
#include "collab/infer/metrics.h"
#include "collab/infer/ranking_metrics.h"
#include "collab/train/run.h"

namespace collab {

namespace {

// `data` with its training part split again: the inner training and validation parts.
Dataset inner_split(const Dataset& data, const BlendOptions& options, const std::string& fold) {
  Split inner = random_split(data.train, options.inner_valid_pct, options.seed,
                             "blend.inner_valid_pct (split " + fold + ")");
  Dataset out;
  out.users = data.users;
  out.items = data.items;
  out.catalog = data.catalog;
  out.train = std::move(inner.train);
  out.valid = std::move(inner.valid);
  return out;
}

// Each candidate trained on `inner`'s training part and its predictions of `held_out`, the
// validation part as a batch.
std::vector<torch::Tensor> inner_predictions(const CompareConfig& config, const Dataset& inner,
                                             const Batch& held_out) {
  RunOptions options;
  options.write_run_dir = false;
  options.quiet = true;
  std::vector<torch::Tensor> out;
  for (const auto& candidate : config.candidates) {
    const RunResult trained = run_training(candidate.run, inner, options);
    out.push_back(predict(*trained.model, held_out, kPredictChunk).to(torch::kCPU));
  }
  return out;
}

constexpr int64_t kInnerCvFolds = 5;  // folds of the inner ratings the blend's form is checked on

// The blend's weights fitted on the inner split, and what the inner ratings say of them: the
// cross-validated RMSE with the configured features and without any (the choice between them
// is made on these, never on the test part).
BlendWeights fit_inner_blend(const CompareConfig& config, const std::string& fold,
                             const Dataset& data, json& record) {
  const BlendOptions& options = *config.blend;
  const Dataset inner = inner_split(data, options, fold);
  const Batch held_out = to_batch(inner.valid);
  const std::vector<torch::Tensor> predictions = inner_predictions(config, inner, held_out);
  const torch::Tensor features =
      blend_feature_values(options.features, blend_support(inner, inner.train), held_out.x.cpu());
  const torch::Tensor y = held_out.y.cpu();
  const BlendWeights weights = fit_blend(predictions, features, y, options.ridge);
  const torch::Tensor fitted = apply_blend(weights, predictions, features);
  record["inner_ratings"] = inner.valid.size();
  record["inner_fit_rmse"] = (fitted - y).pow(2).mean().sqrt().item<double>();
  record["inner_cv_rmse"] =
      cross_validated_blend_rmse(predictions, features, y, options.ridge, kInnerCvFolds);
  record["inner_cv_rmse_without_features"] = cross_validated_blend_rmse(
      predictions, torch::zeros({y.numel(), 0}), y, options.ridge, kInnerCvFolds);
  return weights;
}

// The blend's result on split `f`: fitted on the inner split, scored on the test part.
FoldResult blend_fold(const CompareConfig& config, const std::string& fold, const Dataset& data,
                      const std::vector<CandidateResult>& results, size_t f) {
  json record = json::object();
  const BlendWeights weights = fit_inner_blend(config, fold, data, record);
  FoldResult out;
  out.fold = fold;
  std::vector<CollabModel> models;
  json named = json::object(), slopes = json::object();
  for (size_t c = 0; c < results.size(); ++c) {
    models.push_back(results[c].folds[f].model);
    out.parameters += results[c].folds[f].parameters;
    named[results[c].name] = weights.weights[c];
    if (!weights.feature_weights.empty()) slopes[results[c].name] = weights.feature_weights[c];
  }
  record["weights"] = named;
  record["intercept"] = weights.intercept;
  if (!config.blend->features.empty()) {
    record["features"] = blend_feature_names(config.blend->features);
    record["feature_weights"] = slopes;
    record["feature_intercepts"] = weights.feature_intercepts;
  }
  out.blend = record;
  // The full models trained on the whole training part: their features count that part.
  auto blend = std::make_shared<BlendedModelImpl>(models, weights, config.blend->features,
                                                  blend_support(data, data.train));
  blend->eval();
  torch::NoGradGuard no_grad;
  const Batch test = to_batch(data.valid);
  out.rating = rating_metrics(predict(*blend, test, kPredictChunk), test.y);
  out.ranking = evaluate_ranking(*blend, data.users.size(), data.items.size(), data.train,
                                 data.valid, config.ranking, /*chunk=*/0, torch::kCPU);
  return out;
}

}  // namespace

CandidateResult blend_candidates(const CompareConfig& config,
                                 const std::vector<std::string>& fold_names,
                                 const std::vector<Dataset>& data,
                                 const std::vector<CandidateResult>& results,
                                 const std::function<void(const std::string&)>& line) {
  CandidateResult out;
  out.name = "Blend";
  out.arch = "Blend";
  for (size_t f = 0; f < data.size(); ++f) {
    out.folds.push_back(blend_fold(config, fold_names[f], data[f], results, f));
    const FoldResult& r = out.folds.back();
    char head[160];
    std::snprintf(head, sizeof head,
                  ": inner cv rmse %.4f (without features %.4f); rmse %.4f; intercept %.3f, weights",
                  r.blend["inner_cv_rmse"].get<double>(),
                  r.blend["inner_cv_rmse_without_features"].get<double>(), r.rating.rmse,
                  r.blend["intercept"].get<double>());
    std::string text = "Blend " + r.fold + head;
    for (const auto& [name, w] : r.blend["weights"].items()) {
      char weight[32];
      std::snprintf(weight, sizeof weight, " %.3f", w.get<double>());
      text += " " + name + weight;
    }
    line(text);
  }
  return out;
}

}  // namespace collab
