// fastai's LRFinder callback and its suggestion functions (fastai/callback/schedule.py:
// `LRFinder`, `valley`, `minimum`, `steep`), on a Trainer's sweep_step.
#include "collab/train/lr_find.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "collab/common/error.h"
#include "collab/data/fetch.h"
#include "collab/train/device.h"
#include "collab/train/trainer.h"
#include "run_setup.h"

namespace collab {

namespace {

// fastai's default Adam momentum (lr_find runs no one-cycle schedule of moms).
constexpr double kSweepBeta1 = 0.9;

// fastai's `valley`: the middle of the longest run of decreasing losses (longest decreasing
// subsequence), two thirds of the way down it.
LrSuggestion valley(const std::vector<double>& lrs, const std::vector<double>& losses) {
  const int64_t n = static_cast<int64_t>(losses.size());
  std::vector<int64_t> lds(n, 1);
  int64_t max_start = 0, max_end = 0;
  for (int64_t i = 1; i < n; ++i) {
    for (int64_t j = 0; j < i; ++j) {
      if (losses[i] < losses[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
      if (lds[max_end] < lds[i]) {
        max_end = i;
        // -1 when the run starts at the first point, as in fastai (whose index arithmetic
        // below is then one short of the middle; kept, so that the suggestion is fastai's).
        max_start = max_end - lds[max_end];
      }
    }
  }
  const double sections = static_cast<double>(max_end - max_start) / 3;
  int64_t idx = max_start + static_cast<int64_t>(sections) + static_cast<int64_t>(sections / 2);
  if (idx < 0) idx += n;  // Python's negative index
  return {"valley", lrs[idx], losses[idx], lrs[idx]};
}

// fastai's `minimum`: a tenth of the lr where the loss was lowest, marked at that lowest point.
LrSuggestion minimum(const std::vector<double>& lrs, const std::vector<double>& losses) {
  const size_t argmin = std::min_element(losses.begin(), losses.end()) - losses.begin();
  return {"minimum", lrs[argmin] / 10, losses[argmin], lrs[argmin]};
}

// fastai's `steep`: where the loss falls fastest against log(lr).
LrSuggestion steep(const std::vector<double>& lrs, const std::vector<double>& losses) {
  size_t best = 0;
  double steepest = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i + 1 < lrs.size(); ++i) {
    const double grad = (losses[i + 1] - losses[i]) / (std::log(lrs[i + 1]) - std::log(lrs[i]));
    if (grad < steepest) steepest = grad, best = i;
  }
  return {"steep", lrs[best], losses[best], lrs[best]};
}

}  // namespace

std::vector<LrSuggestion> suggest_lrs(const std::vector<double>& all_lrs,
                                      const std::vector<double>& all_losses, int64_t num_it) {
  // fastai: lrs[num_it//10:-5], then cut at the first NaN.
  const size_t begin = static_cast<size_t>(num_it / 10);
  const size_t end = all_lrs.size() > 5 ? all_lrs.size() - 5 : 0;
  std::vector<double> lrs, losses;
  for (size_t i = begin; i < end && i < all_losses.size(); ++i) {
    if (std::isnan(all_losses[i])) break;
    lrs.push_back(all_lrs[i]);
    losses.push_back(all_losses[i]);
  }
  if (lrs.size() < 2) return {};
  return {valley(lrs, losses), minimum(lrs, losses), steep(lrs, losses)};
}

LrFindResult lr_find(const RunConfig& run, const LrFindOptions& options,
                     const std::function<void(int64_t, double, double)>& on_step,
                     const std::function<bool()>& stop_requested) {
  if (run.train.sparse()) {
    throw Error("train.optimizer \"" + run.train.optimizer +
                "\": collab lr-find sweeps the exact path (\"adam\"), whose steps are batches; "
                "use --set train.optimizer=adam");
  }
  if (!(options.start_lr > 0 && options.end_lr > options.start_lr)) {
    throw Error("lr-find: the start lr must be positive and below the end lr");
  }
  const torch::Device device = resolve_device(run.train.device);
  const int64_t threads = apply_thread_policy(run.train, std::nullopt);
  if (!run.data.dataset.empty()) ensure_dataset(run.data.dataset, run.data.dir, /*quiet=*/true);
  const Dataset data = load_dataset(run.data);
  RunOptions run_options;
  run_options.write_run_dir = false;
  const RunSetup setup(run, data, /*owned_train=*/nullptr, run_options, device, threads);
  Trainer trainer(setup.model, data, run.train, device);

  const int64_t num_it = std::max<int64_t>(options.num_it, 6);  // as fastai
  LrFindResult result;
  SmoothedLoss smoothed;
  double best = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < num_it; ++i) {
    // fastai's SchedExp at pos = train_iter / num_it.
    const double pos = static_cast<double>(i) / static_cast<double>(num_it);
    const double lr = options.start_lr * std::pow(options.end_lr / options.start_lr, pos);
    smoothed.add(trainer.sweep_step(lr, kSweepBeta1));
    const double loss = smoothed.value();
    result.lrs.push_back(lr);
    result.losses.push_back(loss);
    if (on_step) on_step(i, lr, loss);
    best = std::min(best, loss);
    // A NaN loss compares false everywhere: it counts as diverged too.
    if (options.stop_div && !(loss <= 4 * best)) {
      result.diverged = true;
      break;
    }
    if (stop_requested && stop_requested()) break;
  }
  result.suggestions = suggest_lrs(result.lrs, result.losses, num_it);
  return result;
}

}  // namespace collab
