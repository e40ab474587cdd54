// The `collab tune` loop (train/tune.h): the planned configurations, each trained through the one
// training-run entry point into its own run dir, the results appended as they come, resumable.
#include "collab/train/tune.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"
#include "collab/train/run.h"
#include "collab/train/run_checkpoints.h"
#include "collab/train/run_dir.h"
#include "tune_blend.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

double metric_of(const RatingMetrics& m, const std::string& name) {
  return name == "valid_mse" ? m.mse : name == "valid_mae" ? m.mae : m.rmse;
}

// The base config with the test part out of reach: data.train split again, data.valid dropped.
json trial_base(const TuneConfig& c, const RunConfig& base) {
  json config = c.base;
  json data = base.resolved["data"];  // absolute paths
  const std::string train = base.data.train;  // from data.train or data.split "predefined"
  data.erase("train");
  data.erase("valid");
  data.erase("split");
  data["ratings"] = train;
  data["valid_pct"] = c.inner_valid_pct;
  data["split_seed"] = c.seed;
  config["data"] = data;
  // The trial's own checkpoints: one at the end is all a resume or a continued rung needs.
  config["checkpoint"] = {{"every_epochs", 1}, {"keep_last", 1}};
  return config;
}

std::vector<json> planned_values(const TuneConfig& c) {
  if (c.search == "grid") {
    std::vector<json> grid = c.space->grid();
    if (c.trials > 0 && static_cast<int64_t>(grid.size()) > c.trials) grid.resize(c.trials);
    return grid;
  }
  std::mt19937_64 rng(c.seed);
  std::vector<json> out;
  for (int64_t t = 0; t < c.trials; ++t) out.push_back(c.space->sample(rng));
  return out;
}

// Halving's epochs per rung: min_epochs, x eta, ..., up to the base's epochs.
std::vector<int64_t> rung_epochs(const TuneConfig& c, int64_t base_epochs) {
  if (c.search != "halving") return {base_epochs};
  std::vector<int64_t> out;
  for (int64_t e = std::min(c.min_epochs, base_epochs); ; e *= c.eta) {
    out.push_back(std::min(e, base_epochs));
    if (out.back() == base_epochs) break;
  }
  return out;
}

TrialResult trial_from_json(const json& j) {
  TrialResult t;
  t.trial = j.at("trial");
  t.rung = j.at("rung");
  t.epochs = j.at("epochs");
  t.values = j.at("values");
  t.metric = j.at("metric");
  t.valid.mse = j.at("valid_mse");
  t.valid.rmse = j.at("valid_rmse");
  t.valid.mae = j.at("valid_mae");
  t.seconds = j.at("seconds");
  t.run_dir = j.at("run_dir");
  return t;
}

// tune.json on a first run; on a later one, the same tune or a refusal.
void claim_tune_dir(const TuneConfig& c, const std::string& tune_dir) {
  const std::string path = tune_dir + "/tune.json";
  if (fs::exists(path)) {
    if (read_json_file(path) != c.resolved) {
      throw Error(tune_dir + " holds another tune (its tune.json differs from this config): "
                             "continue it with its own config, or tune into another --dir");
    }
    return;
  }
  write_json_atomically(path, c.resolved);
}

// Finished trials by (trial, rung), read back from results.jsonl.
std::map<std::pair<int64_t, int64_t>, TrialResult> finished_trials(const std::string& path) {
  std::map<std::pair<int64_t, int64_t>, TrialResult> out;
  if (!fs::exists(path)) return out;
  std::istringstream lines(read_file(path));
  std::string line;
  for (int64_t n = 1; std::getline(lines, line); ++n) {
    if (trim(line).empty()) continue;
    try {
      const TrialResult t = trial_from_json(parse_json_text(line, path));
      out[{t.trial, t.rung}] = t;
    } catch (const std::exception& e) {
      // A line cut by a crash mid-write is the last one: that trial runs again.
      if (!lines.eof() && lines.peek() != EOF) {
        throw Error(path + ":" + std::to_string(n) + ": not a trial result (" + e.what() + ")");
      }
    }
  }
  return out;
}

// Trains one trial to `epochs` epochs in its run dir, resuming what is there.
TrialResult run_trial(const json& config, const std::string& origin, TrialResult planned,
                      const TuneHooks& hooks, bool* stopped) {
  json with_epochs = config;
  with_epochs["train"]["epochs"] = planned.epochs;
  const RunConfig run = run_config_from_json(with_epochs, origin, {});
  const RunOptions options = continuing_run(planned.run_dir, hooks);
  if (hooks.on_trial_start) hooks.on_trial_start(planned);
  const RunResult r = run_training(run, options);
  *stopped = r.stopped;
  if (r.stopped) return planned;
  planned.valid = *r.final_metrics;
  for (const EpochMetrics& m : r.epochs) planned.seconds += m.seconds;
  return planned;
}

// The base config, read and checked.
RunConfig checked_base(const TuneConfig& c) {
  RunConfig base = run_config_from_json(c.base, c.base_path, {});
  if (base.data.train.empty()) {
    throw Error(c.base_path + ": collab tune needs the test ratings held out as a predefined "
                "split (data.train and data.valid, e.g. u1.base and u1.test); trials tune on "
                "data.train alone");
  }
  for (const SearchParameter& p : c.space->parameters()) {
    if (c.search == "halving" && p.key == "train.epochs") {
      throw Error("space.train.epochs: successive halving sets the epochs of each rung "
                  "(halving.min_epochs up to the base's train.epochs)");
    }
  }
  return base;
}

// One tune's search: the planned configurations, what has finished, the time spent.
class Search {
 public:
  Search(const TuneConfig& c, const RunConfig& base, const std::string& tune_dir,
         const TuneHooks& hooks)
      : c_(c), base_(base), tune_dir_(tune_dir), hooks_(hooks),
        config_(trial_base(c, base)),
        results_path_(tune_dir + "/results.jsonl"),
        values_(planned_values(c)),
        finished_(finished_trials(results_path_)) {
    for (auto& entry : finished_) {
      spent_ += entry.second.seconds;
      // Where the trial is now: a tune dir moved or copied since holds its trials under itself.
      entry.second.run_dir = numbered_trial_dir(tune_dir + "/trials", entry.first.first);
    }
  }

  // Runs every rung; fills `result` (trials, best, stopped, budget_spent).
  void run(TuneResult& result) {
    std::vector<int64_t> alive;
    for (size_t t = 0; t < values_.size(); ++t) alive.push_back(static_cast<int64_t>(t) + 1);
    const std::vector<int64_t> rungs = rung_epochs(c_, base_.train.epochs);
    std::vector<TrialResult> last;
    for (size_t rung = 0; rung < rungs.size() && !result.stopped && !result.budget_spent; ++rung) {
      last = run_rung(alive, static_cast<int64_t>(rung), rungs[rung], result);
      // Halving keeps the best 1/eta (at least one) for the next rung.
      std::stable_sort(last.begin(), last.end(), [](const TrialResult& a, const TrialResult& b) {
        return a.metric < b.metric;
      });
      const size_t keep = std::max<size_t>(1, (last.size() + c_.eta - 1) / c_.eta);
      alive.clear();
      for (size_t k = 0; k < std::min(keep, last.size()); ++k) alive.push_back(last[k].trial);
    }
    if (!last.empty()) result.best = last.front();
  }

 private:
  std::vector<TrialResult> run_rung(const std::vector<int64_t>& alive, int64_t rung,
                                    int64_t rung_epochs, TuneResult& result) {
    std::vector<TrialResult> out;
    for (const int64_t trial : alive) {
      TrialResult planned;
      planned.trial = trial;
      planned.rung = rung;
      planned.values = values_[trial - 1];
      // A random or grid trial trains its own train.epochs (which the space may set).
      planned.epochs = c_.search == "halving"
                           ? rung_epochs
                           : with_values(config_, planned.values)["train"].value(
                                 "epochs", base_.train.epochs);
      planned.run_dir = numbered_trial_dir(tune_dir_ + "/trials", trial);
      auto done = finished_.find({trial, rung});
      if (done == finished_.end()) {
        if (c_.minutes > 0 && spent_ >= c_.minutes * 60) {
          result.budget_spent = true;
          break;
        }
        bool stopped = false;
        TrialResult t = run_trial(with_values(config_, planned.values), tune_dir_ + "/tune.json",
                                  planned, hooks_, &stopped);
        if (stopped) {
          result.stopped = true;
          break;
        }
        t.metric = metric_of(t.valid, c_.metric);
        append_json_line(results_path_, trial_result_json(t));
        done = finished_.emplace(std::make_pair(trial, rung), t).first;
        spent_ += t.seconds;
      }
      if (hooks_.on_trial_end) hooks_.on_trial_end(done->second);
      result.trials.push_back(done->second);
      out.push_back(done->second);
    }
    return out;
  }

  const TuneConfig& c_;
  const RunConfig& base_;
  const std::string tune_dir_;
  const TuneHooks& hooks_;
  const json config_;  // trial_base()
  const std::string results_path_;
  const std::vector<json> values_;
  std::map<std::pair<int64_t, int64_t>, TrialResult> finished_;
  double spent_ = 0;  // training seconds of the finished trials
};

}  // namespace

RunOptions continuing_run(const std::string& run_dir, const TuneHooks& hooks) {
  RunOptions options;
  options.run_dir = run_dir;
  options.quiet = true;
  if (has_checkpoints(run_dir)) options.resume = latest_resume_point(run_dir);
  options.hooks.on_epoch = hooks.on_epoch;
  options.hooks.stop_requested = hooks.stop_requested;
  return options;
}

TuneResult run_tune(const TuneConfig& c, const std::string& tune_dir, const TuneHooks& hooks) {
  fs::create_directories(tune_dir);
  const auto lock = RunDirLock::acquire(tune_dir);
  const RunConfig base = checked_base(c);
  claim_tune_dir(c, tune_dir);
  TuneResult result;
  Search(c, base, tune_dir, hooks).run(result);
  write_tune_reports(c, result.trials, tune_dir);
  if (!result.best) return result;

  // The best configuration, with the base's own split: a config `collab train` takes.
  const json best = trial_config_on_base_split(c, base, *result.best);
  result.best_config = tune_dir + "/best_config.json";
  write_json_atomically(result.best_config, best);
  if (c.blend && !result.stopped) {
    result.blend = choose_tune_blend(c, base, trial_base(c, base), result.trials, tune_dir);
  }
  if (!c.final || result.stopped || result.budget_spent) return result;

  // The test split, read once: the best configuration trained on data.train, scored on data.valid
  // (and the blend's members beside it).
  const RunResult final_run = run_training(run_config_from_json(best, result.best_config, {}),
                                           continuing_run(tune_dir + "/final", hooks));
  result.stopped = final_run.stopped;
  result.final_run_dir = final_run.run_dir;
  if (final_run.final_metrics) result.final_test = final_run.final_metrics;
  if (result.blend && !result.stopped) {
    result.stopped = !test_tune_blend(c, base, tune_dir, result.best->trial, final_run.run_dir,
                                      hooks, *result.blend);
  }
  return result;
}

}  // namespace collab
