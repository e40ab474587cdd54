// The training loop: fastai's fit_one_cycle over shuffled mini-batches with FastaiAdam and MSE
// loss, evaluating on the validation set after each epoch. Its state (step, epoch, batch,
// generators, optimizer) lives in the object so that a run can be stopped and continued.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "collab/data/batches.h"
#include "collab/data/dataset.h"
#include "collab/models/collab_model.h"
#include "collab/train/adam.h"
#include "collab/train/metrics.h"
#include "collab/train/one_cycle.h"
#include "collab/train/train_config.h"

namespace collab {

struct EpochMetrics {
  int64_t epoch = 0;           // 0-based, as fastai prints it
  double train_loss = 0;       // fastai's debiased moving average (beta 0.98) at epoch end
  double train_loss_mean = 0;  // mean batch loss over the epoch
  RatingMetrics valid;
  double seconds = 0;
};

// Adam's moments of rows absent from many batches decay through the denormal range, where x86
// arithmetic is ~100x slower (an epoch took a minute instead of a second). Flushing denormals
// to zero changes values below 1e-38 only. Call after torch::set_num_threads.
void flush_denormals_on_all_threads();

// fastai's SmoothenValue: an exponential moving average debiased by 1 - beta^count.
class SmoothedLoss {
 public:
  explicit SmoothedLoss(double beta = 0.98) : beta_(beta) {}
  void add(double value);
  double value() const;

 private:
  double beta_;
  double average_ = 0;
  int64_t count_ = 0;
};

class Trainer {
 public:
  // `model` must already be on `device`. Seeds the batch-order generator from config.seed.
  Trainer(CollabModel model, const Dataset& data, const TrainConfig& config,
          const torch::Device& device);

  // Trains the remaining epochs, calling `on_epoch` after each one's evaluation.
  std::vector<EpochMetrics> fit(const std::function<void(const EpochMetrics&)>& on_epoch = {});
  // Evaluates the model on the validation set as it is now.
  RatingMetrics evaluate();

  int64_t steps_per_epoch() const { return batches_.size(); }
  int64_t global_step() const { return step_; }
  CollabModel model() const { return model_; }
  FastaiAdam& optimizer() { return optimizer_; }

 private:
  EpochMetrics run_epoch();

  CollabModel model_;
  TrainConfig config_;
  torch::Device device_;
  ShuffledBatches batches_;
  Batch valid_;
  FastaiAdam optimizer_;
  OneCycle schedule_;
  at::Generator order_generator_;
  SmoothedLoss smoothed_loss_;
  int64_t epoch_ = 0;
  int64_t step_ = 0;
};

}  // namespace collab
