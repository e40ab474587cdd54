#include "collab/train/sparse_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <numeric>
#include <tuple>

#include <ATen/Parallel.h>
#include <omp.h>

#include "collab/common/error.h"
#include "row_kernels.h"

// The per-rating loops are bound by vector arithmetic on rows that sit in cache: they are
// COLLAB_MULTIVERSION (row_kernels.h), built for AVX2/FMA too and picked at load time.

namespace collab {

// One parameter table with, for lazy Adam, its moments and per-row step counts.
struct SparseTrainer::Table {
  float* param = nullptr;
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<float> exp_avg, exp_avg_sq;
  std::vector<int32_t> steps;
};

// A thread's lazy-Adam buffers: gradient rows of the touched rows of the current mini-batch.
struct SparseTrainer::Scratch {
  struct Side {
    std::vector<int32_t> slot_of_row;  // -1 for rows the batch does not touch
    std::vector<int32_t> touched;      // rows in slot order
    std::vector<float> grad;           // [batch, dim]
    std::vector<float> bias_grad;      // [batch]
  };
  Side users, items;
  std::vector<float> neg_step;  // -lr / (1 - beta1^t) by row step t, for this round
};

namespace {

// splitmix64: a small, fast, seeded generator for the one-off shuffle.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for n < 2^32).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
};

void swap_rows(Ratings& r, size_t a, size_t b) {
  std::swap(r.users[a], r.users[b]);
  std::swap(r.items[a], r.items[b]);
  r.ratings.swap_rows(a, b);
}

struct Prediction {
  float value;
  float slope;  // d value / d dot
};

inline Prediction predict_from(float dot, bool squash, float lo, float span) {
  if (!squash) return {dot, 1.0f};
  const float s = 1.0f / (1.0f + std::exp(-dot));
  return {s * span + lo, s * (1.0f - s) * span};
}

inline void sgd_pair(float* __restrict p, float* __restrict q, float decay, float lg, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const float pk = p[k], qk = q[k];
    p[k] = pk * decay - lg * qk;
    q[k] = qk * decay - lg * pk;
  }
}

struct SgdArgs {
  const int32_t* users;
  const int32_t* items;
  RatingValues::View ratings;
  int64_t n;
  float* P;
  float* Q;
  float* bu;  // null without biases
  float* bi;
  int64_t dim;
  float lr, decay;  // decay = 1 - lr * wd
  bool squash;
  float lo, span;
};

// Per-rating SGD over one block; returns the sum of squared errors before each update.
COLLAB_MULTIVERSION double sgd_block(const SgdArgs a) {
  constexpr int64_t kAhead = 8;  // ratings ahead whose rows are prefetched
  const int64_t dim = a.dim;
  double loss = 0;
  for (int64_t r = 0; r < a.n; ++r) {
    if (r + kAhead < a.n) {
      const char* pu = reinterpret_cast<const char*>(a.P + a.users[r + kAhead] * dim);
      const char* qi = reinterpret_cast<const char*>(a.Q + a.items[r + kAhead] * dim);
      for (int64_t off = 0; off < dim * 4; off += 64) {
        __builtin_prefetch(pu + off, 1);
        __builtin_prefetch(qi + off, 1);
      }
    }
    const int64_t u = a.users[r], i = a.items[r];
    float* p = a.P + u * dim;
    float* q = a.Q + i * dim;
    float dot = dot_product_inline(p, q, dim);
    if (a.bu) dot += a.bu[u] + a.bi[i];
    const Prediction pred = predict_from(dot, a.squash, a.lo, a.span);
    const float err = pred.value - a.ratings[static_cast<size_t>(r)];
    loss += static_cast<double>(err) * err;
    const float lg = a.lr * err * pred.slope;
    sgd_pair(p, q, a.decay, lg, dim);
    if (a.bu) {
      a.bu[u] = a.bu[u] * a.decay - lg;
      a.bi[i] = a.bi[i] * a.decay - lg;
    }
  }
  return loss;
}

// fastai's Adam step on one row (the fused path's formula), with the row's own bias correction.
COLLAB_MULTIVERSION void adam_row(float* __restrict p, float* __restrict m, float* __restrict v,
                                  const float* __restrict g, int64_t n, float decay, float beta1,
                                  float beta2, float inv_debias2, float neg_step, float eps) {
  const float one_minus_beta1 = 1.0f - beta1, one_minus_beta2 = 1.0f - beta2;
  for (int64_t k = 0; k < n; ++k) {
    const float pk = p[k] * decay;
    const float mk = m[k] * beta1 + g[k] * one_minus_beta1;
    const float vk = v[k] * beta2 + g[k] * g[k] * one_minus_beta2;
    m[k] = mk;
    v[k] = vk;
    p[k] = pk + neg_step * (mk / (std::sqrt(vk * inv_debias2) + eps));
  }
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Bias-correction powers become exactly 1 in float once beta^t underflows this.
constexpr double kNegligible = 1e-17;

}  // namespace

std::vector<uint16_t> balanced_ranges(const std::vector<int64_t>& counts, int64_t parts) {
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  std::vector<uint16_t> range(counts.size(), 0);
  int64_t before = 0;
  for (size_t r = 0; r < counts.size(); ++r) {
    // The range holding the row's middle rating, so ranges stay contiguous and ordered.
    const double middle = static_cast<double>(before) + 0.5 * static_cast<double>(counts[r]);
    const auto part = total == 0 ? static_cast<int64_t>(r * static_cast<size_t>(parts) /
                                                        std::max<size_t>(1, counts.size()))
                                 : static_cast<int64_t>(middle * static_cast<double>(parts) /
                                                        static_cast<double>(total));
    range[r] = static_cast<uint16_t>(std::min(parts - 1, part));
    before += counts[r];
  }
  return range;
}

BlockGrid partition_into_blocks(Ratings& ratings, int64_t n_users, int64_t n_items, int64_t blocks,
                                uint64_t seed, int64_t threads) {
  if (blocks < 1 || blocks > 4096) {
    throw Error("train.blocks: expected 1..4096 blocks per side, got " + std::to_string(blocks));
  }
  ratings.timestamps.clear();
  ratings.timestamps.shrink_to_fit();
  const size_t n = ratings.size();
  std::vector<int64_t> user_counts(static_cast<size_t>(n_users), 0);
  std::vector<int64_t> item_counts(static_cast<size_t>(n_items), 0);
  for (size_t k = 0; k < n; ++k) {
    ++user_counts[static_cast<size_t>(ratings.users[k])];
    ++item_counts[static_cast<size_t>(ratings.items[k])];
  }
  BlockGrid grid;
  grid.size = blocks;
  grid.user_range = balanced_ranges(user_counts, blocks);
  grid.item_range = balanced_ranges(item_counts, blocks);
  auto block_of = [&](size_t k) {
    return static_cast<size_t>(grid.user_range[static_cast<size_t>(ratings.users[k])]) *
               static_cast<size_t>(blocks) +
           grid.item_range[static_cast<size_t>(ratings.items[k])];
  };
  const auto n_blocks = static_cast<size_t>(blocks * blocks);
  grid.offsets.assign(n_blocks + 1, 0);
  for (size_t k = 0; k < n; ++k) ++grid.offsets[block_of(k) + 1];
  for (size_t b = 0; b < n_blocks; ++b) grid.offsets[b + 1] += grid.offsets[b];
  // In-place bucket permutation (American flag sort): each rating is swapped straight into the
  // next free slot of its block, so no second copy of the ratings is ever held.
  std::vector<int64_t> next(grid.offsets.begin(), grid.offsets.end() - 1);
  for (size_t b = 0; b < n_blocks; ++b) {
    const auto end = static_cast<size_t>(grid.offsets[b + 1]);
    while (static_cast<size_t>(next[b]) < end) {
      const auto k = static_cast<size_t>(next[b]);
      size_t home = block_of(k);
      while (home != b) {
        swap_rows(ratings, k, static_cast<size_t>(next[home]++));
        home = block_of(k);
      }
      ++next[b];
    }
  }
  // A seeded shuffle inside each block (one generator per block, so the order does not depend
  // on the threads; a block's rows are close in memory, so this is far cheaper than shuffling
  // the whole table first). SGD needs it: files are often sorted by user or time.
#pragma omp parallel for schedule(dynamic, 1) \
    num_threads(static_cast <int>(std::max <int64_t>(1, threads)))
  for (int64_t b = 0; b < static_cast<int64_t>(n_blocks); ++b) {
    SplitMix rng{seed ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(b + 1))};
    const auto first = static_cast<size_t>(grid.offsets[static_cast<size_t>(b)]);
    const auto count = static_cast<size_t>(grid.offsets[static_cast<size_t>(b) + 1]) - first;
    for (size_t k = count; k > 1; --k) swap_rows(ratings, first + k - 1, first + rng.below(k));
  }
  return grid;
}

std::vector<std::pair<int64_t, int64_t>> blocks_of_round(int64_t blocks, int64_t round) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t a = 0; a < blocks; ++a) out.emplace_back(a, (a + round) % blocks);
  return out;
}

int64_t default_blocks(int64_t threads) {
  const int64_t t = std::max<int64_t>(1, threads);
  return t >= 4 ? t : (4 + t - 1) / t * t;
}

SparseTrainer::SparseTrainer(CollabModelImpl& model, Ratings train, const Ratings& valid,
                             const TrainConfig& config)
    : config_(config),
      lazy_adam_(config.optimizer == "sparse_adam"),
      threads_(config.threads > 0 ? config.threads : at::get_num_threads()),
      train_(std::move(train)),
      valid_(&valid),
      schedule_(config.one_cycle, 1) {
  const std::string name = "train.optimizer \"" + config.optimizer + "\"";
  std::vector<torch::Tensor> weights;
  if (const std::optional<DotTables> tables = model.dot_tables()) {
    weights = {tables->user_factors->weight, tables->item_factors->weight};
    if (tables->has_biases()) {
      weights.push_back(tables->user_bias->weight);
      weights.push_back(tables->item_bias->weight);
    }
  } else {
    throw Error(name + " trains DotProduct and DotProductBias only, not " + model.arch() +
                " (use \"adam\")");
  }
  for (const auto& w : weights) {
    if (!w.device().is_cpu() || w.scalar_type() != torch::kFloat || !w.is_contiguous()) {
      throw Error(name + " trains on the CPU only (set train.device to \"cpu\")");
    }
  }
  if (train_.size() == 0) throw Error(name + ": no training ratings");
  y_range_ = model.y_range();
  dim_ = weights[0].size(1);
  for (const auto& w : weights) {
    Table t;
    t.param = w.data_ptr<float>();
    t.rows = w.size(0);
    t.dim = w.size(1);
    if (lazy_adam_) {
      t.exp_avg.assign(static_cast<size_t>(t.rows * t.dim), 0.0f);
      t.exp_avg_sq.assign(static_cast<size_t>(t.rows * t.dim), 0.0f);
      t.steps.assign(static_cast<size_t>(t.rows), 0);
    }
    tables_.push_back(std::move(t));
  }
  const int64_t blocks = config.blocks > 0 ? config.blocks : default_blocks(threads_);
  const auto setup_start = std::chrono::steady_clock::now();
  grid_ = partition_into_blocks(train_, tables_[0].rows, tables_[1].rows, blocks, config.seed,
                                threads_);
  setup_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
  schedule_ = OneCycle(config.one_cycle, config.epochs * blocks);
  block_loss_.assign(static_cast<size_t>(blocks * blocks), 0.0);
  block_cpu_seconds_.assign(static_cast<size_t>(blocks * blocks), 0.0);

  if (lazy_adam_) {
    const double beta2 = config.adam.beta2;
    inv_debias2_.push_back(1.0f);  // t = 0 is never used
    for (int64_t t = 1; std::pow(beta2, static_cast<double>(t)) > kNegligible; ++t) {
      inv_debias2_.push_back(
          static_cast<float>(1.0 / (1.0 - std::pow(beta2, static_cast<double>(t)))));
    }
    const auto batch = static_cast<size_t>(config.batch_size);
    scratch_.resize(static_cast<size_t>(threads_));
    for (Scratch& s : scratch_) {
      for (auto [side, rows] :
           {std::pair{&s.users, tables_[0].rows}, std::pair{&s.items, tables_[1].rows}}) {
        side->slot_of_row.assign(static_cast<size_t>(rows), -1);
        side->touched.reserve(batch);
        side->grad.assign(batch * static_cast<size_t>(dim_), 0.0f);
        side->bias_grad.assign(batch, 0.0f);
      }
    }
  }
}

SparseTrainer::~SparseTrainer() = default;

void SparseTrainer::train_block(int64_t a, int64_t b, double lr, double beta1, Scratch* scratch) {
  const int64_t begin = grid_.begin(a, b), end = grid_.end(a, b);
  const bool squash = y_range_.has_value();
  const float lo = squash ? static_cast<float>(y_range_->lo) : 0.0f;
  const float span = squash ? static_cast<float>(y_range_->hi - y_range_->lo) : 1.0f;
  const bool bias = tables_.size() == 4;
  double loss = 0;
  if (!lazy_adam_) {
    SgdArgs args{train_.users.data() + begin,
                 train_.items.data() + begin,
                 train_.ratings.view().from(static_cast<size_t>(begin)),
                 end - begin,
                 tables_[0].param,
                 tables_[1].param,
                 bias ? tables_[2].param : nullptr,
                 bias ? tables_[3].param : nullptr,
                 dim_,
                 static_cast<float>(lr),
                 static_cast<float>(1.0 - lr * config_.adam.weight_decay),
                 squash,
                 lo,
                 span};
    loss = sgd_block(args);
  } else {
    const float decay = config_.adam.weight_decay != 0
                            ? static_cast<float>(1.0 - lr * config_.adam.weight_decay)
                            : 1.0f;
    const auto fbeta1 = static_cast<float>(beta1), fbeta2 = static_cast<float>(config_.adam.beta2);
    const auto eps = static_cast<float>(config_.adam.eps);
    const std::vector<float>& neg_step = scratch->neg_step;
    auto step_of = [&](Table& t, int32_t row) {
      int32_t& s = t.steps[static_cast<size_t>(row)];
      ++s;
      return static_cast<size_t>(s);
    };
    auto update = [&](Table& t, int32_t row, const float* g) {
      const size_t s = step_of(t, row);
      const float inv2 = s < inv_debias2_.size() ? inv_debias2_[s] : 1.0f;
      const float ns = s < neg_step.size() ? neg_step[s] : static_cast<float>(-lr);
      const size_t off = static_cast<size_t>(row) * static_cast<size_t>(t.dim);
      adam_row(t.param + off, t.exp_avg.data() + off, t.exp_avg_sq.data() + off, g, t.dim, decay,
               fbeta1, fbeta2, inv2, ns, eps);
    };
    const float* U = tables_[0].param;
    const float* I = tables_[1].param;
    const float* bu = bias ? tables_[2].param : nullptr;
    const float* bi = bias ? tables_[3].param : nullptr;
    auto slot = [](Scratch::Side& side, int32_t row) {
      int32_t& s = side.slot_of_row[static_cast<size_t>(row)];
      if (s < 0) {
        s = static_cast<int32_t>(side.touched.size());
        side.touched.push_back(row);
      }
      return static_cast<size_t>(s);
    };
    for (int64_t start = begin; start < end; start += config_.batch_size) {
      const int64_t stop = std::min(end, start + config_.batch_size);
      const float norm = 2.0f / static_cast<float>(stop - start);  // d mean((p - y)^2) / dp
      for (int64_t r = start; r < stop; ++r) {
        const int32_t u = train_.users[static_cast<size_t>(r)];
        const int32_t i = train_.items[static_cast<size_t>(r)];
        const float* ur = U + u * dim_;
        const float* ir = I + i * dim_;
        float dot = dot_product_inline(ur, ir, dim_);
        if (bias) dot += bu[u] + bi[i];
        const Prediction pred = predict_from(dot, squash, lo, span);
        const float err = pred.value - train_.ratings[static_cast<size_t>(r)];
        loss += static_cast<double>(err) * err;
        const float g = norm * err * pred.slope;
        const size_t su = slot(scratch->users, u), si = slot(scratch->items, i);
        float* gu = scratch->users.grad.data() + su * static_cast<size_t>(dim_);
        float* gi = scratch->items.grad.data() + si * static_cast<size_t>(dim_);
        for (int64_t k = 0; k < dim_; ++k) {
          gu[k] += g * ir[k];
          gi[k] += g * ur[k];
        }
        if (bias) {
          scratch->users.bias_grad[su] += g;
          scratch->items.bias_grad[si] += g;
        }
      }
      for (auto [side, factors, bias_table] :
           {std::tuple{&scratch->users, &tables_[0], bias ? &tables_[2] : nullptr},
            std::tuple{&scratch->items, &tables_[1], bias ? &tables_[3] : nullptr}}) {
        for (size_t s = 0; s < side->touched.size(); ++s) {
          const int32_t row = side->touched[s];
          update(*factors, row, side->grad.data() + s * static_cast<size_t>(dim_));
          if (bias_table) update(*bias_table, row, side->bias_grad.data() + s);
          side->slot_of_row[static_cast<size_t>(row)] = -1;
        }
        std::fill_n(side->grad.begin(), side->touched.size() * static_cast<size_t>(dim_), 0.0f);
        std::fill_n(side->bias_grad.begin(), side->touched.size(), 0.0f);
        side->touched.clear();
      }
    }
  }
  block_loss_[static_cast<size_t>(a * grid_.size + b)] = loss;
}

EpochMetrics SparseTrainer::run_epoch() {
  const auto start = std::chrono::steady_clock::now();
  const int64_t B = grid_.size;
  const bool one_cycle = config_.lr_schedule == "one_cycle";
  for (int64_t round = 0; round < B; ++round) {
    const int64_t step = epoch_ * B + round;
    const double lr = one_cycle ? schedule_.lr(step) : config_.one_cycle.lr_max;
    const double beta1 = one_cycle ? schedule_.beta1(step) : config_.one_cycle.moms[0];
    if (lazy_adam_) {
      // -lr / (1 - beta1^t) for this round's lr and beta1, shared by all threads' blocks.
      std::vector<float>& neg_step = scratch_[0].neg_step;
      neg_step.assign(1, 0.0f);
      for (int64_t t = 1; std::pow(beta1, static_cast<double>(t)) > kNegligible; ++t) {
        neg_step.push_back(
            static_cast<float>(-lr / (1.0 - std::pow(beta1, static_cast<double>(t)))));
      }
      for (size_t s = 1; s < scratch_.size(); ++s) scratch_[s].neg_step = neg_step;
    }
    const auto blocks = blocks_of_round(B, round);
    const auto n_blocks = static_cast<int64_t>(blocks.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(static_cast <int>(threads_))
    for (int64_t j = 0; j < n_blocks; ++j) {
      at::globalContext().setFlushDenormal(true);  // moments decay through denormals otherwise
      Scratch* scratch =
          lazy_adam_ ? &scratch_[static_cast<size_t>(omp_get_thread_num())] : nullptr;
      const auto [a, b] = blocks[static_cast<size_t>(j)];
      const double cpu_start = thread_cpu_seconds();
      train_block(a, b, lr, beta1, scratch);
      block_cpu_seconds_[static_cast<size_t>(a * B + b)] = thread_cpu_seconds() - cpu_start;
    }
  }
  train_cpu_seconds_ += std::accumulate(block_cpu_seconds_.begin(), block_cpu_seconds_.end(), 0.0);
  const double loss = std::accumulate(block_loss_.begin(), block_loss_.end(), 0.0) /
                      static_cast<double>(train_.size());
  train_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EpochMetrics m;
  m.epoch = epoch_++;
  m.train_loss = loss;
  m.train_loss_mean = loss;
  m.valid = evaluate();
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

std::vector<EpochMetrics> SparseTrainer::fit(
    const std::function<void(const EpochMetrics&)>& on_epoch) {
  std::vector<EpochMetrics> history;
  while (epoch_ < config_.epochs) {
    history.push_back(run_epoch());
    if (!std::isfinite(history.back().train_loss)) {
      throw Error("training diverged: the loss became " +
                  std::to_string(history.back().train_loss) + " at epoch " +
                  std::to_string(history.back().epoch) + " (try a smaller train.lr_max)");
    }
    if (on_epoch) on_epoch(history.back());
  }
  return history;
}

RatingMetrics SparseTrainer::evaluate() const {
  const Ratings& v = *valid_;
  RatingMetrics m;
  if (v.size() == 0) return m;
  const bool squash = y_range_.has_value();
  const float lo = squash ? static_cast<float>(y_range_->lo) : 0.0f;
  const float span = squash ? static_cast<float>(y_range_->hi - y_range_->lo) : 1.0f;
  const bool bias = tables_.size() == 4;
  double se = 0, ae = 0;
  for (size_t r = 0; r < v.size(); ++r) {
    const int64_t u = v.users[r], i = v.items[r];
    float dot = dot_product_inline(tables_[0].param + u * dim_, tables_[1].param + i * dim_, dim_);
    if (bias) dot += tables_[2].param[u] + tables_[3].param[i];
    const double err = predict_from(dot, squash, lo, span).value - v.ratings[r];
    se += err * err;
    ae += std::abs(err);
  }
  m.mse = se / static_cast<double>(v.size());
  m.rmse = std::sqrt(m.mse);
  m.mae = ae / static_cast<double>(v.size());
  return m;
}

}  // namespace collab
