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
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collab/data/ratings.h"
#include "collab/models/collab_model.h"
#include "collab/infer/metrics.h"
#include "collab/train/one_cycle.h"
#include "collab/train/train_config.h"
#include "collab/train/trainer.h"

namespace collab {

// The ratings of `ratings` grouped into a B x B grid of (user range, item range) blocks.
struct BlockGrid {
  int64_t size = 0;                  // B, ranges per side
  std::vector<uint16_t> user_range;  // range of each user row
  std::vector<uint16_t> item_range;  // range of each item row
  // Block (a, b)'s ratings are rows [offsets[a * B + b], offsets[a * B + b + 1]).
  std::vector<int64_t> offsets;

  int64_t begin(int64_t a, int64_t b) const { return offsets[static_cast<size_t>(a * size + b)]; }
  int64_t end(int64_t a, int64_t b) const { return offsets[static_cast<size_t>(a * size + b + 1)]; }
};

// Cuts rows 0..n-1 into `parts` contiguous ranges holding about equal sums of `counts`;
// returns each row's range.
std::vector<uint16_t> balanced_ranges(const std::vector<int64_t>& counts, int64_t parts);

// Reorders `ratings` in place, without a copy of the data, so that each block's ratings are
// contiguous, each block in a seeded random order; drops the timestamps. `blocks` is B
// (1..4096); `threads` shuffle blocks in parallel (the result does not depend on them).
BlockGrid partition_into_blocks(Ratings& ratings, int64_t n_users, int64_t n_items, int64_t blocks,
                                uint64_t seed, int64_t threads = 1);

// The blocks of round `round` (0..B-1): (a, (a + round) mod B) for a = 0..B-1.
std::vector<std::pair<int64_t, int64_t>> blocks_of_round(int64_t blocks, int64_t round);

// The grid size when train.blocks is 0: at least 4 and a multiple of the threads, so that the
// default gives the same results for 1, 2 and 4 threads.
int64_t default_blocks(int64_t threads);

class SparseTrainer {
 public:
  // Trains `model` (DotProduct or DotProductBias, float32 on the CPU) on `train`, which it takes
  // over and reorders; `valid` must outlive the trainer. Throws collab::Error naming
  // train.optimizer for other architectures.
  SparseTrainer(CollabModelImpl& model, Ratings train, const Ratings& valid,
                const TrainConfig& config);
  ~SparseTrainer();

  // One pass over the training ratings, then the validation metrics. train_loss and
  // train_loss_mean are both the pass's mean squared error before each update.
  EpochMetrics run_epoch();
  std::vector<EpochMetrics> fit(const std::function<void(const EpochMetrics&)>& on_epoch = {});
  RatingMetrics evaluate() const;

  int64_t epoch() const { return epoch_; }
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

  struct Table;
  struct Scratch;

 private:
  void train_block(int64_t a, int64_t b, double lr, double beta1, Scratch* scratch);

  TrainConfig config_;
  bool lazy_adam_;
  int64_t threads_;
  Ratings train_;
  const Ratings* valid_;
  BlockGrid grid_;
  OneCycle schedule_;
  std::vector<Table> tables_;  // user factors, item factors[, user bias, item bias]
  int64_t dim_ = 0;
  std::optional<YRange> y_range_;
  std::vector<double> block_loss_;
  std::vector<Scratch> scratch_;    // one per thread (lazy Adam)
  std::vector<float> inv_debias2_;  // 1 / (1 - beta2^t) by row step t; 1 past the end
  int64_t epoch_ = 0;
  double train_seconds_ = 0;
  double setup_seconds_ = 0;
  double train_cpu_seconds_ = 0;
  std::vector<double> block_cpu_seconds_;
};

}  // namespace collab
