#include "collab/train/fused_dot.h"

#include <array>
#include <cfloat>
#include <cmath>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include <ATen/Parallel.h>

#include "collab/models/dot_product.h"
#include "collab/models/dot_product_bias.h"
#include "collab/train/step_pool.h"

// The Adam pass is bound by arithmetic (sqrt, divide) over tables that sit in L2: build it for
// AVX2/FMA machines too, picked at load time, while the binary still runs on any x86-64.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define COLLAB_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define COLLAB_MULTIVERSION
#endif

namespace collab {

namespace {

// Parameter count from which the Adam pass is split across threads: below it, a handoff (~1 us)
// costs more than half the pass saves.
constexpr int64_t kParallelElements = 1 << 14;
// Chunks of the Adam pass, whatever the threads: enough that a thread whose partner is
// descheduled can take over most of its share. The count is fixed because a chunk boundary
// splits a run of rows, and the vector kernels treat a run's last few elements apart (scalar
// sqrt and divide for the tail): fixed boundaries keep results independent of the threads.
constexpr int64_t kChunks = 32;

// Eight independent partial sums, so the loop vectorises instead of waiting on one chain of
// additions (the summation order differs from ATen's by float rounding only).
COLLAB_MULTIVERSION float dot_product(const float* __restrict a, const float* __restrict b,
                                      int64_t n) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    for (int lane = 0; lane < 8; ++lane) partial[lane] += a[k + lane] * b[k + lane];
  }
  float sum = 0;
  for (; k < n; ++k) sum += a[k] * b[k];
  for (int lane = 0; lane < 8; ++lane) sum += partial[lane];
  return sum;
}

// grad_a += g * b and grad_b += g * a: one rating's contribution to its two factor rows.
COLLAB_MULTIVERSION void accumulate_pair(float* __restrict grad_a, float* __restrict grad_b,
                                         const float* __restrict a, const float* __restrict b,
                                         float g, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    grad_a[k] += g * b[k];
    grad_b[k] += g * a[k];
  }
}

// Rows the batch did not touch: their gradient is zero.
COLLAB_MULTIVERSION void adam_rows_without_grad_portable(float* __restrict p, float* __restrict m,
                                                         float* __restrict v, int64_t n,
                                                         const AdamScalars s) {
  for (int64_t k = 0; k < n; ++k) {
    const float pk = p[k] * s.decay;
    const float mk = m[k] * s.beta1;
    const float vk = v[k] * s.beta2;
    m[k] = mk;
    v[k] = vk;
    p[k] = pk + s.neg_step_size * (mk / (std::sqrt(vk * s.inv_debias2) + s.eps));
  }
}

COLLAB_MULTIVERSION void adam_rows_with_grad_portable(float* __restrict p, float* __restrict m,
                                                      float* __restrict v,
                                                      const float* __restrict g, int64_t n,
                                                      const AdamScalars s) {
  for (int64_t k = 0; k < n; ++k) {
    const float pk = p[k] * s.decay;
    const float mk = m[k] * s.beta1 + g[k] * s.one_minus_beta1;
    const float vk = v[k] * s.beta2 + g[k] * g[k] * s.one_minus_beta2;
    m[k] = mk;
    v[k] = vk;
    p[k] = pk + s.neg_step_size * (mk / (std::sqrt(vk * s.inv_debias2) + s.eps));
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
#define COLLAB_AVX2_ADAM 1

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

// 1 / (sqrt(x) + eps) in 8 lanes. The dense pass spends most of its time in float's sqrt and
// divide (~11 cycles per 8 lanes between them); the approximate reciprocal square root and
// reciprocal (12 bits each), refined by one Newton step each, take ~5 and agree with them to
// ~3e-7 relative: well inside the 1e-5 the autograd reference is held to. Below FLT_MIN (zero,
// or a denormal flushed to zero) sqrt(x) is taken as 0, as rsqrt(0) is inf and 0 * inf NaN.
__attribute__((target("avx2,fma"))) inline __m256 inv_sqrt_plus_eps(__m256 x, __m256 eps) {
  __m256 r = _mm256_rsqrt_ps(x);
  const __m256 half_x_r = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), r);
  r = _mm256_mul_ps(r, _mm256_fnmadd_ps(half_x_r, r, _mm256_set1_ps(1.5f)));  // r (1.5 - x r^2 / 2)
  const __m256 normal = _mm256_cmp_ps(x, _mm256_set1_ps(FLT_MIN), _CMP_GE_OQ);
  const __m256 d = _mm256_add_ps(_mm256_and_ps(_mm256_mul_ps(x, r), normal), eps);
  const __m256 q = _mm256_rcp_ps(d);
  return _mm256_mul_ps(q, _mm256_fnmadd_ps(d, q, _mm256_set1_ps(2.0f)));  // q (2 - d q)
}

__attribute__((target("avx2,fma"))) void adam_rows_without_grad_avx2(float* __restrict p,
                                                                     float* __restrict m,
                                                                     float* __restrict v, int64_t n,
                                                                     const AdamScalars s) {
  const __m256 decay = _mm256_set1_ps(s.decay), beta1 = _mm256_set1_ps(s.beta1),
               beta2 = _mm256_set1_ps(s.beta2), inv_debias2 = _mm256_set1_ps(s.inv_debias2),
               neg_step = _mm256_set1_ps(s.neg_step_size), eps = _mm256_set1_ps(s.eps);
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 mk = _mm256_mul_ps(_mm256_loadu_ps(m + k), beta1);
    const __m256 vk = _mm256_mul_ps(_mm256_loadu_ps(v + k), beta2);
    _mm256_storeu_ps(m + k, mk);
    _mm256_storeu_ps(v + k, vk);
    const __m256 q = inv_sqrt_plus_eps(_mm256_mul_ps(vk, inv_debias2), eps);
    const __m256 pk = _mm256_mul_ps(_mm256_loadu_ps(p + k), decay);
    _mm256_storeu_ps(p + k, _mm256_fmadd_ps(neg_step, _mm256_mul_ps(mk, q), pk));
  }
  adam_rows_without_grad_portable(p + k, m + k, v + k, n - k, s);
}

__attribute__((target("avx2,fma"))) void adam_rows_with_grad_avx2(float* __restrict p,
                                                                  float* __restrict m,
                                                                  float* __restrict v,
                                                                  const float* __restrict g,
                                                                  int64_t n, const AdamScalars s) {
  const __m256 decay = _mm256_set1_ps(s.decay), beta1 = _mm256_set1_ps(s.beta1),
               one_minus_beta1 = _mm256_set1_ps(s.one_minus_beta1), beta2 = _mm256_set1_ps(s.beta2),
               one_minus_beta2 = _mm256_set1_ps(s.one_minus_beta2),
               inv_debias2 = _mm256_set1_ps(s.inv_debias2),
               neg_step = _mm256_set1_ps(s.neg_step_size), eps = _mm256_set1_ps(s.eps);
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 gk = _mm256_loadu_ps(g + k);
    const __m256 mk =
        _mm256_fmadd_ps(gk, one_minus_beta1, _mm256_mul_ps(_mm256_loadu_ps(m + k), beta1));
    const __m256 vk = _mm256_fmadd_ps(_mm256_mul_ps(gk, gk), one_minus_beta2,
                                      _mm256_mul_ps(_mm256_loadu_ps(v + k), beta2));
    _mm256_storeu_ps(m + k, mk);
    _mm256_storeu_ps(v + k, vk);
    const __m256 q = inv_sqrt_plus_eps(_mm256_mul_ps(vk, inv_debias2), eps);
    const __m256 pk = _mm256_mul_ps(_mm256_loadu_ps(p + k), decay);
    _mm256_storeu_ps(p + k, _mm256_fmadd_ps(neg_step, _mm256_mul_ps(mk, q), pk));
  }
  adam_rows_with_grad_portable(p + k, m + k, v + k, g + k, n - k, s);
}
#endif

void adam_rows_without_grad(float* p, float* m, float* v, int64_t n, const AdamScalars& s) {
#ifdef COLLAB_AVX2_ADAM
  if (cpu_has_avx2_fma()) return adam_rows_without_grad_avx2(p, m, v, n, s);
#endif
  adam_rows_without_grad_portable(p, m, v, n, s);
}

void adam_rows_with_grad(float* p, float* m, float* v, const float* g, int64_t n,
                         const AdamScalars& s) {
#ifdef COLLAB_AVX2_ADAM
  if (cpu_has_avx2_fma()) return adam_rows_with_grad_avx2(p, m, v, g, n, s);
#endif
  adam_rows_with_grad_portable(p, m, v, g, n, s);
}

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
  int64_t elements = 0;
  for (const auto& p : model.parameters()) elements += p.numel();
  fused->pool_ =
      std::make_unique<StepPool>(elements < kParallelElements ? 1 : at::get_num_threads());
  return fused;
}

FusedDotStep::~FusedDotStep() = default;

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
  const int64_t t = ++*table.step;
  const double beta2 = options_.beta2;
  AdamScalars s;
  s.decay = table.decay && options_.weight_decay != 0
                ? static_cast<float>(1.0 - lr * options_.weight_decay)
                : 1.0f;
  s.beta1 = static_cast<float>(beta1);
  s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  s.beta2 = static_cast<float>(beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  s.inv_debias2 = static_cast<float>(1.0 / (1.0 - std::pow(beta2, static_cast<double>(t))));
  s.neg_step_size = static_cast<float>(-lr / (1.0 - std::pow(beta1, static_cast<double>(t))));
  s.eps = static_cast<float>(options_.eps);
  return s;
}

void FusedDotStep::adam_rows(const Table& table, const Side& side, const AdamScalars& s,
                             int64_t begin, int64_t end) {
  const int64_t dim = table.dim;
  int64_t r = begin;
  while (r < end) {
    const int32_t slot = side.slot_of_row[static_cast<size_t>(r)];
    const int64_t offset = r * dim;
    if (slot >= 0) {
      adam_rows_with_grad(table.param + offset, table.exp_avg + offset, table.exp_avg_sq + offset,
                          table.grad.data() + slot * dim, dim, s);
      ++r;
      continue;
    }
    // A run of untouched rows is one contiguous stretch of memory.
    int64_t run_end = r + 1;
    while (run_end < end && side.slot_of_row[static_cast<size_t>(run_end)] < 0) ++run_end;
    adam_rows_without_grad(table.param + offset, table.exp_avg + offset, table.exp_avg_sq + offset,
                           (run_end - r) * dim, s);
    r = run_end;
  }
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
  // Chunk c is the same slice of every table at every step, and the pool gives each thread the
  // same chunks on an idle machine, so a thread's slices stay in its core's cache from one step
  // to the next. Elements are updated independently and the chunks are fixed: the result does
  // not depend on the threads.
  const int64_t chunks = kChunks;
  auto update_chunk = [&](int64_t c) {
    for (size_t w = 0; w < n_work; ++w) {
      const int64_t rows = work[w].table->rows;
      adam_rows(*work[w].table, *work[w].side, work[w].scalars, rows * c / chunks,
                rows * (c + 1) / chunks);
    }
  };
  pool_->run(update_chunk, chunks);
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
