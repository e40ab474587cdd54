#include "row_kernels.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>

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
  s.root_beta2 = static_cast<float>(std::sqrt(beta2));
  s.root_inv_debias2 =
      static_cast<float>(std::sqrt(1.0 / (1.0 - std::pow(beta2, static_cast<double>(step)))));
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

// The Adam kernels below take one of two builds of the same arithmetic: AVX-512 where the CPU
// has it, portable C++ elsewhere. Each element's arithmetic is fixed by the build alone, not by
// where it sits in a run (the AVX-512 loops mask partial vectors instead of finishing them in
// scalar code), so the dense pass, the deferred replay and any split of a run agree bit for bit.

namespace {

// One step of one element, portable build: the AVX-512 build's operations in its order, with a
// divide where that build refines an approximate reciprocal. std::fma keeps the compiler from
// fusing differently in different loops.
inline float adam_update_element(float p, float m, float r, const AdamScalars& s) {
  const float d = std::fma(r, s.root_inv_debias2, s.eps);
  return std::fma(s.neg_step_size, m * (1.0f / d), p * s.decay);
}

COLLAB_MULTIVERSION void adam_rows_without_grad_portable(float* __restrict p, float* __restrict m,
                                                         float* __restrict r, int64_t n,
                                                         const AdamScalars& s) {
  for (int64_t k = 0; k < n; ++k) {
    m[k] = m[k] * s.beta1;
    r[k] = r[k] * s.root_beta2;
    p[k] = adam_update_element(p[k], m[k], r[k], s);
  }
}

COLLAB_MULTIVERSION void adam_rows_with_grad_portable(float* __restrict p, float* __restrict m,
                                                      float* __restrict r,
                                                      const float* __restrict g, int64_t n,
                                                      const AdamScalars& s) {
  for (int64_t k = 0; k < n; ++k) {
    m[k] = std::fma(g[k], s.one_minus_beta1, m[k] * s.beta1);
    r[k] = std::sqrt(std::fma(g[k] * g[k], s.one_minus_beta2, (r[k] * r[k]) * s.beta2));
    p[k] = adam_update_element(p[k], m[k], r[k], s);
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
#define COLLAB_AVX512_ADAM 1

// AVX-512F for the Adam kernels, CD (conflict detection) for the SGD kernel's grouping
// (sgd_kernel.cpp): every CPU with the one so far has the other, so one switch serves both.
bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd");
  return has;
}

// COLLAB_NO_AVX512 (set, any value) picks the portable build, whose bits are the same on every
// x86-64 CPU: for comparing runs across machines.
bool use_avx512 = cpu_has_avx512() && std::getenv("COLLAB_NO_AVX512") == nullptr;

#define COLLAB_AVX512 __attribute__((target("avx512f"), always_inline)) inline

// 1 / d in 16 lanes: the 14-bit reciprocal refined by one Newton step agrees with a divide to
// within an ulp or two, at a fraction of its cost (the divide would bound the pass).
COLLAB_AVX512 __m512 reciprocal(__m512 d) {
  // (The zero-masked forms with every lane on: GCC 12 warns that the plain ones' undefined
  // pass-through source "may be used uninitialized".)
  const __m512 q = _mm512_maskz_rcp14_ps(0xFFFF, d);
  return _mm512_mul_ps(q, _mm512_fnmadd_ps(d, q, _mm512_set1_ps(2.0f)));  // q (2 - d q)
}

// sqrt(v) in 16 lanes, v >= 0: v times its 14-bit reciprocal square root refined by one Newton
// step, within an ulp or two of sqrt (whose latency would hold up every touched row). Below
// FLT_MIN (zero, or a denormal that is flushed) the root is 0, as v * rsqrt(0) would be NaN.
COLLAB_AVX512 __m512 square_root(__m512 v) {
  // (The zero-masked form with every lane on: see reciprocal().)
  __m512 y = _mm512_maskz_rsqrt14_ps(0xFFFF, v);
  const __m512 half_v_y = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), y);
  y = _mm512_mul_ps(y, _mm512_fnmadd_ps(half_v_y, y, _mm512_set1_ps(1.5f)));  // y (1.5 - v y^2 / 2)
  const __mmask16 normal = _mm512_cmp_ps_mask(v, _mm512_set1_ps(FLT_MIN), _CMP_GE_OQ);
  return _mm512_maskz_mul_ps(normal, v, y);
}

// adam_update_element in 16 lanes.
COLLAB_AVX512 __m512 adam_update_vector(__m512 p, __m512 m, __m512 r, const AdamScalars& s) {
  const __m512 d = _mm512_fmadd_ps(r, _mm512_set1_ps(s.root_inv_debias2), _mm512_set1_ps(s.eps));
  return _mm512_fmadd_ps(_mm512_set1_ps(s.neg_step_size), _mm512_mul_ps(m, reciprocal(d)),
                         _mm512_mul_ps(p, _mm512_set1_ps(s.decay)));
}

// A zero-gradient step on 16 lanes held in registers.
COLLAB_AVX512 void step_without_grad(__m512& p, __m512& m, __m512& r, const AdamScalars& s) {
  m = _mm512_mul_ps(m, _mm512_set1_ps(s.beta1));
  r = _mm512_mul_ps(r, _mm512_set1_ps(s.root_beta2));
  p = adam_update_vector(p, m, r, s);
}

// Lanes [0, count) of a vector, count in 1..16.
COLLAB_AVX512 __mmask16 first_lanes(int64_t count) {
  return static_cast<__mmask16>((1u << count) - 1);
}

// The lanes of the vector at offset k of a run of n floats from `base`, which are cut so that
// every vector but the first starts at a 64-byte boundary: a load that spans two cache lines
// costs about twice one that does not, and rows (50 floats at fastai's size) start anywhere. The
// parameter and moment tensors are allocated 64-byte aligned, so one boundary suits all three.
// The loops below walk k = 0, k += vector_length(...) while k < n. (Written as loops rather than
// a helper taking a lambda: a lambda does not inherit its function's target("avx512f").)
COLLAB_AVX512 int64_t vector_length(const float* base, int64_t k, int64_t n) {
  const auto misaligned = static_cast<int64_t>((reinterpret_cast<uintptr_t>(base + k) & 63) / 4);
  return std::min<int64_t>(16 - misaligned, n - k);
}

__attribute__((target("avx512f"))) void adam_rows_without_grad_avx512(float* __restrict p,
                                                                      float* __restrict m,
                                                                      float* __restrict r,
                                                                      int64_t n,
                                                                      const AdamScalars& s) {
  for (int64_t k = 0, len = 0; k < n; k += len) {
    len = vector_length(p, k, n);
    const __mmask16 lanes = first_lanes(len);
    __m512 pk = _mm512_maskz_loadu_ps(lanes, p + k), mk = _mm512_maskz_loadu_ps(lanes, m + k),
           rk = _mm512_maskz_loadu_ps(lanes, r + k);
    step_without_grad(pk, mk, rk, s);
    _mm512_mask_storeu_ps(m + k, lanes, mk);
    _mm512_mask_storeu_ps(r + k, lanes, rk);
    _mm512_mask_storeu_ps(p + k, lanes, pk);
  }
}

// A step with gradient g on 16 lanes held in registers.
COLLAB_AVX512 void step_with_grad(__m512& p, __m512& m, __m512& r, __m512 g, const AdamScalars& s) {
  m = _mm512_fmadd_ps(g, _mm512_set1_ps(s.one_minus_beta1),
                      _mm512_mul_ps(m, _mm512_set1_ps(s.beta1)));
  const __m512 v = _mm512_fmadd_ps(_mm512_mul_ps(g, g), _mm512_set1_ps(s.one_minus_beta2),
                                   _mm512_mul_ps(_mm512_mul_ps(r, r), _mm512_set1_ps(s.beta2)));
  r = square_root(v);
  p = adam_update_vector(p, m, r, s);
}

// A touched row. Vectors start at the row's start, not at cache-line boundaries as in the runs
// above: a row is a few vectors, and a trip count that depends on its alignment would mispredict
// the loop's exit at every row, which costs more than the split loads.
__attribute__((target("avx512f"))) void adam_rows_with_grad_avx512(
    float* __restrict p, float* __restrict m, float* __restrict r, const float* __restrict g,
    int64_t n, const AdamScalars& s) {
  for (int64_t k = 0; k < n; k += 16) {
    const __mmask16 lanes = first_lanes(std::min<int64_t>(16, n - k));
    __m512 pk = _mm512_maskz_loadu_ps(lanes, p + k), mk = _mm512_maskz_loadu_ps(lanes, m + k),
           rk = _mm512_maskz_loadu_ps(lanes, r + k);
    step_with_grad(pk, mk, rk, _mm512_maskz_loadu_ps(lanes, g + k), s);
    _mm512_mask_storeu_ps(m + k, lanes, mk);
    _mm512_mask_storeu_ps(r + k, lanes, rk);
    _mm512_mask_storeu_ps(p + k, lanes, pk);
  }
}

// adam_table_rows for a table one float wide (the biases): 16 rows a vector, the touched lanes
// taking their gradient by a gather and the with-gradient step, blended into the others'. Row by
// row, the runs between touched rows would be a vector or two each, and the calls would cost
// more than the arithmetic.
__attribute__((target("avx512f"))) void adam_column_avx512(float* __restrict p, float* __restrict m,
                                                           float* __restrict r,
                                                           const int32_t* slot_of_row,
                                                           const float* grad, int64_t begin,
                                                           int64_t end, const AdamScalars& s) {
  const int64_t n = end - begin;
  p += begin;
  m += begin;
  r += begin;
  slot_of_row += begin;
  for (int64_t k = 0, len = 0; k < n; k += len) {
    len = vector_length(p, k, n);
    const __mmask16 lanes = first_lanes(len);
    const __m512i slots = _mm512_maskz_loadu_epi32(lanes, slot_of_row + k);
    const __mmask16 touched = _mm512_mask_cmpge_epi32_mask(lanes, slots, _mm512_setzero_si512());
    __m512 pk = _mm512_maskz_loadu_ps(lanes, p + k), mk = _mm512_maskz_loadu_ps(lanes, m + k),
           rk = _mm512_maskz_loadu_ps(lanes, r + k);
    if (touched != 0) {
      const __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), touched, slots, grad, 4);
      __m512 pg = pk, mg = mk, rg = rk;
      step_with_grad(pg, mg, rg, g, s);
      step_without_grad(pk, mk, rk, s);
      pk = _mm512_mask_blend_ps(touched, pk, pg);
      mk = _mm512_mask_blend_ps(touched, mk, mg);
      rk = _mm512_mask_blend_ps(touched, rk, rg);
    } else {
      step_without_grad(pk, mk, rk, s);
    }
    _mm512_mask_storeu_ps(m + k, lanes, mk);
    _mm512_mask_storeu_ps(r + k, lanes, rk);
    _mm512_mask_storeu_ps(p + k, lanes, pk);
  }
}

// `count` steps on up to `lanes` vectors at once, so that one vector's step overlaps the
// others': a single vector's steps form a chain of dependent operations, bound by latency.
template <int lanes>
COLLAB_AVX512 void replay_vectors(float* p, float* m, float* r, const int64_t* offsets,
                                  const __mmask16* masks, const AdamScalars* steps, int64_t count) {
  __m512 pk[lanes], mk[lanes], rk[lanes];
  for (int j = 0; j < lanes; ++j) {
    pk[j] = _mm512_maskz_loadu_ps(masks[j], p + offsets[j]);
    mk[j] = _mm512_maskz_loadu_ps(masks[j], m + offsets[j]);
    rk[j] = _mm512_maskz_loadu_ps(masks[j], r + offsets[j]);
  }
  for (int64_t t = 0; t < count; ++t) {
    for (int j = 0; j < lanes; ++j) step_without_grad(pk[j], mk[j], rk[j], steps[t]);
  }
  for (int j = 0; j < lanes; ++j) {
    _mm512_mask_storeu_ps(p + offsets[j], masks[j], pk[j]);
    _mm512_mask_storeu_ps(m + offsets[j], masks[j], mk[j]);
    _mm512_mask_storeu_ps(r + offsets[j], masks[j], rk[j]);
  }
}

// replay_vectors on the first `vectors` (0..4) entries of offsets and masks.
COLLAB_AVX512 void replay_group(int vectors, float* p, float* m, float* r, const int64_t* offsets,
                                const __mmask16* masks, const AdamScalars* steps, int64_t count) {
  switch (vectors) {
    case 4:
      return replay_vectors<4>(p, m, r, offsets, masks, steps, count);
    case 3:
      return replay_vectors<3>(p, m, r, offsets, masks, steps, count);
    case 2:
      return replay_vectors<2>(p, m, r, offsets, masks, steps, count);
    case 1:
      return replay_vectors<1>(p, m, r, offsets, masks, steps, count);
    default:
      return;
  }
}

__attribute__((target("avx512f"))) void adam_replay_without_grad_avx512(
    float* __restrict p, float* __restrict m, float* __restrict r, int64_t n,
    const AdamScalars* steps, int64_t count) {
  constexpr int kGroup = 4;
  int64_t offsets[kGroup];
  __mmask16 masks[kGroup];
  int filled = 0;
  for (int64_t k = 0, len = 0; k < n; k += len) {
    len = vector_length(p, k, n);
    offsets[filled] = k;
    masks[filled] = first_lanes(len);
    if (++filled == kGroup) {
      replay_group(filled, p, m, r, offsets, masks, steps, count);
      filled = 0;
    }
  }
  replay_group(filled, p, m, r, offsets, masks, steps, count);
}
#endif

}  // namespace

bool row_kernels_use_avx512() {
#ifdef COLLAB_AVX512_ADAM
  return use_avx512;
#else
  return false;
#endif
}

void set_row_kernels_use_avx512(bool use) {
#ifdef COLLAB_AVX512_ADAM
  use_avx512 = use && cpu_has_avx512();
#else
  (void)use;
#endif
}

void second_moment_root(float* r, const float* v, int64_t n) {
  for (int64_t k = 0; k < n; ++k) r[k] = std::sqrt(v[k]);
}

void second_moment_from_root(float* v, const float* r, int64_t n) {
  for (int64_t k = 0; k < n; ++k) v[k] = r[k] * r[k];
}

void adam_replay_without_grad(float* p, float* m, float* r, int64_t n, const AdamScalars* steps,
                              int64_t count) {
#ifdef COLLAB_AVX512_ADAM
  if (use_avx512) return adam_replay_without_grad_avx512(p, m, r, n, steps, count);
#endif
  for (int64_t t = 0; t < count; ++t) adam_rows_without_grad_portable(p, m, r, n, steps[t]);
}

void adam_rows_without_grad(float* p, float* m, float* r, int64_t n, const AdamScalars& s) {
#ifdef COLLAB_AVX512_ADAM
  if (use_avx512) return adam_rows_without_grad_avx512(p, m, r, n, s);
#endif
  adam_rows_without_grad_portable(p, m, r, n, s);
}

void adam_rows_with_grad(float* p, float* m, float* r, const float* g, int64_t n,
                         const AdamScalars& s) {
#ifdef COLLAB_AVX512_ADAM
  if (use_avx512) return adam_rows_with_grad_avx512(p, m, r, g, n, s);
#endif
  adam_rows_with_grad_portable(p, m, r, g, n, s);
}

void adam_table_rows(float* p, float* m, float* r, int64_t dim, const int32_t* slot_of_row,
                     const float* grad, int64_t begin, int64_t end, const AdamScalars& s) {
#ifdef COLLAB_AVX512_ADAM
  if (use_avx512 && dim == 1) return adam_column_avx512(p, m, r, slot_of_row, grad, begin, end, s);
#endif
  int64_t i = begin;
  while (i < end) {
    const int32_t slot = slot_of_row[i];
    const int64_t offset = i * dim;
    if (slot >= 0) {
      adam_rows_with_grad(p + offset, m + offset, r + offset, grad + slot * dim, dim, s);
      ++i;
      continue;
    }
    // A run of untouched rows is one contiguous stretch of memory.
    int64_t run_end = i + 1;
    while (run_end < end && slot_of_row[run_end] < 0) ++run_end;
    adam_rows_without_grad(p + offset, m + offset, r + offset, (run_end - i) * dim, s);
    i = run_end;
  }
}

}  // namespace collab
