#include "collab/train/epoch_monitor.h"

#include <cmath>
#include <sstream>

namespace collab {

const std::vector<std::string>& monitored_metrics() {
  static const std::vector<std::string> names = {"valid_mse", "valid_rmse", "valid_mae",
                                                 "train_loss"};
  return names;
}

EarlyStoppingConfig read_early_stopping(ConfigReader& train) {
  EarlyStoppingConfig c;
  if (!train.has("early_stopping")) return c;
  ConfigReader r = train.object("early_stopping");
  c.monitor = r.choice("monitor", monitored_metrics(), c.monitor);
  c.patience = r.integer("patience", 1, /*min=*/1);
  c.min_delta = r.number("min_delta", c.min_delta, NumberRange::non_negative());
  r.finish();
  return c;
}

MetricTracker::MetricTracker(std::string metric, double min_delta)
    : metric_(std::move(metric)), min_delta_(min_delta) {}

bool MetricTracker::observe(const json& epoch) {
  const json* value = epoch.contains(metric_) ? &epoch[metric_] : nullptr;
  const bool finite = value && value->is_number() && std::isfinite(value->get<double>());
  // fastai's TrackerCallback for a metric to minimise: a new best is below the best by more than
  // min_delta (the first finite value always is).
  if (finite && (!best_ || value->get<double>() < *best_ - min_delta_)) {
    best_ = value->get<double>();
    best_epoch_ = epoch.value("epoch", int64_t{-1});
    since_best_ = 0;
    return true;
  }
  ++since_best_;
  return false;
}

EpochMonitor::EpochMonitor(const std::string& best_metric,
                           const EarlyStoppingConfig& early_stopping)
    : early_config_(early_stopping) {
  if (!best_metric.empty()) best_.emplace(best_metric, /*min_delta=*/0.0);
  if (early_stopping.enabled()) early_.emplace(early_stopping.monitor, early_stopping.min_delta);
}

EpochMonitor::Verdict EpochMonitor::observe(const json& epoch) {
  Verdict v;
  if (best_) v.best = best_->observe(epoch);
  if (early_) {
    early_->observe(epoch);
    stopped_ = early_->epochs_since_best() >= early_config_.patience;
    v.stop = stopped_;
  }
  return v;
}

void EpochMonitor::replay(const json& history) {
  for (const auto& epoch : history) observe(epoch);
}

std::string EpochMonitor::stop_reason() const {
  if (!stopped_) return "";
  std::ostringstream out;
  out << early_->metric() << " did not improve";
  if (early_config_.min_delta > 0) out << " by more than " << early_config_.min_delta;
  out << " for " << early_->epochs_since_best() << " epoch"
      << (early_->epochs_since_best() == 1 ? "" : "s");
  if (early_->best()) out << " (best " << *early_->best() << " at epoch " << early_->best_epoch() << ")";
  return out.str();
}

}  // namespace collab
