// The training loop: fastai's fit_one_cycle over shuffled mini-batches with FastaiAdam and MSE
// loss, evaluating on the validation set after each epoch. Its state (step, epoch, batch,
// generators, optimizer) lives in the object so that a run can be stopped and continued.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collab/common/error.h"
#include "collab/data/batches.h"
#include "collab/data/dataset.h"
#include "collab/models/collab_model.h"
#include "collab/train/adam.h"
#include "collab/train/checkpoint_config.h"
#include "collab/train/fused_step.h"
#include "collab/train/loss_log.h"
#include "collab/infer/metrics.h"
#include "collab/train/one_cycle.h"
#include "collab/train/train_config.h"

namespace collab {

class Collective;

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

// The size of `ratings` as training tensors (Batch), for train.data_placement.
int64_t training_bytes(const Ratings& ratings);

// fastai's SmoothenValue: an exponential moving average debiased by 1 - beta^count.
class SmoothedLoss {
 public:
  explicit SmoothedLoss(double beta = 0.98) : beta_(beta) {}
  void add(double value);
  double value() const;

  // The raw state, for checkpoints.
  double average() const { return average_; }
  int64_t count() const { return count_; }
  void restore(double average, int64_t count) {
    average_ = average;
    count_ = count;
  }

 private:
  double beta_;
  double average_ = 0;
  int64_t count_ = 0;
};

// Everything a Trainer needs to continue a run exactly where it stopped: restoring it into a
// Trainer built from the same config and data makes the rest of the run bit-identical (on CPU
// with fixed threads) to the run that was never stopped. The tensors are detached views of the
// live ones, not copies, so that checkpointing a large model does not double its memory: save
// them before the trainer takes another step.
struct TrainerState {
  struct AdamEntry {
    std::string name;  // the model parameter it belongs to
    torch::Tensor exp_avg;
    torch::Tensor exp_avg_sq;
    int64_t step = 0;
  };

  int64_t global_step = 0;    // optimizer steps taken
  int64_t epoch = 0;          // epochs completed
  int64_t batch = 0;          // batches of epoch `epoch` trained; 0 at an epoch boundary
  double epoch_loss_sum = 0;  // the sum of those batches' losses (for train_loss_mean)
  double smoothed_loss_average = 0;
  int64_t smoothed_loss_count = 0;
  std::vector<std::pair<std::string, torch::Tensor>> parameters;  // named_parameters()
  std::vector<std::pair<std::string, torch::Tensor>> buffers;     // named_buffers()
  std::vector<AdamEntry> optimizer;                               // one per parameter
  torch::Tensor cpu_generator;  // torch's default CPU generator (dropout draws from it)
  std::vector<torch::Tensor> cuda_generators;  // default CUDA generator per device; on CUDA only
  // The batch-order generator as it was before epoch `epoch`'s shuffle, so that a mid-epoch
  // resume re-draws the same permutation and continues at batch `batch`.
  torch::Tensor order_generator;
  // The sparse path's own state (SparseTrainer::state): its pass's block losses so far and lazy
  // Adam's per-row step counts, by name. Empty for the dense path.
  std::vector<std::pair<std::string, torch::Tensor>> sparse;
};

// Copies `state`'s parameters and buffers into `model` by name; throws collab::Error naming the
// first one missing, extra or of another shape.
void load_model_state(CollabModelImpl& model, const TrainerState& state);

// What fit() calls back, and when a checkpoint is due.
struct FitHooks {
  // After each epoch's evaluation.
  std::function<void(const EpochMetrics&)> on_epoch;
  // When `checkpoint` says one is due: after on_epoch at the end of every `every_epochs`-th
  // epoch, after every `every_steps`-th step inside an epoch (a step that ends an epoch waits
  // for its evaluation), and at the end of the last epoch whenever checkpoints are enabled.
  std::function<void(const TrainerState&)> on_checkpoint;
  CheckpointConfig checkpoint{0, 0, 0, ""};
  // Polled after every optimizer step (it must be cheap: a signal handler's flag); in a
  // distributed run before each step, and the ranks stop together after the first step any of
  // them asked in. When it
  // returns true, fit() stops after that step, calls on_checkpoint (unless one was just written
  // for that step, and even when `checkpoint` disables periodic ones) and returns early with
  // Trainer::stopped() true. A request during an epoch's last step lets that epoch finish its
  // evaluation first, so that the checkpoint is an ordinary epoch-end one. A request that comes
  // only after the last epoch changes nothing.
  std::function<bool()> stop_requested;
};

// Thrown by fit() when a step's loss, or the parameters about to be checkpointed, are NaN or
// infinite: training stops before anything non-finite is checkpointed, so the newest checkpoint
// on disk is the last good one.
class TrainingDiverged : public Error {
 public:
  using Error::Error;
};

class Trainer {
 public:
  // `model` must already be on `device`. Seeds the batch-order generator from config.seed.
  Trainer(CollabModel model, const Dataset& data, const TrainConfig& config,
          const torch::Device& device);

  // Trains the remaining epochs, calling `on_epoch` after each one's evaluation.
  std::vector<EpochMetrics> fit(const std::function<void(const EpochMetrics&)>& on_epoch = {});
  std::vector<EpochMetrics> fit(const FitHooks& hooks);

  // The state to checkpoint now (see TrainerState).
  TrainerState state();
  // Continues from `state` (taken from a trainer with the same model shape and batch count):
  // the model, the optimizer, the schedule position and every generator. Throws collab::Error
  // naming what does not fit.
  void restore(const TrainerState& state);
  // Evaluates the model on the validation set as it is now.
  RatingMetrics evaluate();
  // lr_find's step: trains the next batch of the shuffled order (a new epoch's order after the
  // last batch) with `lr` and `beta1` in place of the schedule's, through autograd, and returns
  // its loss as it came, NaN and infinities included (the sweep expects to diverge). Not for a
  // trainer that also fit()s.
  double sweep_step(double lr, double beta1);

  // True when the last fit() returned early because hooks.stop_requested() asked it to.
  bool stopped() const { return stopped_; }

  // Makes this trainer one rank of a data-parallel run (nullptr: alone). Each rank trains on
  // its slice of every global batch (the same shuffled order on all ranks, so the global batch
  // is train.batch_size), gradients and the loss are summed with one bucketed allreduce per
  // step, and every rank takes the same optimizer step; fit() first copies rank 0's parameters
  // to all. Only rank 0 evaluates (the other ranks' EpochMetrics::valid stay zero). With a fused
  // step that takes slices (DotProduct, DotProductBias: FusedStep::step_slice) only the rows the
  // global batch touches are summed, and each rank runs the fused step; other models reduce
  // every parameter's gradient through autograd.
  void set_collective(Collective* collective) { collective_ = collective; }

  int64_t steps_per_epoch() const { return batches_.size(); }
  int64_t global_step() const { return step_; }
  int64_t epoch() const { return epoch_; }
  CollabModel model() const { return model_; }
  FastaiAdam& optimizer() { return optimizer_; }

 private:
  // Trains the rest of the current epoch and evaluates it; nothing when a stop was requested
  // mid-epoch (the checkpoint is then written already).
  std::optional<EpochMetrics> run_epoch(const FitHooks& hooks);
  // Calls hooks.on_checkpoint(state()) after checking that every parameter is finite (throws
  // TrainingDiverged otherwise), and remembers the step.
  void checkpoint(const FitHooks& hooks);
  // One optimizer step on batch `b` of the epoch's order with the scheduled lr and beta1, its
  // loss recorded in loss_log_: the fused kernel where the model has one (train.fused), else
  // forward, MSE loss, backward, FastaiAdam.
  void train_step(int64_t b, double lr, double beta1);
  // Adds the logged losses to the epoch's sum and the smoothed loss; throws TrainingDiverged
  // naming the first step whose loss is not finite.
  void account_losses();
  // train_step's autograd path as one rank of collective_; records the global batch's loss and
  // sets stop_agreed_ when any rank voted (stop_vote_) to stop after this step.
  void distributed_step(const Batch& batch, double lr, double beta1);
  // The fused step's share of batch b on this rank, summing through collective_ with the
  // stop vote in the same allreduce.
  StepSlice rank_slice(int64_t b);
  // Whether to stop at an epoch end: hooks.stop_requested(), agreed over all ranks when
  // distributed.
  bool stop_at_epoch_end(const FitHooks& hooks);
  // Below this many parameters, autograd steps on the CPU run on one intra-op thread unless
  // train.threads is set (serial_autograd_steps).
  static constexpr int64_t kSerialAutogradParameters = 2'000'000;
  bool serial_autograd_steps() const;

  CollabModel model_;
  TrainConfig config_;
  torch::Device device_;
  ShuffledBatches batches_;
  Batch valid_;
  FastaiAdam optimizer_;
  OneCycle schedule_;
  at::Generator order_generator_;
  // order_generator_'s state before the current epoch's shuffle (see TrainerState).
  torch::Tensor epoch_order_state_;
  SmoothedLoss smoothed_loss_;
  int64_t epoch_ = 0;
  int64_t step_ = 0;
  int64_t batch_ = 0;  // batches of epoch_ trained so far
  double epoch_loss_sum_ = 0;
  int64_t checkpointed_step_ = -1;  // the step of the last on_checkpoint call in this fit()
  bool stopped_ = false;
  // Made at the start of fit(), after any restore: it holds pointers into the parameters and
  // the optimizer's state.
  std::unique_ptr<FusedStep> fused_;
  // Losses not yet read back (train.sync_every), and the buffer they are read into.
  LossLog loss_log_;
  std::vector<double> losses_;
  Collective* collective_ = nullptr;
  bool stop_vote_ = false;    // this rank asks to stop after the current step
  bool stop_agreed_ = false;  // some rank asked to stop after the last step
};

}  // namespace collab
