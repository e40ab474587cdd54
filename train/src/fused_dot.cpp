#include "collab/train/fused_dot.h"

#include <array>
#include <cmath>

#include <ATen/Parallel.h>

#include "collab/models/dot_product.h"
#include "collab/models/dot_product_bias.h"
#include "row_kernels.h"

namespace collab {

namespace {

// Parameter count from which the Adam pass is split across the intra-op threads.
constexpr int64_t kParallelElements = 1 << 20;

FusedDotStep::Table make_table(const torch::Tensor& weight, FastaiAdam& optimizer,
                               int64_t max_batch) {
  FastaiAdam::State& state = optimizer.state_of(weight);
  FusedDotStep::Table t{weight.data_ptr<float>(),
                        state.exp_avg.data_ptr<float>(),
                        state.exp_avg_sq.data_ptr<float>(),
                        &state.step,
                        weight.size(0),
                        weight.size(1),
                        optimizer.decays(weight),
                        {}};
  t.grad.assign(static_cast<size_t>(max_batch * t.dim), 0.0f);
  return t;
}

bool usable(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous();
}

}  // namespace

std::unique_ptr<FusedDotStep> FusedDotStep::create(CollabModelImpl& model, FastaiAdam& optimizer,
                                                   int64_t max_batch) {
  torch::nn::Embedding user_factors{nullptr}, item_factors{nullptr};
  torch::nn::Embedding user_bias{nullptr}, item_bias{nullptr};
  if (auto* dot = dynamic_cast<DotProductImpl*>(&model)) {
    user_factors = dot->user_factors;
    item_factors = dot->item_factors;
  } else if (auto* bias = dynamic_cast<DotProductBiasImpl*>(&model)) {
    user_factors = bias->user_factors;
    item_factors = bias->item_factors;
    user_bias = bias->user_bias;
    item_bias = bias->item_bias;
  } else {
    return nullptr;
  }
  for (const auto& p : model.parameters()) {
    if (!usable(p)) return nullptr;
  }
  for (const auto& state : optimizer.states()) {
    if (!usable(state.exp_avg) || !usable(state.exp_avg_sq)) return nullptr;
  }

  std::unique_ptr<FusedDotStep> fused(new FusedDotStep());
  fused->y_range_ = model.y_range();
  fused->options_ = optimizer.options();
  auto make_side = [&](Side& side, const torch::nn::Embedding& factors,
                       const torch::nn::Embedding& bias) {
    side.factors = make_table(factors->weight, optimizer, max_batch);
    if (bias) side.bias = std::make_unique<Table>(make_table(bias->weight, optimizer, max_batch));
    side.slot_of_row.assign(static_cast<size_t>(side.factors.rows), -1);
    side.touched.reserve(static_cast<size_t>(max_batch));
  };
  make_side(fused->users_, user_factors, user_bias);
  make_side(fused->items_, item_factors, item_bias);
  return fused;
}

double FusedDotStep::forward_backward(const Batch& batch) {
  const int64_t n = batch.y.size(0);
  const int64_t* x = batch.x.data_ptr<int64_t>();
  const float* y = batch.y.data_ptr<float>();
  const int64_t dim = users_.factors.dim;
  const float* U = users_.factors.param;
  const float* I = items_.factors.param;
  const float* bu = users_.bias ? users_.bias->param : nullptr;
  const float* bi = items_.bias ? items_.bias->param : nullptr;
  const float lo = y_range_ ? static_cast<float>(y_range_->lo) : 0.0f;
  const float span = y_range_ ? static_cast<float>(y_range_->hi - y_range_->lo) : 1.0f;
  const float norm = 2.0f / static_cast<float>(n);  // d mean((p - y)^2) / dp = 2 (p - y) / n

  auto slot = [](Side& side, int64_t row) {
    int32_t& s = side.slot_of_row[static_cast<size_t>(row)];
    if (s < 0) {
      s = static_cast<int32_t>(side.touched.size());
      side.touched.push_back(row);
    }
    return s;
  };
  double loss = 0;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t u = x[2 * r], i = x[2 * r + 1];
    const float* ur = U + u * dim;
    const float* ir = I + i * dim;
    float dot = dot_product(ur, ir, dim);
    if (bu) dot += bu[u] + bi[i];
    float pred = dot, dpred_ddot = 1.0f;
    if (y_range_) {
      const float s = 1.0f / (1.0f + std::exp(-dot));
      pred = s * span + lo;
      dpred_ddot = s * (1.0f - s) * span;
    }
    const float err = pred - y[r];
    loss += static_cast<double>(err) * err;
    const float g = norm * err * dpred_ddot;

    const int32_t su = slot(users_, u), si = slot(items_, i);
    float* gu = users_.factors.grad.data() + su * dim;
    float* gi = items_.factors.grad.data() + si * dim;
    accumulate_pair(gu, gi, ur, ir, g, dim);
    if (bu) {
      users_.bias->grad[static_cast<size_t>(su)] += g;
      items_.bias->grad[static_cast<size_t>(si)] += g;
    }
  }
  return loss / static_cast<double>(n);
}

AdamScalars FusedDotStep::advance(Table& table, double lr, double beta1) const {
  return adam_scalars(options_, table.decay, lr, beta1, ++*table.step);
}

void FusedDotStep::adam_rows(const Table& table, const Side& side, const AdamScalars& s,
                             int64_t begin, int64_t end) {
  adam_table_rows(table.param, table.exp_avg, table.exp_avg_sq, table.dim, side.slot_of_row.data(),
                  table.grad.data(), begin, end, s);
}

void FusedDotStep::adam_update(double lr, double beta1) {
  struct Work {
    const Table* table;
    const Side* side;
    AdamScalars scalars;
  };
  std::array<Work, 4> work;
  size_t n_work = 0;
  for (Side* side : {&users_, &items_}) {
    work[n_work++] = {&side->factors, side, advance(side->factors, lr, beta1)};
    if (side->bias) work[n_work++] = {side->bias.get(), side, advance(*side->bias, lr, beta1)};
  }
  // One parallel region per step, not one per table: each thread takes the same share of every
  // table. Tables of MovieLens 100k's size (~134k parameters) stay on one thread: there a region's
  // fork and barrier cost about what the second thread saves, and when other processes share
  // the cores a spinning barrier made a 1 s job take 80 s.
  int64_t elements = 0;
  for (size_t w = 0; w < n_work; ++w) elements += work[w].table->rows * work[w].table->dim;
  const int64_t n_threads = elements < kParallelElements ? 1 : at::get_num_threads();
  auto update_share = [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      for (size_t w = 0; w < n_work; ++w) {
        const int64_t rows = work[w].table->rows;
        adam_rows(*work[w].table, *work[w].side, work[w].scalars, rows * t / n_threads,
                  rows * (t + 1) / n_threads);
      }
    }
  };
  if (n_threads == 1) {
    update_share(0, 1);
  } else {
    at::parallel_for(0, n_threads, /*grain_size=*/1, update_share);
  }
}

void FusedDotStep::clear_gradients(Side& side) {
  const size_t used = side.touched.size();
  std::fill_n(side.factors.grad.begin(), used * static_cast<size_t>(side.factors.dim), 0.0f);
  if (side.bias) std::fill_n(side.bias->grad.begin(), used, 0.0f);
  for (const int64_t row : side.touched) side.slot_of_row[static_cast<size_t>(row)] = -1;
  side.touched.clear();
}

double FusedDotStep::step(const Batch& batch, double lr, double beta1) {
  const double loss = forward_backward(batch);
  adam_update(lr, beta1);
  clear_gradients(users_);
  clear_gradients(items_);
  return loss;
}

}  // namespace collab
