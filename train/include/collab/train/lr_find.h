// fastai's learning-rate finder (`learn.lr_find()`): train from a fresh model with the lr rising
// exponentially from start_lr to end_lr over num_it batches, record the smoothed loss after each,
// stop once it exceeds 4x its minimum, and suggest a train.lr_max from the curve. Nothing is kept:
// the model is built for the sweep and dropped, as fastai restores its saved weights.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "collab/data/dataset.h"
#include "collab/train/run_config.h"

namespace collab {

struct LrFindOptions {
  double start_lr = 1e-7;
  double end_lr = 10;
  int64_t num_it = 100;  // at least 6, as fastai
  bool stop_div = true;  // stop when the smoothed loss exceeds 4x its minimum
};

// A suggestion and the point fastai marks on its plot for it (on the curve: for "minimum" the
// lowest point, whose lr is ten times the suggested one; for the others the suggested lr).
struct LrSuggestion {
  std::string name;  // "valley", "minimum", "steep"
  double lr = 0;         // the suggested train.lr_max
  double loss = 0;       // the smoothed loss at the marked point
  double marked_lr = 0;  // the marked point's lr
};

struct LrFindResult {
  std::vector<double> lrs;     // the lr of each batch trained
  std::vector<double> losses;  // the smoothed loss after it (fastai's Recorder)
  bool diverged = false;       // stopped by stop_div before num_it batches
  // fastai's suggestion functions on the curve without its first num_it/10 and last 5 points
  // (and from the first NaN on): valley (the default, first), minimum (a tenth of the lr of the
  // lowest loss), steep (the steepest descent).
  std::vector<LrSuggestion> suggestions;
};

// The suggestions from a recorded curve, as fastai's lr_find computes them; empty when fewer than
// two points remain after the trimming.
std::vector<LrSuggestion> suggest_lrs(const std::vector<double>& lrs,
                                      const std::vector<double>& losses, int64_t num_it);

// The sweep on `run`'s model, data and train section (batch size, weight decay, threads, seed;
// beta1 0.9, fastai Adam's default, as no one-cycle schedule runs). The exact path only: the
// sparse optimizers have no per-batch steps to sweep. `on_step(i, lr, smoothed_loss)` after each
// batch (progress); `stop_requested` polled after each (an interrupt ends the sweep early, its
// curve kept).
LrFindResult lr_find(const RunConfig& run, const LrFindOptions& options,
                     const std::function<void(int64_t, double, double)>& on_step = {},
                     const std::function<bool()>& stop_requested = {});

}  // namespace collab
