#include "collab/train/fused_dot.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <ATen/Parallel.h>

#include "collab/train/step_pool.h"
#include "row_kernels.h"

namespace collab {

namespace {

// Parameter count from which the step's pool pass and flush() are split across threads: below
// it, a handoff (~1 us) costs more than half the work saves.
constexpr int64_t kParallelElements = 1 << 14;
// Chunks the pool passes hand out: enough that a thread whose partner is descheduled can take
// over most of its share.
constexpr int64_t kChunks = 32;
// Tables at least this wide may defer untouched rows' steps: factor tables, never the biases
// (1 wide), which the dense pass sweeps 16 rows a vector.
constexpr int64_t kDeferredMinWidth = 8;
// How far ahead of its use a row is prefetched: enough for the transfers to overlap, few
// enough that a large batch's rows are not evicted before their turn.
constexpr int64_t kLookahead = 16;
// The same into L2 only, for rows that come from the other core.
constexpr int64_t kFarLookahead = 64;

// Asks for the cache lines of a row of `bytes` bytes, to read or to write, into every level of
// cache (locality 3) or only as far as L2 (2).
template <bool for_writing, int locality = 3>
void prefetch_row(const float* row, int64_t bytes) {
  const char* start = reinterpret_cast<const char*>(row);
  for (int64_t b = 0; b < bytes + 63; b += 64) {
    __builtin_prefetch(start + std::min(b, bytes - 1), for_writing ? 1 : 0, locality);
  }
}

// Asks for row `row` of a table and its two moments, to write them.
void prefetch_state(const FusedDotStep::Table& t, int64_t row) {
  const int64_t offset = row * t.dim;
  const int64_t bytes = t.dim * static_cast<int64_t>(sizeof(float));
  prefetch_row</*for_writing=*/true>(t.param + offset, bytes);
  prefetch_row</*for_writing=*/true>(t.exp_avg + offset, bytes);
  prefetch_row</*for_writing=*/true>(t.exp_avg_root.data() + offset, bytes);
}

// Steps kept for rows not touched since; a full history is flushed, which bounds its memory.
constexpr size_t kMaxHistory = 4096;

FusedDotStep::Table make_table(const torch::Tensor& weight, FastaiAdam& optimizer,
                               int64_t max_batch, int64_t deferred_from) {
  FastaiAdam::State& state = optimizer.state_of(weight);
  FusedDotStep::Table t{
      weight.data_ptr<float>(),
      state.exp_avg.data_ptr<float>(),
      SecondMomentRoot(state.exp_avg_sq),
      &state.step,
      weight.size(0),
      weight.size(1),
      optimizer.decays(weight),
      {},
      /*deferred=*/weight.size(1) >= kDeferredMinWidth && weight.numel() >= deferred_from,
      {}};
  t.grad.assign(static_cast<size_t>(max_batch * t.dim), 0.0f);
  return t;
}

}  // namespace

std::unique_ptr<FusedDotStep> FusedDotStep::create(CollabModelImpl& model, FastaiAdam& optimizer,
                                                   int64_t max_batch, int64_t deferred_from) {
  const std::optional<DotTables> tables = model.dot_tables();
  if (!tables) return nullptr;
  const torch::nn::Embedding user_factors = tables->user_factors;
  const torch::nn::Embedding item_factors = tables->item_factors;
  const torch::nn::Embedding user_bias = tables->user_bias;
  const torch::nn::Embedding item_bias = tables->item_bias;
  for (const auto& p : model.parameters()) {
    if (!fused_step_can_use(p)) return nullptr;
  }
  for (const auto& state : optimizer.states()) {
    if (!fused_step_can_use(state.exp_avg) || !fused_step_can_use(state.exp_avg_sq)) return nullptr;
  }

  std::unique_ptr<FusedDotStep> fused(new FusedDotStep());
  fused->y_range_ = model.y_range();
  fused->options_ = optimizer.options();
  auto make_side = [&](Side& side, const torch::nn::Embedding& factors,
                       const torch::nn::Embedding& bias) {
    side.factors = make_table(factors->weight, optimizer, max_batch, deferred_from);
    if (bias) {
      side.bias =
          std::make_unique<Table>(make_table(bias->weight, optimizer, max_batch, deferred_from));
    }
    side.slot_of_row.assign(static_cast<size_t>(side.factors.rows), -1);
    side.touched.reserve(static_cast<size_t>(max_batch));
    side.pending.reserve(static_cast<size_t>(max_batch));
    side.listed_by.assign(static_cast<size_t>(side.factors.rows), -1);
    side.applied.assign(static_cast<size_t>(side.factors.rows), 0);
    side.factors.history.reserve(kMaxHistory);
  };
  make_side(fused->users_, user_factors, user_bias);
  make_side(fused->items_, item_factors, item_bias);
  int64_t elements = 0;
  for (const auto& p : model.parameters()) elements += p.numel();
  fused->pool_ =
      std::make_unique<StepPool>(elements < kParallelElements ? 1 : at::get_num_threads());
  return fused;
}

FusedDotStep::~FusedDotStep() {
  flush();  // the parameters outlive this step
}

float FusedDotStep::predict_one(int64_t u, int64_t i, float* dpred_ddot) const {
  const int64_t dim = users_.factors.dim;
  float dot = dot_product(users_.factors.param + u * dim, items_.factors.param + i * dim, dim);
  if (users_.bias) dot += users_.bias->param[u] + items_.bias->param[i];
  if (!y_range_) {
    *dpred_ddot = 1.0f;
    return dot;
  }
  const auto lo = static_cast<float>(y_range_->lo);
  const auto span = static_cast<float>(y_range_->hi - y_range_->lo);
  const float s = 1.0f / (1.0f + std::exp(-dot));
  *dpred_ddot = s * (1.0f - s) * span;
  return s * span + lo;
}

std::optional<torch::Tensor> FusedDotStep::predict(const torch::Tensor& x) {
  const torch::Tensor pairs = x.to(torch::kLong).contiguous();
  const int64_t n = pairs.size(0);
  torch::Tensor out = torch::empty({n}, torch::kFloat);
  const int64_t* xs = pairs.data_ptr<int64_t>();
  float* o = out.data_ptr<float>();
  float unused = 0;
  for (int64_t r = 0; r < n; ++r) o[r] = predict_one(xs[2 * r], xs[2 * r + 1], &unused);
  return out;
}

double FusedDotStep::forward_backward(const BatchSpan& batch) {
  const int64_t n = batch.size;
  const int64_t* x = batch.x;
  const float* y = batch.y;
  const int64_t dim = users_.factors.dim;
  const float* U = users_.factors.param;
  const float* I = items_.factors.param;
  const float norm = 2.0f / static_cast<float>(n);  // d mean((p - y)^2) / dp = 2 (p - y) / n

  // A row's first use in the batch brings it up to date before it is read.
  auto slot = [](Side& side, int64_t row) {
    int32_t& s = side.slot_of_row[static_cast<size_t>(row)];
    if (s < 0) {
      s = static_cast<int32_t>(side.touched.size());
      side.touched.push_back(row);
      catch_up(side, row);
    }
    return s;
  };
  // The rows were last written by whichever thread updated them: ask for them kLookahead
  // ratings ahead, so that their transfers overlap instead of each dot product waiting for its
  // own (and, in a large batch, without evicting rows before their turn).
  const int64_t row_bytes = dim * static_cast<int64_t>(sizeof(float));
  auto prefetch_rating = [&](int64_t r) {
    prefetch_row</*for_writing=*/false>(U + x[2 * r] * dim, row_bytes);
    prefetch_row</*for_writing=*/false>(I + x[2 * r + 1] * dim, row_bytes);
  };
  // With two threads the item rows were last written on the other core (adam_update): they
  // are also asked into this core's L2 further ahead, whose queue holds more transfers than
  // L1's (a bs-64 batch's at once).
  auto prefetch_item_to_l2 = [&](int64_t r) {
    prefetch_row</*for_writing=*/false, /*locality=*/2>(I + x[2 * r + 1] * dim, row_bytes);
  };
  for (int64_t r = 0; r < std::min(n, kFarLookahead); ++r) prefetch_item_to_l2(r);
  for (int64_t r = 0; r < std::min(n, kLookahead); ++r) prefetch_rating(r);
  double loss = 0;
  for (int64_t r = 0; r < n; ++r) {
    if (r + kFarLookahead < n) prefetch_item_to_l2(r + kFarLookahead);
    if (r + kLookahead < n) prefetch_rating(r + kLookahead);
    const int64_t u = x[2 * r], i = x[2 * r + 1];
    const int32_t su = slot(users_, u), si = slot(items_, i);
    const float* ur = U + u * dim;
    const float* ir = I + i * dim;
    float dpred_ddot = 1.0f;
    const float err = predict_one(u, i, &dpred_ddot) - y[r];
    loss += static_cast<double>(err) * err;
    const float g = norm * err * dpred_ddot;

    float* gu = users_.factors.grad.data() + su * dim;
    float* gi = items_.factors.grad.data() + si * dim;
    accumulate_pair(gu, gi, ur, ir, g, dim);
    if (users_.bias) {
      users_.bias->grad[static_cast<size_t>(su)] += g;
      items_.bias->grad[static_cast<size_t>(si)] += g;
    }
  }
  return loss / static_cast<double>(n);
}

AdamScalars FusedDotStep::advance(Table& table, double lr, double beta1) const {
  return adam_scalars(options_, table.decay, lr, beta1, ++*table.step);
}

void FusedDotStep::catch_up(Side& side, int64_t row) {
  int32_t& applied = side.applied[static_cast<size_t>(row)];
  const auto taken = static_cast<size_t>(applied);
  Table& t = side.factors;  // the only table that defers (a bias is 1 wide)
  const size_t total = t.history.size();
  if (taken == total) return;
  const int64_t offset = row * t.dim;
  adam_replay_without_grad(t.param + offset, t.exp_avg + offset, t.exp_avg_root.data() + offset,
                           t.dim, t.history.data() + taken, static_cast<int64_t>(total - taken));
  applied = static_cast<int32_t>(total);
}

void FusedDotStep::adam_update(double lr, double beta1) {
  struct Work {
    Table* table;
    const Side* side;
    AdamScalars scalars;
  };
  std::array<Work, 4> dense, deferred;
  size_t n_dense = 0, n_deferred = 0;
  for (Side* side : {&users_, &items_}) {
    for (Table* table : {&side->factors, side->bias.get()}) {
      if (table == nullptr) continue;
      const AdamScalars s = advance(*table, lr, beta1);
      if (table->deferred) {
        table->history.push_back(s);
        deferred[n_deferred++] = {table, side, s};
      } else {
        dense[n_dense++] = {table, side, s};
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
  list_upcoming_rows();
  constexpr int64_t kHalf = kChunks / 2;
  auto update_chunk = [&](int64_t c) {
    Side* side = c < kHalf ? &users_ : &items_;
    const int64_t part = c % kHalf;
    const auto pending = static_cast<int64_t>(side->pending.size());
    catch_up_upcoming(*side, pending * part / kHalf, pending * (part + 1) / kHalf);
    for (size_t w = 0; w < n_dense; ++w) {
      if (dense[w].side != side) continue;
      const Table& t = *dense[w].table;
      adam_table_rows(t.param, t.exp_avg, t.exp_avg_root.data(), t.dim,
                      dense[w].side->slot_of_row.data(), t.grad.data(), t.rows * part / kHalf,
                      t.rows * (part + 1) / kHalf, dense[w].scalars);
    }
    for (size_t w = 0; w < n_deferred; ++w) {
      if (deferred[w].side != side) continue;
      Table& t = *deferred[w].table;
      const auto touched = static_cast<int64_t>(side->touched.size());
      // This chunk's rows and gradients (a few), asked for all at once: the forward pass read
      // the rows and wrote the gradients, on the caller's core.
      const int64_t bytes = t.dim * static_cast<int64_t>(sizeof(float));
      for (int64_t k = touched * part / kHalf; k < touched * (part + 1) / kHalf; ++k) {
        prefetch_state(t, side->touched[static_cast<size_t>(k)]);
        prefetch_row</*for_writing=*/true>(t.grad.data() + k * t.dim, bytes);
      }
      for (int64_t k = touched * part / kHalf; k < touched * (part + 1) / kHalf; ++k) {
        const int64_t offset = side->touched[static_cast<size_t>(k)] * t.dim;
        float* grad = t.grad.data() + k * t.dim;
        adam_rows_with_grad(t.param + offset, t.exp_avg + offset, t.exp_avg_root.data() + offset,
                            grad, t.dim, deferred[w].scalars);
        std::fill_n(grad, t.dim, 0.0f);  // here, where it was read, not on the caller
      }
    }
  };
  pool_->run(update_chunk, kChunks);
  for (Side* side : {&users_, &items_}) {
    // Touched rows have now taken every step of the history.
    const auto taken = static_cast<int32_t>(side->factors.history.size());
    for (const int64_t row : side->touched) side->applied[static_cast<size_t>(row)] = taken;
  }
  if (users_.factors.history.size() >= kMaxHistory || items_.factors.history.size() >= kMaxHistory)
    catch_up_all();
}

void FusedDotStep::flush() {
  catch_up_all();
  for (Side* side : {&users_, &items_}) {
    side->factors.exp_avg_root.write_back();
    if (side->bias) side->bias->exp_avg_root.write_back();
  }
}

void FusedDotStep::catch_up_all() {
  for (Side* side : {&users_, &items_}) {
    if (side->factors.history.empty()) continue;
    const int64_t rows = side->factors.rows;
    // Rows are independent, and each takes its steps in order whatever thread runs it.
    auto catch_up_chunk = [&](int64_t c) {
      for (int64_t row = rows * c / kChunks; row < rows * (c + 1) / kChunks; ++row) {
        catch_up(*side, row);
      }
    };
    pool_->run(catch_up_chunk, kChunks);
    side->factors.history.clear();
    std::fill(side->applied.begin(), side->applied.end(), 0);
  }
}

bool FusedDotStep::runs_own_threads() const {
  return pool_->threads() > 1;
}

void FusedDotStep::prepare(const BatchSpan& next) {
  upcoming_ = next;
}

void FusedDotStep::list_upcoming_rows() {
  for (Side* side : {&users_, &items_}) side->pending.clear();
  if (upcoming_.x == nullptr) return;
  const int64_t n = upcoming_.size;
  const int64_t* x = upcoming_.x;
  const int64_t call = prepare_calls_++;
  for (int column = 0; column < 2; ++column) {
    Side& side = column == 0 ? users_ : items_;
    const auto total = static_cast<int32_t>(side.factors.history.size());
    if (total == 0) continue;
    for (int64_t r = 0; r < n; ++r) {
      const auto row = static_cast<size_t>(x[2 * r + column]);
      // Rows this step touches take it with their gradient; the others once each.
      if (side.listed_by[row] == call || side.slot_of_row[row] >= 0 || side.applied[row] == total)
        continue;
      side.listed_by[row] = call;
      side.pending.push_back(static_cast<int64_t>(row));
    }
  }
  upcoming_ = {nullptr, nullptr, 0};
}

void FusedDotStep::catch_up_upcoming(Side& side, int64_t first, int64_t last) {
  // The rows and their moments, asked for kLookahead rows ahead: a short replay waits on its
  // loads.
  auto prefetch = [&](int64_t k) {
    prefetch_state(side.factors, side.pending[static_cast<size_t>(k)]);
  };
  for (int64_t k = first; k < std::min(last, first + kLookahead); ++k) prefetch(k);
  for (int64_t k = first; k < last; ++k) {
    if (k + kLookahead < last) prefetch(k + kLookahead);
    catch_up(side, side.pending[static_cast<size_t>(k)]);
  }
}

void FusedDotStep::clear_gradients(Side& side) {
  const size_t used = side.touched.size();
  // A deferred table's gradient rows were cleared by the threads that applied them.
  if (!side.factors.deferred)
    std::fill_n(side.factors.grad.begin(), used * static_cast<size_t>(side.factors.dim), 0.0f);
  if (side.bias) std::fill_n(side.bias->grad.begin(), used, 0.0f);
  for (const int64_t row : side.touched) side.slot_of_row[static_cast<size_t>(row)] = -1;
  side.touched.clear();
}

double FusedDotStep::step(const BatchSpan& batch, double lr, double beta1) {
  const double loss = forward_backward(batch);
  adam_update(lr, beta1);
  clear_gradients(users_);
  clear_gradients(items_);
  return loss;
}

}  // namespace collab
