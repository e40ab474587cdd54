// The blend of a tune's trials (train/tune.h, "blend"): the trials' models predict the inner
// validation ratings, greedy forward selection picks the members, and the blend's members are
// trained again on data.train and scored, once, on data.valid.
#include "tune_blend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/data/batches.h"
#include "collab/data/fetch.h"
#include "collab/train/run_checkpoints.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

// How far a reloaded model's inner RMSE may be from the one its trial recorded (float sums in
// another order) before the checkpoint is taken for another model than the trial's.
constexpr double kSameModelTolerance = 1e-4;

// Each trial's last rung (the model its run dir holds), in trial order.
std::vector<TrialResult> last_rungs(const std::vector<TrialResult>& trials) {
  std::map<int64_t, TrialResult> last;
  for (const TrialResult& t : trials) {
    auto it = last.find(t.trial);
    if (it == last.end() || t.rung >= it->second.rung) last[t.trial] = t;
  }
  std::vector<TrialResult> out;
  for (auto& entry : last) out.push_back(std::move(entry.second));
  return out;
}

// The model in trial `t`'s latest checkpoint, built for the inner data it trained on.
CollabModel trial_model(const TrialResult& t, const Dataset& inner,
                        const std::string& fingerprint) {
  const std::string path = latest_checkpoint(t.run_dir);
  const Checkpoint checkpoint = read_checkpoint(path);
  if (checkpoint.data_fingerprint != fingerprint) {
    throw Error(path +
                ": trained on other ratings than the tune's inner split (does a space key "
                "under data. change it?); a blend needs every trial's predictions of the same "
                "ratings");
  }
  if (!checkpoint.config.is_object() || !checkpoint.config.contains("model")) {
    throw Error(path + ": the checkpoint's config has no model section");
  }
  try {
    ConfigReader section(checkpoint.config["model"], "model", nullptr);
    CollabModel model = build_model_for(section, inner);
    load_model_state(*model, checkpoint.state);
    model->eval();
    return model;
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

// The most members whose blend can still be fitted on a cross-validation fold's ratings.
size_t fittable_members(int64_t ratings, int64_t folds, size_t features) {
  const auto f = static_cast<int64_t>(features);
  const int64_t fit_rows = ratings - (ratings + folds - 1) / folds;
  const int64_t k = (fit_rows - 1 - f) / (1 + f);  // k * (1 + f) + f unknowns < fit_rows
  if (k < 1) {
    throw Error("tune: blend: the inner validation split has " + std::to_string(ratings) +
                " ratings, too few to fit and cross-validate a blend (raise inner_valid_pct)");
  }
  return static_cast<size_t>(k);
}

json metrics_json(const RatingMetrics& m) {
  return {{"mse", m.mse}, {"rmse", m.rmse}, {"mae", m.mae}};
}

// blend.json: the members with their weights, the inner RMSEs and, once known, the test metrics.
void write_blend_record(const TuneConfig& c, const std::string& tune_dir,
                        const TuneBlendResult& blend) {
  json members = json::array();
  for (size_t m = 0; m < blend.members.size(); ++m) {
    json member = trial_result_json(blend.members[m]);
    member["weight"] = blend.weights.weights[m];
    if (!blend.weights.feature_weights.empty()) {
      member["feature_weights"] = blend.weights.feature_weights[m];
    }
    member["inner_cv_rmse_after"] = blend.cv_rmse[m];
    if (m < blend.final_run_dirs.size()) member["final_run_dir"] = blend.final_run_dirs[m];
    members.push_back(member);
  }
  json record = {{"members", members},
                 {"intercept", blend.weights.intercept},
                 {"features", blend_feature_names(c.blend->features)},
                 {"feature_intercepts", blend.weights.feature_intercepts},
                 {"ridge", c.blend->ridge},
                 {"inner_cv_rmse", blend.cv_rmse.back()},
                 {"best_trial_inner_rmse", blend.best_trial_rmse},
                 {"skipped", blend.skipped},
                 {"config", blend.config}};
  if (blend.final_test) record["final_test"] = metrics_json(*blend.final_test);
  write_json_atomically(tune_dir + "/blend.json", record);
}

// best_blend.json: a compare config whose candidates are the members on the base's split, and
// whose blend section fits the weights on the same inner split as the tune's trials.
json blend_compare_config(const TuneConfig& c, const RunConfig& base,
                          const TuneBlendResult& blend) {
  json data = base.resolved["data"];
  for (const char* key : {"train", "valid", "split", "split_seed", "valid_pct"}) data.erase(key);
  json candidates = json::array();
  for (const TrialResult& m : blend.members) {
    const json config = trial_config_on_base_split(c, base, m);
    candidates.push_back({{"name", fs::path(m.run_dir).filename().string()},
                          {"model", config["model"]},
                          {"train", config["train"]}});
  }
  return {{"data", data},
          {"eval",
           {{"protocol", "predefined_kfold"},
            {"folds", 1},
            {"train_pattern", base.data.train},
            {"test_pattern", base.data.valid}}},
          {"blend",
           {{"inner_valid_pct", c.inner_valid_pct},
            {"seed", c.seed},
            {"ridge", c.blend->ridge},
            {"features", blend_feature_names(c.blend->features)}}},
          {"candidates", candidates}};
}

}  // namespace

std::string numbered_trial_dir(const std::string& parent, int64_t trial) {
  char name[32];
  std::snprintf(name, sizeof name, "trial-%04lld", static_cast<long long>(trial));
  return (fs::path(parent) / name).string();
}

json trial_config_on_base_split(const TuneConfig& c, const RunConfig& base, const TrialResult& t) {
  json config = with_values(c.base, t.values);
  config["data"] = base.resolved["data"];
  config["train"]["epochs"] = t.epochs;
  return config;
}

TuneBlendResult choose_tune_blend(const TuneConfig& c, const RunConfig& base,
                                  const json& inner_config, const std::vector<TrialResult>& trials,
                                  const std::string& tune_dir) {
  const RunConfig inner_run = run_config_from_json(inner_config, tune_dir + "/tune.json", {});
  const Dataset inner = load_dataset(inner_run.data);
  const std::string fingerprint = data_fingerprint(inner);
  const Batch held_out = to_batch(inner.valid);
  const torch::Tensor y = held_out.y.reshape({-1});
  torch::NoGradGuard no_grad;
  TuneBlendResult out;
  std::vector<TrialResult> candidates;
  std::vector<torch::Tensor> predictions;
  for (const TrialResult& t : last_rungs(trials)) {
    const torch::Tensor p = predict(*trial_model(t, inner, fingerprint), held_out, kPredictChunk)
                                .to(torch::kCPU)
                                .reshape({-1});
    const double rmse = rating_metrics(p, y).rmse;
    // A run dir trained on since its trial finished (collab resume, an unfinished later rung)
    // holds another model than the one the trial's metrics describe.
    if (std::abs(rmse - t.valid.rmse) > kSameModelTolerance) {
      out.skipped.push_back({{"trial", t.trial}, {"recorded_rmse", t.valid.rmse}, {"rmse", rmse}});
      continue;
    }
    candidates.push_back(t);
    predictions.push_back(p);
  }
  if (candidates.empty()) throw Error("tune: blend: no trial's run dir holds its trial's model");
  const TuneBlendConfig& o = *c.blend;
  const torch::Tensor features =
      blend_feature_values(o.features, blend_support(inner, inner.train), held_out.x);
  const size_t most = std::min(static_cast<size_t>(o.max_models),
                               fittable_members(y.numel(), o.cv_folds, o.features.size()));
  const BlendSelection selection =
      select_blend(predictions, features, y, o.ridge, o.cv_folds, most, o.min_gain);

  std::vector<torch::Tensor> chosen;
  for (const size_t i : selection.chosen) {
    out.members.push_back(candidates[i]);
    chosen.push_back(predictions[i]);
  }
  out.cv_rmse = selection.cv_rmse;
  out.weights = fit_blend(chosen, features, y, o.ridge);
  out.best_trial_rmse = std::min_element(candidates.begin(), candidates.end(),
                                         [](const TrialResult& a, const TrialResult& b) {
                                           return a.valid.rmse < b.valid.rmse;
                                         })
                            ->valid.rmse;
  out.config = tune_dir + "/best_blend.json";
  write_json_atomically(out.config, blend_compare_config(c, base, out));
  write_blend_record(c, tune_dir, out);
  return out;
}

bool test_tune_blend(const TuneConfig& c, const RunConfig& base, const std::string& tune_dir,
                     int64_t best_trial, const std::string& best_final_dir, const TuneHooks& hooks,
                     TuneBlendResult& blend) {
  if (!base.data.dataset.empty()) ensure_dataset(base.data.dataset, base.data.dir, /*quiet=*/true);
  const Dataset data = load_dataset(base.data);
  std::vector<CollabModel> models;
  torch::Device device(torch::kCPU);
  blend.final_run_dirs.clear();
  for (const TrialResult& m : blend.members) {
    const std::string dir = m.trial == best_trial
                                ? best_final_dir
                                : numbered_trial_dir(tune_dir + "/final-blend", m.trial);
    const RunConfig run =
        run_config_from_json(trial_config_on_base_split(c, base, m), blend.config, {});
    if (hooks.on_trial_start) hooks.on_trial_start(m);
    const RunResult r = run_training(run, data, continuing_run(dir, hooks));
    if (r.stopped) return false;
    models.push_back(r.model);
    device = r.device;
    blend.final_run_dirs.push_back(r.run_dir);
  }
  auto model = std::make_shared<BlendedModelImpl>(models, blend.weights, c.blend->features,
                                                  blend_support(data, data.train));
  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;
  const Batch test = to_batch(data.valid, device);
  blend.final_test = rating_metrics(predict(*model, test, kPredictChunk), test.y);
  write_blend_record(c, tune_dir, blend);
  return true;
}

}  // namespace collab
