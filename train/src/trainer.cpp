#include "collab/train/trainer.h"

#include <chrono>
#include <cmath>

#include <ATen/Parallel.h>

#include "collab/common/error.h"

namespace collab {

void flush_denormals_on_all_threads() {
  // The flag lives in each thread's MXCSR register: set it on the caller and on every worker of
  // LibTorch's intra-op pool (parallel_for with grain 1 hands each worker one index).
  at::globalContext().setFlushDenormal(true);
  const int64_t n = at::get_num_threads();
  at::parallel_for(0, n, /*grain_size=*/1, [](int64_t, int64_t) {
    at::globalContext().setFlushDenormal(true);
  });
}

void SmoothedLoss::add(double value) {
  ++count_;
  average_ = beta_ * average_ + (1.0 - beta_) * value;
}

double SmoothedLoss::value() const {
  return count_ == 0 ? 0.0 : average_ / (1.0 - std::pow(beta_, static_cast<double>(count_)));
}

Trainer::Trainer(CollabModel model, const Dataset& data, const TrainConfig& config,
                 const torch::Device& device)
    : model_(std::move(model)),
      config_(config),
      device_(device),
      batches_(to_batch(data.train, device), config.batch_size),
      valid_(to_batch(data.valid, device)),
      optimizer_(fastai_param_groups(*model_), config.adam),
      schedule_(config.one_cycle, config.epochs * batches_.size()),
      order_generator_(at::make_generator<at::CPUGeneratorImpl>(config.seed)) {
  flush_denormals_on_all_threads();
}

RatingMetrics Trainer::evaluate() {
  return rating_metrics(predict(*model_, valid_, config_.eval_batch_size), valid_.y);
}

EpochMetrics Trainer::run_epoch() {
  const auto start = std::chrono::steady_clock::now();
  model_->train();
  batches_.shuffle(order_generator_);
  double loss_sum = 0;
  for (int64_t b = 0; b < batches_.size(); ++b) {
    const Batch batch = batches_[b];
    const torch::Tensor loss = torch::mse_loss(model_->forward(batch.x), batch.y);
    optimizer_.zero_grad();
    loss.backward();
    optimizer_.step(schedule_.lr(step_), schedule_.beta1(step_));
    ++step_;
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      throw Error("training diverged: the loss became " + std::to_string(value) + " at epoch " +
                  std::to_string(epoch_) + ", step " + std::to_string(step_) +
                  " (try a smaller train.lr_max)");
    }
    loss_sum += value;
    smoothed_loss_.add(value);
  }
  EpochMetrics m;
  m.epoch = epoch_++;
  m.train_loss = smoothed_loss_.value();
  m.train_loss_mean = loss_sum / static_cast<double>(batches_.size());
  m.valid = evaluate();
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

std::vector<EpochMetrics> Trainer::fit(const std::function<void(const EpochMetrics&)>& on_epoch) {
  std::vector<EpochMetrics> history;
  while (epoch_ < config_.epochs) {
    history.push_back(run_epoch());
    if (on_epoch) on_epoch(history.back());
  }
  return history;
}

}  // namespace collab
