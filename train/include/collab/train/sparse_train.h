// The sparse fast path for the dot-product family (config `train.optimizer` "sgd" or
// "sparse_adam"): each update touches only the rows of the ratings it learns from, so a pass
// costs O(ratings x factors) whatever the table sizes, and tables of millions of rows scale.
//
//   sgd          LIBMF's recipe: one update per rating (batch size 1); for rating (u, i, r) with
//                error e = pred - r and g = e * dpred/d(dot),
//                  p_u -= lr * (g * q_i + wd * p_u),  q_i -= lr * (g * p_u + wd * q_i)
//                  b_u -= lr * (g + wd * b_u),        b_i -= lr * (g + wd * b_i)
//                (the gradient of e^2/2 plus per-row L2, applied to the touched rows only).
//   sparse_adam  lazy Adam: mini-batches of train.batch_size ratings with the exact recipe's
//                loss (mean squared error); each touched row takes fastai's Adam step with its
//                own step count for the bias correction and the decoupled decay p *= 1 - lr*wd;
//                untouched rows neither decay nor coast on their momentum.
//
// Parallelism without races (LIBMF's block partitioning, with a deterministic schedule): users
// and items are cut into B contiguous ranges holding about equal numbers of ratings, which
// splits the ratings into a B x B grid of blocks. A pass runs B rounds; round d trains the B
// blocks (a, (a + d) mod B) concurrently, which share no user range and no item range, so no
// two threads ever touch the same row (no locks, no atomics). Each block is trained in a fixed
// order (a seeded shuffle made once), so the result depends on B and the seed but not on the
// number of threads. The lr (and Adam's beta1) follow train.lr_schedule per round.
//
// Distributed (set_collective, W ranks, B a multiple of W): DSGD's stratified schedule over the
// same grid. Rank r owns the user ranges [r B/W, (r+1) B/W) and trains, in round d, its blocks
// (a, (a + d) mod B); between rounds each rank sends the item range it trained at its first user
// range (rows, biases and lazy Adam's state for them) to rank r - 1 and receives the one it trains
// next from rank r + 1, so no two ranks ever write the same row, and every rank does exactly the
// arithmetic a one-process run with the same B and seed does on those blocks: the tables are
// bit-identical to it, whatever the timing. At a pass's end and before a checkpoint the ranks
// assemble the whole tables (each contributes the rows it holds, the rest zero, in one allreduce)
// so that rank 0 evaluates and saves them; stop requests are voted on every round.
//
// A round is the sparse path's step: fit() polls FitHooks::stop_requested and counts
// checkpoint.every_steps in rounds, and state() at a round boundary (the model, lazy Adam's
// moments and row steps, the pass's block losses so far) continues bit-identically after
// restore(), as the dense path's does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collab/data/ratings.h"
#include "collab/models/collab_model.h"
#include "collab/infer/metrics.h"
#include "collab/train/block_grid.h"
#include "collab/train/distributed.h"
#include "collab/train/one_cycle.h"
#include "collab/train/sigmoid_range.h"
#include "collab/train/train_config.h"
#include "collab/train/trainer.h"

namespace collab {

struct SgdRun;  // train/src/sgd_kernel.h

class SparseTrainer {
 public:
  // Trains `model` (DotProduct or DotProductBias, float32 on the CPU) on `train`, which it takes
  // over and reorders; `valid` must outlive the trainer. Throws collab::Error naming
  // train.optimizer for other architectures.
  SparseTrainer(CollabModelImpl& model, Ratings train, const Ratings& valid,
                const TrainConfig& config);
  ~SparseTrainer();

  // The rest of the current pass over the training ratings, then the validation metrics;
  // nullopt when `hooks` asked to stop mid-pass (after a checkpoint). train_loss and
  // train_loss_mean are both the pass's mean squared error before each update.
  std::optional<EpochMetrics> run_epoch(const FitHooks& hooks = {});
  // Trains to train.epochs, with FitHooks' checkpoints and stop requests (see Trainer::fit).
  std::vector<EpochMetrics> fit(const FitHooks& hooks);
  std::vector<EpochMetrics> fit(const std::function<void(const EpochMetrics&)>& on_epoch = {});
  RatingMetrics evaluate() const;

  // Trains this rank's share of the grid as one of collective->world_size() ranks (see above),
  // from rank 0's parameters (broadcast here: every rank must call it); call before the first
  // pass. Throws collab::Error naming train.blocks when B is not a
  // multiple of the ranks. Bytes sent are collective->bytes_sent().
  void set_collective(Collective* collective);

  // The state to continue from, at the current round boundary: views of the live tables (save
  // them before the next round). restore() takes it back (the model's parameters included);
  // throws collab::Error when it belongs to another optimizer or block grid.
  TrainerState state() const;
  void restore(const TrainerState& state);
  bool stopped() const { return stopped_; }

  int64_t epoch() const { return epoch_; }
  int64_t global_step() const { return epoch_ * grid_.size + round_; }
  int64_t threads() const { return threads_; }
  const BlockGrid& grid() const { return grid_; }
  int64_t train_size() const { return static_cast<int64_t>(train_.size()); }
  // Seconds spent in the training passes alone (no evaluation), summed over epochs.
  double train_seconds() const { return train_seconds_; }
  // CPU seconds of the threads inside the training passes (blocks only), summed over threads
  // and epochs: on a machine shared with other jobs, cpu_seconds / threads estimates what the
  // passes take on an idle one.
  double train_cpu_seconds() const { return train_cpu_seconds_; }
  // Seconds the constructor spent building the block grid (bucketing and shuffling).
  double setup_seconds() const { return setup_seconds_; }

 private:
  // A table with lazy Adam's state; the four tables by name; one side's gradient rows of a
  // mini-batch, and a thread's two; one lazy-Adam step's scalars (sparse_train.cpp).
  struct Table;
  struct Tables;
  struct BatchGradients;
  struct Scratch;
  struct LazyAdamStep;

  // The tables by the names the checkpoint's sparse state uses (biases only when the model has).
  std::vector<std::pair<std::string, Table*>> named_tables() const;
  // The model's tables, checked (DotProduct or DotProductBias, float32 on the CPU).
  std::unique_ptr<Tables> make_tables(CollabModelImpl& model) const;
  void make_lazy_adam_buffers();
  // SGD's factor tables with every row starting on a 64-byte boundary (aligned true: the
  // model's weights become views of padded storage while this trainer lives) or contiguous
  // again, and tables_ over them. A row that straddles cache lines costs an extra line in each
  // of the per-rating loops' loads and stores (bench/RESULTS.md Session 12).
  void set_aligned_rows(bool aligned);
  // Trains block (a, b) of the grid, and stores its sum of squared errors in block_loss_.
  void train_block(int64_t a, int64_t b, double lr, double beta1, Scratch* scratch);
  // The kernels' view (train/src/sgd_kernel.h) of `ratings` [begin, end) over the tables.
  SgdRun kernel_run(const Ratings& ratings, int64_t begin, int64_t end, float lr,
                    float decay) const;
  // Per-rating SGD over ratings [begin, end); returns their sum of squared errors.
  double sgd_block(int64_t begin, int64_t end, double lr);
  // Lazy Adam over ratings [begin, end) in mini-batches; returns their sum of squared errors.
  double lazy_adam_block(int64_t begin, int64_t end, double lr, double beta1, Scratch& scratch);
  // The gradient rows of ratings [start, stop), one mini-batch, into `scratch`; adds their
  // squared errors to `loss` (one running sum per block, rating by rating).
  void accumulate_gradients(int64_t start, int64_t stop, Scratch& scratch, double& loss) const;
  // The rows one side of the mini-batch touched (factors, and biases where not null) take
  // their step; the side's gradient rows are cleared.
  void apply_lazy_adam(BatchGradients& side, Table& factors, Table* bias, const LazyAdamStep& step);
  // Runs the threads' first parallel region, once, before a pass's clock starts.
  void wake_threads();
  // Trains round `round_` of the current pass (its blocks side by side) and counts it done.
  void run_round();
  // Calls hooks.on_checkpoint with state(), after checking the pass so far is finite.
  void checkpoint(const FitHooks& hooks);
  // Whether to stop now: the hooks' request, agreed by every rank when distributed.
  bool stop_requested(const FitHooks& hooks);

  // Distributed runs (sparse_distributed.cpp). Whether this rank trains user range a; the rank
  // holding item range b at round boundary d; the item ranges' first rows.
  bool owns_user_range(int64_t a) const;
  int rank_holding_items(int64_t b, int64_t d) const;
  // After round `d`: sends the item range the next rank down trains next, receives ours.
  void rotate_items(int64_t d);
  // Every rank gets the whole tables and block losses of the current round boundary.
  void assemble_tables();
  // The item range b's rows [begin, end) of every item-side table, packed as bytes, and back.
  torch::Tensor pack_item_range(int64_t b) const;
  void unpack_item_range(int64_t b, const torch::Tensor& bytes);

  CollabModelImpl* model_;
  TrainConfig config_;
  bool lazy_adam_;
  int64_t threads_;
  Ratings train_;
  const Ratings* valid_;
  BlockGrid grid_;
  OneCycle schedule_;
  std::unique_ptr<Tables> tables_;
  int64_t dim_ = 0;
  OutputRange output_range_;
  std::vector<double> block_loss_;
  std::vector<Scratch> scratch_;    // one per thread (lazy Adam)
  std::vector<float> inv_debias2_;  // 1 / (1 - beta2^t) by row step t; 1 past the end
  int64_t epoch_ = 0;
  int64_t round_ = 0;  // rounds of pass epoch_ done
  bool stopped_ = false;
  bool threads_awake_ = false;
  int64_t checkpointed_step_ = -1;
  double train_seconds_ = 0;
  double setup_seconds_ = 0;
  double train_cpu_seconds_ = 0;
  std::vector<double> block_cpu_seconds_;
  Collective* collective_ = nullptr;
  std::vector<int64_t> item_range_begin_;  // B + 1 offsets (distributed runs)
  std::vector<int64_t> user_range_begin_;
};

}  // namespace collab
