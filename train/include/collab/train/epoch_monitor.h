// Watching one metric over a run's epochs, as fastai's TrackerCallback does: which epoch is the
// best so far (checkpoint.best keeps its checkpoint, as SaveModelCallback does) and when training
// stops early (train.early_stopping, as EarlyStoppingCallback). Metrics are the names
// metrics.jsonl uses (valid_mse, fastai's valid_loss; valid_rmse; valid_mae; train_loss), each
// better when lower.
//
//   "train": {"early_stopping": {"monitor": "valid_mse", "patience": 1, "min_delta": 0}}
//   "checkpoint": {"best": "valid_rmse"}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collab/common/config_reader.h"

namespace collab {

// The metrics an epoch reports, in metrics.jsonl's names.
const std::vector<std::string>& monitored_metrics();

struct EarlyStoppingConfig {
  // Epochs without an improvement before training stops (fastai's default 1); 0: never stops.
  int64_t patience = 0;
  std::string monitor = "valid_mse";
  // An epoch improves only when its metric is below the best by more than this.
  double min_delta = 0;
  bool enabled() const { return patience > 0; }
};

// Reads train.early_stopping: absent, early stopping is off; present, patience defaults to 1.
EarlyStoppingConfig read_early_stopping(ConfigReader& train);

// One metric's best value over the epochs seen so far, and how many epochs have passed since it.
class MetricTracker {
 public:
  MetricTracker(std::string metric, double min_delta);
  // Takes one epoch (an epoch_json object); returns whether it is the new best. A missing or
  // non-finite value (a diverging run) is never a new best.
  bool observe(const json& epoch);

  const std::string& metric() const { return metric_; }
  std::optional<double> best() const { return best_; }
  int64_t best_epoch() const { return best_epoch_; }
  // Epochs observed since the best one (all of them while there is none).
  int64_t epochs_since_best() const { return since_best_; }

 private:
  std::string metric_;
  double min_delta_;
  std::optional<double> best_;
  int64_t best_epoch_ = -1;
  int64_t since_best_ = 0;
};

// Both watchers of a run. A resumed run replays the epochs it already trained first, so that
// best and patience continue where they were.
class EpochMonitor {
 public:
  // `best_metric` "": no best checkpoint.
  EpochMonitor(const std::string& best_metric, const EarlyStoppingConfig& early_stopping);

  struct Verdict {
    bool best = false;  // keep this epoch's checkpoint as the run's best
    bool stop = false;  // early stopping: train no further epoch
  };
  Verdict observe(const json& epoch);
  void replay(const json& history);

  // Whether early stopping has ended the run (then why, as one phrase).
  bool stopped() const { return stopped_; }
  std::string stop_reason() const;
  const std::optional<MetricTracker>& best() const { return best_; }

 private:
  std::optional<MetricTracker> best_;
  std::optional<MetricTracker> early_;
  EarlyStoppingConfig early_config_;
  bool stopped_ = false;
};

}  // namespace collab
