// SparseTrainer's kernels (sparse_train.h): the block grid's rounds, per-rating SGD (through
// sgd_kernel.h) and lazy Adam over a block, the tables' row padding, and evaluation. Run control
// and checkpoint state are in sparse_fit.cpp.
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
#include "sgd_kernel.h"
#include "sparse_tables.h"
#include "touched_rows.h"

// The per-rating loops are bound by vector arithmetic on rows that sit in cache: lazy Adam's are
// COLLAB_MULTIVERSION (row_kernels.h), built for AVX2/FMA too and picked at load time; SGD's
// have an AVX-512 build besides (sgd_kernel.h).

namespace collab {

// The gradient rows of the user (or item) rows the current mini-batch touched.
struct SparseTrainer::BatchGradients {
  TouchedRows touched;
  std::vector<float> grad;       // [batch, dim], by slot
  std::vector<float> bias_grad;  // [batch], by slot
};

// A thread's lazy-Adam buffers.
struct SparseTrainer::Scratch {
  BatchGradients users, items;
  std::vector<float> neg_step;  // -lr / (1 - beta1^t) by row step t, for this round
};

namespace {

// fastai's Adam step on one row, with the row's own bias correction. The recipe of the fused
// steps' adam_rows_with_grad (row_kernels.h) but not their float operations: v is kept rather
// than its root, and the update divides by sqrt(v / (1 - beta2^t)) + eps. One shared kernel
// would change sparse_adam's results, so each keeps its own.
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

SparseTrainer::SparseTrainer(CollabModelImpl& model, Ratings train, const Ratings& valid,
                             const TrainConfig& config)
    : model_(&model),
      config_(config),
      lazy_adam_(config.optimizer == "sparse_adam"),
      threads_(config.threads > 0 ? config.threads : at::get_num_threads()),
      train_(std::move(train)),
      valid_(&valid),
      schedule_(config.one_cycle, 1) {
  tables_ = make_tables(model);
  if (!lazy_adam_) set_aligned_rows(true);
  output_range_ = OutputRange(model.y_range());
  dim_ = tables_->user_factors.dim;
  const int64_t blocks = config.blocks > 0 ? config.blocks : default_blocks(threads_);
  const auto setup_start = std::chrono::steady_clock::now();
  grid_ = partition_into_blocks(train_, tables_->user_factors.rows, tables_->item_factors.rows,
                                blocks, config.seed, threads_);
  setup_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
  schedule_ = OneCycle(config.one_cycle, config.epochs * blocks);
  block_loss_.assign(static_cast<size_t>(blocks * blocks), 0.0);
  block_cpu_seconds_.assign(static_cast<size_t>(blocks * blocks), 0.0);
  if (lazy_adam_) make_lazy_adam_buffers();
}

std::unique_ptr<SparseTrainer::Tables> SparseTrainer::make_tables(CollabModelImpl& model) const {
  const std::string name = "train.optimizer \"" + config_.optimizer + "\"";
  const std::optional<DotTables> dot = model.dot_tables();
  if (!dot) {
    throw Error(name + " trains DotProduct and DotProductBias only, not " + model.arch() +
                " (use \"adam\")");
  }
  std::vector<torch::Tensor> weights = {dot->user_factors->weight, dot->item_factors->weight};
  if (dot->has_biases()) {
    weights.push_back(dot->user_bias->weight);
    weights.push_back(dot->item_bias->weight);
  }
  for (const auto& w : weights) {
    // Rows of unit-stride columns: contiguous, or padded by set_aligned_rows.
    if (!w.device().is_cpu() || w.scalar_type() != torch::kFloat || w.stride(1) != 1 ||
        w.stride(0) < w.size(1)) {
      throw Error(name + " trains on the CPU only (set train.device to \"cpu\")");
    }
  }
  if (train_.size() == 0) throw Error(name + ": no training ratings");
  auto tables = std::make_unique<Tables>();
  tables->user_factors = Table(weights[0], lazy_adam_);
  tables->item_factors = Table(weights[1], lazy_adam_);
  if (dot->has_biases()) {
    tables->user_bias = Table(weights[2], lazy_adam_);
    tables->item_bias = Table(weights[3], lazy_adam_);
  }
  return tables;
}

void SparseTrainer::make_lazy_adam_buffers() {
  const double beta2 = config_.adam.beta2;
  inv_debias2_.push_back(1.0f);  // t = 0 is never used
  for (int64_t t = 1; std::pow(beta2, static_cast<double>(t)) > kNegligible; ++t) {
    inv_debias2_.push_back(
        static_cast<float>(1.0 / (1.0 - std::pow(beta2, static_cast<double>(t)))));
  }
  const auto batch = static_cast<size_t>(config_.batch_size);
  scratch_.resize(static_cast<size_t>(threads_));
  for (Scratch& s : scratch_) {
    for (auto [side, rows] : {std::pair{&s.users, tables_->user_factors.rows},
                              std::pair{&s.items, tables_->item_factors.rows}}) {
      side->touched.reset(rows, config_.batch_size);
      side->grad.assign(batch * static_cast<size_t>(dim_), 0.0f);
      side->bias_grad.assign(batch, 0.0f);
    }
  }
}

SparseTrainer::~SparseTrainer() {
  // The model outlives the trainer with contiguous weights again. A destructor must not throw:
  // should the copy fail (memory), the weights stay valid padded views with their values.
  try {
    if (!lazy_adam_) set_aligned_rows(false);
  } catch (...) {
  }
}

void SparseTrainer::set_aligned_rows(bool aligned) {
  const std::optional<DotTables> dot = model_->dot_tables();
  torch::NoGradGuard no_grad;
  for (torch::Tensor w : {dot->user_factors->weight, dot->item_factors->weight}) {
    const int64_t rows = w.size(0), dim = w.size(1);
    constexpr int64_t kLine = 16;  // floats in a 64-byte cache line
    // Rows of at most a line's floats already sit within one when the storage is aligned.
    const int64_t stride = aligned && dim > kLine ? (dim + kLine - 1) / kLine * kLine : dim;
    if (w.stride(0) == stride) continue;
    // LibTorch's CPU allocator aligns storage to 64 bytes, so each row starts on a line.
    torch::Tensor storage = torch::zeros({rows, stride}, w.options());
    storage.narrow(1, 0, dim).copy_(w);
    // set_ keeps the parameter's identity (the module, and anything holding it, see the change).
    w.set_(storage.storage(), /*storage_offset=*/0, {rows, dim}, {stride, 1});
  }
  tables_ = make_tables(*model_);
}

void SparseTrainer::train_block(int64_t a, int64_t b, double lr, double beta1, Scratch* scratch) {
  const int64_t begin = grid_.begin(a, b), end = grid_.end(a, b);
  const double loss =
      lazy_adam_ ? lazy_adam_block(begin, end, lr, beta1, *scratch) : sgd_block(begin, end, lr);
  block_loss_[static_cast<size_t>(a * grid_.size + b)] = loss;
}

// Factor tables larger than this are prefetched from (SgdRun::prefetch): measured, prefetching
// made MovieLens 100k's 0.7 MB of tables 12-20% slower a pass and 2M synthetic ratings' 26 MB
// 30% faster; an L2 holds 1-2 MB.
constexpr int64_t kPrefetchAboveBytes = int64_t{2} << 20;

SgdRun SparseTrainer::kernel_run(const Ratings& ratings, int64_t begin, int64_t end, float lr,
                                  float decay) const {
  const Tables& t = *tables_;
  const bool bias = t.has_biases();
  const int64_t table_bytes = (t.user_factors.rows + t.item_factors.rows) *
                              t.user_factors.stride * static_cast<int64_t>(sizeof(float));
  return {ratings.users.data() + begin,
          ratings.items.data() + begin,
          ratings.ratings.view().from(static_cast<size_t>(begin)),
          end - begin,
          t.user_factors.param,
          t.item_factors.param,
          bias ? t.user_bias.param : nullptr,
          bias ? t.item_bias.param : nullptr,
          dim_,
          t.user_factors.stride,
          lr,
          decay,
          output_range_,
          /*prefetch=*/table_bytes > kPrefetchAboveBytes};
}

double SparseTrainer::sgd_block(int64_t begin, int64_t end, double lr) {
  return sgd_ratings(kernel_run(train_, begin, end, static_cast<float>(lr),
                                static_cast<float>(1.0 - lr * config_.adam.weight_decay)));
}

// One lazy-Adam step's scalars (a block's: the lr and beta1 are the round's), and the step of a
// touched row.
struct SparseTrainer::LazyAdamStep {
  float decay;  // 1 - lr * wd, or 1 without weight decay
  float beta1, beta2, eps;
  float neg_lr;                           // -lr: -lr / (1 - beta1^t) once beta1^t is negligible
  const std::vector<float>& neg_step;     // -lr / (1 - beta1^t) by row step t
  const std::vector<float>& inv_debias2;  // 1 / (1 - beta2^t) by row step t

  // Row `row` of `t` takes its next step with gradient row g.
  void update(Table& t, int64_t row, const float* g) const {
    const auto s = static_cast<size_t>(++t.steps[static_cast<size_t>(row)]);
    const float inv2 = s < inv_debias2.size() ? inv_debias2[s] : 1.0f;
    const float ns = s < neg_step.size() ? neg_step[s] : neg_lr;
    const size_t off = static_cast<size_t>(row) * static_cast<size_t>(t.dim);
    adam_row(t.param + row * t.stride, t.exp_avg.data() + off, t.exp_avg_sq.data() + off, g, t.dim,
             decay, beta1, beta2, inv2, ns, eps);
  }
};

double SparseTrainer::lazy_adam_block(int64_t begin, int64_t end, double lr, double beta1,
                                      Scratch& scratch) {
  const LazyAdamStep step{config_.adam.weight_decay != 0
                              ? static_cast<float>(1.0 - lr * config_.adam.weight_decay)
                              : 1.0f,
                          static_cast<float>(beta1),
                          static_cast<float>(config_.adam.beta2),
                          static_cast<float>(config_.adam.eps),
                          static_cast<float>(-lr),
                          scratch.neg_step,
                          inv_debias2_};
  double loss = 0;
  for (int64_t start = begin; start < end; start += config_.batch_size) {
    const int64_t stop = std::min(end, start + config_.batch_size);
    accumulate_gradients(start, stop, scratch, loss);
    Tables& t = *tables_;
    apply_lazy_adam(scratch.users, t.user_factors, t.has_biases() ? &t.user_bias : nullptr, step);
    apply_lazy_adam(scratch.items, t.item_factors, t.has_biases() ? &t.item_bias : nullptr, step);
  }
  return loss;
}

void SparseTrainer::accumulate_gradients(int64_t start, int64_t stop, Scratch& scratch,
                                         double& loss) const {
  const Tables& t = *tables_;
  const bool bias = t.has_biases();
  const float* U = t.user_factors.param;
  const float* I = t.item_factors.param;
  const float norm = 2.0f / static_cast<float>(stop - start);  // d mean((p - y)^2) / dp
  for (int64_t r = start; r < stop; ++r) {
    const int32_t u = train_.users[static_cast<size_t>(r)];
    const int32_t i = train_.items[static_cast<size_t>(r)];
    const float* ur = U + u * t.user_factors.stride;
    const float* ir = I + i * t.item_factors.stride;
    float dot = dot_product_inline(ur, ir, dim_);
    if (bias) dot += t.user_bias.param[u] + t.item_bias.param[i];
    const Prediction pred = output_range_.apply(dot);
    const float err = pred.value - train_.ratings[static_cast<size_t>(r)];
    loss += static_cast<double>(err) * err;
    const float g = norm * err * pred.slope;
    const auto su = static_cast<size_t>(scratch.users.touched.slot(u));
    const auto si = static_cast<size_t>(scratch.items.touched.slot(i));
    float* gu = scratch.users.grad.data() + su * static_cast<size_t>(dim_);
    float* gi = scratch.items.grad.data() + si * static_cast<size_t>(dim_);
    // Not accumulate_pair (row_kernels.h): its AVX2 build fuses the multiply-adds, which
    // rounds differently from this loop and would change sparse_adam's results.
    for (int64_t k = 0; k < dim_; ++k) {
      gu[k] += g * ir[k];
      gi[k] += g * ur[k];
    }
    if (bias) {
      scratch.users.bias_grad[su] += g;
      scratch.items.bias_grad[si] += g;
    }
  }
}

void SparseTrainer::apply_lazy_adam(BatchGradients& side, Table& factors, Table* bias,
                                    const LazyAdamStep& step) {
  const std::vector<int64_t>& rows = side.touched.rows();
  for (size_t s = 0; s < rows.size(); ++s) {
    step.update(factors, rows[s], side.grad.data() + s * static_cast<size_t>(dim_));
    if (bias) step.update(*bias, rows[s], side.bias_grad.data() + s);
  }
  std::fill_n(side.grad.begin(), rows.size() * static_cast<size_t>(dim_), 0.0f);
  std::fill_n(side.bias_grad.begin(), rows.size(), 0.0f);
  side.touched.clear();
}

void SparseTrainer::run_round() {
  const int64_t B = grid_.size;
  const int64_t step = epoch_ * B + round_;
  const bool one_cycle = config_.lr_schedule == "one_cycle";
  const double lr = one_cycle ? schedule_.lr(step) : config_.one_cycle.lr_max;
  const double beta1 = one_cycle ? schedule_.beta1(step) : config_.one_cycle.moms[0];
  if (lazy_adam_) {
    // -lr / (1 - beta1^t) for this round's lr and beta1, shared by all threads' blocks.
    std::vector<float>& neg_step = scratch_[0].neg_step;
    neg_step.assign(1, 0.0f);
    for (int64_t t = 1; std::pow(beta1, static_cast<double>(t)) > kNegligible; ++t) {
      neg_step.push_back(static_cast<float>(-lr / (1.0 - std::pow(beta1, static_cast<double>(t)))));
    }
    for (size_t s = 1; s < scratch_.size(); ++s) scratch_[s].neg_step = neg_step;
  }
  auto blocks = blocks_of_round(B, round_);
  // A distributed rank trains the blocks of its user stripe only.
  blocks.erase(std::remove_if(blocks.begin(), blocks.end(),
                              [this](const auto& block) { return !owns_user_range(block.first); }),
               blocks.end());
  const auto n_blocks = static_cast<int64_t>(blocks.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(static_cast <int>(threads_))
  for (int64_t j = 0; j < n_blocks; ++j) {
    at::globalContext().setFlushDenormal(true);  // moments decay through denormals otherwise
    Scratch* scratch = lazy_adam_ ? &scratch_[static_cast<size_t>(omp_get_thread_num())] : nullptr;
    const auto [a, b] = blocks[static_cast<size_t>(j)];
    const double cpu_start = thread_cpu_seconds();
    train_block(a, b, lr, beta1, scratch);
    block_cpu_seconds_[static_cast<size_t>(a * B + b)] = thread_cpu_seconds() - cpu_start;
  }
  train_cpu_seconds_ += std::accumulate(block_cpu_seconds_.begin(), block_cpu_seconds_.end(), 0.0);
  std::fill(block_cpu_seconds_.begin(), block_cpu_seconds_.end(), 0.0);
  // The pass's last round is followed by assemble_tables(), which leaves every row everywhere.
  if (collective_ && round_ + 1 < B) rotate_items(round_);
  ++round_;
}

RatingMetrics SparseTrainer::evaluate() const {
  const Ratings& v = *valid_;
  RatingMetrics m;
  if (v.size() == 0) return m;
  // Fixed chunks summed in order: the metrics do not depend on the number of threads.
  constexpr int64_t kChunk = 4096;
  const auto n = static_cast<int64_t>(v.size());
  std::vector<ErrorSums> chunks(static_cast<size_t>((n + kChunk - 1) / kChunk));
#pragma omp parallel for schedule(static) num_threads(static_cast <int>(threads_))
  for (int64_t c = 0; c < static_cast<int64_t>(chunks.size()); ++c) {
    const int64_t begin = c * kChunk;
    chunks[static_cast<size_t>(c)] = rating_errors(
        kernel_run(v, begin, std::min(n, begin + kChunk), /*lr=*/0.0f, /*decay=*/1.0f));
  }
  ErrorSums total;
  for (const ErrorSums& c : chunks) {
    total.squared += c.squared;
    total.absolute += c.absolute;
  }
  m.mse = total.squared / static_cast<double>(n);
  m.rmse = std::sqrt(m.mse);
  m.mae = total.absolute / static_cast<double>(n);
  return m;
}

}  // namespace collab
