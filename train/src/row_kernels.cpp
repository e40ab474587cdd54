#include "row_kernels.h"

#include <cfloat>
#include <cmath>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace collab {

AdamScalars adam_scalars(const AdamOptions& options, bool decay, double lr, double beta1,
                         int64_t step) {
  const double beta2 = options.beta2;
  AdamScalars s;
  s.decay = decay && options.weight_decay != 0 ? static_cast<float>(1.0 - lr * options.weight_decay)
                                               : 1.0f;
  s.beta1 = static_cast<float>(beta1);
  s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  s.beta2 = static_cast<float>(beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  s.inv_debias2 = static_cast<float>(1.0 / (1.0 - std::pow(beta2, static_cast<double>(step))));
  s.neg_step_size = static_cast<float>(-lr / (1.0 - std::pow(beta1, static_cast<double>(step))));
  s.eps = static_cast<float>(options.eps);
  return s;
}

COLLAB_MULTIVERSION float dot_product(const float* a, const float* b, int64_t n) {
  return dot_product_inline(a, b, n);
}

COLLAB_MULTIVERSION void accumulate_pair(float* __restrict grad_a, float* __restrict grad_b,
                                         const float* __restrict a, const float* __restrict b,
                                         float g, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    grad_a[k] += g * b[k];
    grad_b[k] += g * a[k];
  }
}

COLLAB_MULTIVERSION void add_scaled(float* __restrict y, const float* __restrict x, float a,
                                    int64_t n) {
  for (int64_t k = 0; k < n; ++k) y[k] += a * x[k];
}

namespace {

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

// One zero-gradient step on `lanes` groups of 8 parameters held in registers: the operations of
// adam_rows_without_grad_avx2, in its order.
template <int lanes>
__attribute__((target("avx2,fma"), always_inline)) inline void replay_step(__m256* p, __m256* m,
                                                                           __m256* v,
                                                                           const AdamScalars& s) {
  const __m256 beta1 = _mm256_set1_ps(s.beta1), beta2 = _mm256_set1_ps(s.beta2),
               inv_debias2 = _mm256_set1_ps(s.inv_debias2), eps = _mm256_set1_ps(s.eps),
               neg_step = _mm256_set1_ps(s.neg_step_size), decay = _mm256_set1_ps(s.decay);
  for (int j = 0; j < lanes; ++j) {
    m[j] = _mm256_mul_ps(m[j], beta1);
    v[j] = _mm256_mul_ps(v[j], beta2);
    const __m256 q = inv_sqrt_plus_eps(_mm256_mul_ps(v[j], inv_debias2), eps);
    p[j] = _mm256_fmadd_ps(neg_step, _mm256_mul_ps(m[j], q), _mm256_mul_ps(p[j], decay));
  }
}

// Two groups of 8 at a time, so that one group's step overlaps the other's: a single group's
// steps form a chain of dependent multiplies, bound by latency rather than throughput. The last
// n % 8 parameters are a masked group (the masked-off lanes compute on zeros, harmlessly).
__attribute__((target("avx2,fma"))) void adam_replay_without_grad_avx2(
    float* __restrict p, float* __restrict m, float* __restrict v, int64_t n,
    const AdamScalars* steps, int64_t count) {
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m256 pk[2] = {_mm256_loadu_ps(p + k), _mm256_loadu_ps(p + k + 8)};
    __m256 mk[2] = {_mm256_loadu_ps(m + k), _mm256_loadu_ps(m + k + 8)};
    __m256 vk[2] = {_mm256_loadu_ps(v + k), _mm256_loadu_ps(v + k + 8)};
    for (int64_t t = 0; t < count; ++t) replay_step<2>(pk, mk, vk, steps[t]);
    for (int j = 0; j < 2; ++j) {
      _mm256_storeu_ps(p + k + 8 * j, pk[j]);
      _mm256_storeu_ps(m + k + 8 * j, mk[j]);
      _mm256_storeu_ps(v + k + 8 * j, vk[j]);
    }
  }
  for (; k < n; k += 8) {
    const int64_t left = n - k < 8 ? n - k : 8;
    alignas(32) int32_t lane_on[8];
    for (int j = 0; j < 8; ++j) lane_on[j] = j < left ? -1 : 0;
    const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lane_on));
    __m256 pk = _mm256_maskload_ps(p + k, mask), mk = _mm256_maskload_ps(m + k, mask),
           vk = _mm256_maskload_ps(v + k, mask);
    for (int64_t t = 0; t < count; ++t) replay_step<1>(&pk, &mk, &vk, steps[t]);
    _mm256_maskstore_ps(p + k, mask, pk);
    _mm256_maskstore_ps(m + k, mask, mk);
    _mm256_maskstore_ps(v + k, mask, vk);
  }
}
#endif

}  // namespace

void adam_replay_without_grad(float* p, float* m, float* v, int64_t n, const AdamScalars* steps,
                              int64_t count) {
#ifdef COLLAB_AVX2_ADAM
  if (cpu_has_avx2_fma()) return adam_replay_without_grad_avx2(p, m, v, n, steps, count);
#endif
  for (int64_t t = 0; t < count; ++t) adam_rows_without_grad_portable(p, m, v, n, steps[t]);
}

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

void adam_table_rows(float* p, float* m, float* v, int64_t dim, const int32_t* slot_of_row,
                     const float* grad, int64_t begin, int64_t end, const AdamScalars& s) {
  int64_t r = begin;
  while (r < end) {
    const int32_t slot = slot_of_row[r];
    const int64_t offset = r * dim;
    if (slot >= 0) {
      adam_rows_with_grad(p + offset, m + offset, v + offset, grad + slot * dim, dim, s);
      ++r;
      continue;
    }
    // A run of untouched rows is one contiguous stretch of memory.
    int64_t run_end = r + 1;
    while (run_end < end && slot_of_row[run_end] < 0) ++run_end;
    adam_rows_without_grad(p + offset, m + offset, v + offset, (run_end - r) * dim, s);
    r = run_end;
  }
}

}  // namespace collab
