#include "collab/train/fused_dot.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <ATen/Parallel.h>

#include "adam_table.h"
#include "collab/train/step_pool.h"
#include "deferred_rows.h"
#include "row_kernels.h"
#include "touched_rows.h"

namespace collab {

// The users' or the items' tables: a factor table and optionally a bias table, sharing the map
// from a touched row to its slot in their gradient buffers, and the factor table's deferred
// steps when it defers (a bias, 1 wide, never does: the dense pass sweeps it 16 rows a vector).
struct FusedDotStep::Side {
  AdamTable factors;
  std::unique_ptr<AdamTable> bias;  // null for DotProduct
  bool defers;                      // whether the factors' untouched rows take their steps late
  TouchedRows touched;
  DeferredRows deferred;  // used when the factors defer

  Side(AdamTable factors_, std::unique_ptr<AdamTable> bias_, bool defers_, int64_t max_batch)
      : factors(std::move(factors_)), bias(std::move(bias_)), defers(defers_) {
    touched.reset(factors.rows, max_batch);
    deferred.reset(factors.rows, max_batch);
  }

  // Row `row`'s gradient slot in this batch; its first use brings it up to date before it is
  // read.
  int32_t slot(int64_t row) {
    return touched.slot(row, [&] { deferred.catch_up(factors, row); });
  }

  // Zeroes the gradient rows the batch used (a deferred table's were zeroed by the threads that
  // applied them) and forgets its rows.
  void clear_gradients() {
    if (!defers) factors.clear_grad(touched.size());
    if (bias) bias->clear_grad(touched.size());
    touched.clear();
  }
};

namespace {

// Parameter count from which the step's pool pass and flush() are split across threads: below
// it, a handoff (~1 us) costs more than half the work saves.
constexpr int64_t kParallelElements = 1 << 14;
// Chunks the pool passes hand out: enough that a thread whose partner is descheduled can take
// over most of its share.
constexpr int64_t kChunks = 32;
// Tables at least this wide may defer untouched rows' steps: factor tables, never the biases.
constexpr int64_t kDeferredMinWidth = 8;
// kRowLookahead (row_kernels.h) into L2 only, for rows that come from the other core.
constexpr int64_t kFarLookahead = 64;

// The rows in slots [first, last) of `touched` take step `s` of a deferred table with their
// gradient rows, which are then zeroed: here, on the thread that read them, not on the caller.
void update_touched_rows(AdamTable& t, const TouchedRows& touched, int64_t first, int64_t last,
                         const AdamScalars& s) {
  // The rows and their gradients (a few), asked for all at once: the forward pass read the rows
  // and wrote the gradients, on the caller's core.
  const int64_t bytes = t.dim * static_cast<int64_t>(sizeof(float));
  for (int64_t k = first; k < last; ++k) {
    t.prefetch_row_state(touched.rows()[static_cast<size_t>(k)]);
    prefetch_row</*for_writing=*/true>(t.grad.data() + k * t.dim, bytes);
  }
  for (int64_t k = first; k < last; ++k) {
    float* grad = t.grad.data() + k * t.dim;
    t.update_row(touched.rows()[static_cast<size_t>(k)], grad, s);
    std::fill_n(grad, t.dim, 0.0f);
  }
}

}  // namespace

FusedDotStep::FusedDotStep() = default;

std::unique_ptr<FusedDotStep> FusedDotStep::create(CollabModelImpl& model, FastaiAdam& optimizer,
                                                   int64_t max_batch, int64_t deferred_from) {
  const std::optional<DotTables> tables = model.dot_tables();
  if (!tables) return nullptr;
  if (!fused_step_can_use_all(model, optimizer)) return nullptr;

  std::unique_ptr<FusedDotStep> fused(new FusedDotStep());
  fused->output_range_ = OutputRange(model.y_range());
  fused->options_ = optimizer.options();
  auto make_side = [&](const torch::nn::Embedding& factors, const torch::nn::Embedding& bias) {
    const torch::Tensor& w = factors->weight;
    const bool defers = w.size(1) >= kDeferredMinWidth && w.numel() >= deferred_from;
    return std::make_unique<Side>(
        AdamTable(w, optimizer, max_batch),
        bias ? std::make_unique<AdamTable>(bias->weight, optimizer, max_batch) : nullptr, defers,
        max_batch);
  };
  fused->users_ = make_side(tables->user_factors, tables->user_bias);
  fused->items_ = make_side(tables->item_factors, tables->item_bias);
  int64_t elements = 0;
  for (const auto& p : model.parameters()) elements += p.numel();
  fused->pool_ =
      std::make_unique<StepPool>(elements < kParallelElements ? 1 : at::get_num_threads());
  return fused;
}

FusedDotStep::~FusedDotStep() {
  flush();  // the parameters outlive this step
}

Prediction FusedDotStep::predict_one(int64_t u, int64_t i) const {
  const int64_t dim = users_->factors.dim;
  float dot = dot_product(users_->factors.param + u * dim, items_->factors.param + i * dim, dim);
  if (users_->bias) dot += users_->bias->param[u] + items_->bias->param[i];
  return output_range_.apply(dot);
}

std::optional<torch::Tensor> FusedDotStep::predict(const torch::Tensor& x) {
  const torch::Tensor pairs = x.to(torch::kLong).contiguous();
  const int64_t n = pairs.size(0);
  torch::Tensor out = torch::empty({n}, torch::kFloat);
  const int64_t* xs = pairs.data_ptr<int64_t>();
  float* o = out.data_ptr<float>();
  for (int64_t r = 0; r < n; ++r) o[r] = predict_one(xs[2 * r], xs[2 * r + 1]).value;
  return out;
}

double FusedDotStep::forward_backward(const BatchSpan& batch, int64_t normaliser) {
  const int64_t n = batch.size;
  const int64_t* x = batch.x;
  const float* y = batch.y;
  Side& users = *users_;
  Side& items = *items_;
  const int64_t dim = users.factors.dim;
  const float* U = users.factors.param;
  const float* I = items.factors.param;
  // d mean((p - y)^2) / dp = 2 (p - y) / n
  const float norm = 2.0f / static_cast<float>(normaliser);

  // The rows were last written by whichever thread updated them: ask for them kRowLookahead
  // ratings ahead, so that their transfers overlap instead of each dot product waiting for its
  // own (and, in a large batch, without evicting rows before their turn).
  const int64_t row_bytes = dim * static_cast<int64_t>(sizeof(float));
  auto prefetch_rating = [&](int64_t r) __attribute__((always_inline)) {  // see COLLAB_PREFETCH
    prefetch_row</*for_writing=*/false>(U + x[2 * r] * dim, row_bytes);
    prefetch_row</*for_writing=*/false>(I + x[2 * r + 1] * dim, row_bytes);
  };
  // With two threads the item rows were last written on the other core (adam_update): they
  // are also asked into this core's L2 further ahead, whose queue holds more transfers than
  // L1's (a bs-64 batch's at once).
  auto prefetch_item_to_l2 = [&](int64_t r) __attribute__((always_inline)) {
    prefetch_row</*for_writing=*/false, /*locality=*/2>(I + x[2 * r + 1] * dim, row_bytes);
  };
  for (int64_t r = 0; r < std::min(n, kFarLookahead); ++r) prefetch_item_to_l2(r);
  for (int64_t r = 0; r < std::min(n, kRowLookahead); ++r) prefetch_rating(r);
  double loss = 0;
  for (int64_t r = 0; r < n; ++r) {
    if (r + kFarLookahead < n) prefetch_item_to_l2(r + kFarLookahead);
    if (r + kRowLookahead < n) prefetch_rating(r + kRowLookahead);
    const int64_t u = x[2 * r], i = x[2 * r + 1];
    const int32_t su = users.slot(u), si = items.slot(i);
    const Prediction pred = predict_one(u, i);
    const float err = pred.value - y[r];
    loss += static_cast<double>(err) * err;
    const float g = norm * err * pred.slope;

    accumulate_pair(users.factors.grad.data() + su * dim, items.factors.grad.data() + si * dim,
                    U + u * dim, I + i * dim, g, dim);
    if (users.bias) {
      users.bias->grad[static_cast<size_t>(su)] += g;
      items.bias->grad[static_cast<size_t>(si)] += g;
    }
  }
  return loss / static_cast<double>(normaliser);
}

void FusedDotStep::adam_update(double lr, double beta1) {
  // This step's scalars per table; the deferred tables add them to their history.
  struct Work {
    Side* side;
    AdamTable* table;
    AdamScalars scalars;
  };
  std::array<Work, 4> dense_work, deferred_work;
  size_t n_dense = 0, n_deferred = 0;
  for (Side* side : {users_.get(), items_.get()}) {
    for (AdamTable* table : {&side->factors, side->bias.get()}) {
      if (table == nullptr) continue;
      const AdamScalars s = table->next_step(options_, lr, beta1);
      if (table == &side->factors && side->defers) {
        side->deferred.add_step(s);
        deferred_work[n_deferred++] = {side, table, s};
      } else {
        dense_work[n_dense++] = {side, table, s};
      }
    }
  }
  // One pass over the pool. The users' tables take the first half of the chunks, the items'
  // the second; in its side, chunk c brings a share of the upcoming batch's rows (prepare()) up
  // to date, this step included; it takes the same slice of every dense table at every step;
  // and a share of the deferred tables' touched rows take this step with their gradient (they
  // were caught up before the forward pass), which it then clears. The pool gives each thread
  // the same chunks on an idle machine: with two threads, the users' rows stay in the caller's
  // core and the items' in the worker's from step to step, and only the forward pass reads
  // across (measured: 10-13% faster an epoch than interleaving both sides over all chunks).
  // Every element is updated once, independently: the result does not depend on the threads.
  users_->deferred.list_upcoming(upcoming_, 0, users_->touched);
  items_->deferred.list_upcoming(upcoming_, 1, items_->touched);
  upcoming_ = {nullptr, nullptr, 0};
  constexpr int64_t kHalf = kChunks / 2;
  auto update_chunk = [&](int64_t c) {
    Side* side = c < kHalf ? users_.get() : items_.get();
    const int64_t part = c % kHalf;
    // Items [total * part / kHalf, total * (part + 1) / kHalf): this chunk's share of `total`.
    auto share_begin = [&](auto total) { return static_cast<int64_t>(total) * part / kHalf; };
    auto share_end = [&](auto total) { return static_cast<int64_t>(total) * (part + 1) / kHalf; };
    side->deferred.catch_up_listed(side->factors, share_begin(side->deferred.listed()),
                                   share_end(side->deferred.listed()));
    for (size_t w = 0; w < n_dense; ++w) {
      if (dense_work[w].side != side) continue;
      AdamTable& t = *dense_work[w].table;
      adam_table_rows(t.param, t.exp_avg, t.exp_avg_root.data(), t.dim, side->touched.slot_of_row(),
                      t.grad.data(), share_begin(t.rows), share_end(t.rows), dense_work[w].scalars);
    }
    for (size_t w = 0; w < n_deferred; ++w) {
      if (deferred_work[w].side != side) continue;
      update_touched_rows(*deferred_work[w].table, side->touched, share_begin(side->touched.size()),
                          share_end(side->touched.size()), deferred_work[w].scalars);
    }
  };
  pool_->run(update_chunk, kChunks);
  for (Side* side : {users_.get(), items_.get()})
    side->deferred.mark_caught_up(side->touched.rows());
  if (users_->deferred.full() || items_->deferred.full()) catch_up_all();
}

void FusedDotStep::flush() {
  if (!users_) return;  // create() gave up before the tables were made
  catch_up_all();
  for (Side* side : {users_.get(), items_.get()}) {
    side->factors.exp_avg_root.write_back();
    if (side->bias) side->bias->exp_avg_root.write_back();
  }
}

void FusedDotStep::catch_up_all() {
  for (Side* side : {users_.get(), items_.get()}) {
    if (side->deferred.empty()) continue;
    const int64_t rows = side->factors.rows;
    auto catch_up_chunk = [&](int64_t c) {
      side->deferred.catch_up_rows(side->factors, rows * c / kChunks, rows * (c + 1) / kChunks);
    };
    pool_->run(catch_up_chunk, kChunks);
    side->deferred.restart();
  }
}

bool FusedDotStep::runs_own_threads() const {
  return pool_->threads() > 1;
}

void FusedDotStep::prepare(const BatchSpan& next) {
  upcoming_ = next;
}

double FusedDotStep::step(const BatchSpan& batch, double lr, double beta1) {
  const double loss = forward_backward(batch, batch.size);
  adam_update(lr, beta1);
  users_->clear_gradients();
  items_->clear_gradients();
  return loss;
}

double FusedDotStep::step_slice(const BatchSpan& batch, const StepSlice& slice, double lr,
                                double beta1) {
  for (int64_t r = 0; r < batch.size; ++r) {
    users_->slot(batch.x[2 * r]);
    items_->slot(batch.x[2 * r + 1]);
  }
  const BatchSpan part{batch.x + 2 * slice.begin, batch.y + slice.begin, slice.end - slice.begin};
  const double loss = forward_backward(part, batch.size);
  // The touched rows' gradient slots of every table, and the loss, as views summed in place.
  std::vector<torch::Tensor> reduced;
  for (Side* side : {users_.get(), items_.get()}) {
    const int64_t rows = side->touched.size();
    for (AdamTable* table : {&side->factors, side->bias.get()}) {
      if (table != nullptr) {
        reduced.push_back(torch::from_blob(table->grad.data(), {rows * table->dim}, torch::kFloat));
      }
    }
  }
  reduced.push_back(torch::full({1}, static_cast<float>(loss), torch::kFloat));
  slice.sum(reduced);
  const double global_loss = reduced.back().item<float>();
  adam_update(lr, beta1);
  users_->clear_gradients();
  items_->clear_gradients();
  return global_loss;
}

}  // namespace collab
