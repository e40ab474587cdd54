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

constexpr int64_t kPredictChunk = 1 << 16;  // rows per forward pass when predicting

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

// The blend's result on split `f`: fitted on the inner split, scored on the test part.
FoldResult blend_fold(const CompareConfig& config, const std::string& fold, const Dataset& data,
                      const std::vector<CandidateResult>& results, size_t f) {
  const Dataset inner = inner_split(data, *config.blend, fold);
  const Batch held_out = to_batch(inner.valid);
  const BlendWeights weights =
      fit_blend(inner_predictions(config, inner, held_out), held_out.y, config.blend->ridge);
  FoldResult out;
  out.fold = fold;
  std::vector<CollabModel> models;
  json named = json::object();
  for (size_t c = 0; c < results.size(); ++c) {
    models.push_back(results[c].folds[f].model);
    out.parameters += results[c].folds[f].parameters;
    named[results[c].name] = weights.weights[c];
  }
  out.blend = {{"weights", named},
               {"intercept", weights.intercept},
               {"inner_ratings", inner.valid.size()}};
  auto blend = std::make_shared<BlendedModelImpl>(models, weights);
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
    char head[96];
    std::snprintf(head, sizeof head, ": rmse %.4f; intercept %.3f, weights", r.rating.rmse,
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
