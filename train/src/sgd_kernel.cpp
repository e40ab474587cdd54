#include "sgd_kernel.h"

#include <algorithm>
#include <cmath>

#include "row_kernels.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace collab {
namespace {

// How many ratings ahead a rating's two rows are prefetched for writing.
constexpr int64_t kAhead = 8;

COLLAB_PREFETCH void prefetch_rows(const SgdRun& a, int64_t r) {
  if (!a.prefetch || r >= a.n) return;
  prefetch_row<true>(a.P + a.users[r] * a.stride, a.dim * 4);
  prefetch_row<true>(a.Q + a.items[r] * a.stride, a.dim * 4);
}

// One SGD update of a rating's two factor rows, each from the other's old values.
inline void sgd_pair(float* __restrict p, float* __restrict q, float decay, float lg, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const float pk = p[k], qk = q[k];
    p[k] = pk * decay - lg * qk;
    q[k] = qk * decay - lg * pk;
  }
}

COLLAB_MULTIVERSION double sgd_ratings_portable(const SgdRun a) {
  const int64_t dim = a.dim;
  double loss = 0;
  for (int64_t r = 0; r < a.n; ++r) {
    prefetch_rows(a, r + kAhead);
    const int64_t u = a.users[r], i = a.items[r];
    float* p = a.P + u * a.stride;
    float* q = a.Q + i * a.stride;
    float dot = dot_product_inline(p, q, dim);
    if (a.bu) dot += a.bu[u] + a.bi[i];
    const Prediction pred = a.range.apply(dot);
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

COLLAB_MULTIVERSION ErrorSums rating_errors_portable(const SgdRun a) {
  ErrorSums sums;
  for (int64_t r = 0; r < a.n; ++r) {
    const int64_t u = a.users[r], i = a.items[r];
    float dot = dot_product_inline(a.P + u * a.stride, a.Q + i * a.stride, a.dim);
    if (a.bu) dot += a.bu[u] + a.bi[i];
    const double err = a.range.apply(dot).value - a.ratings[static_cast<size_t>(r)];
    sums.squared += err * err;
    sums.absolute += std::abs(err);
  }
  return sums;
}

#if defined(__GNUC__) && defined(__x86_64__)
#define COLLAB_SGD_AVX512 1
// GCC 12 warns that the undefined pass-through vector of unmasked AVX-512 intrinsics (max, unpack,
// shuffle) "may be used uninitialized": a false alarm of its own headers.
#pragma GCC diagnostic push
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define COLLAB_AVX512_INLINE __attribute__((target("avx512f"), always_inline)) inline

// e^x in 16 lanes within an ulp or two (Cody and Waite's reduction x = n ln 2 + r, Cephes'
// polynomial for e^r, then e^r 2^n by scalef), x clamped to [-87, 88] where e^x is a normal float.
COLLAB_AVX512_INLINE __m512 exp_avx512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 poly = _mm512_set1_ps(1.9875691500e-4f);
  for (const float c :
       {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f}) {
    poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(c));
  }
  const __m512 e_r =
      _mm512_fmadd_ps(poly, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(e_r, n);
}

// Lanes [0, count) of a vector, count in 0..16.
COLLAB_AVX512_INLINE __mmask16 lanes_below(int64_t count) {
  return static_cast<__mmask16>((1u << count) - 1);
}

// The lane-wise products p[k] q[k] summed into 16 lanes: whole vectors, then the masked rest.
COLLAB_AVX512_INLINE __m512 dot_lanes(const float* p, const float* q, int64_t dim) {
  const int64_t whole = dim & ~int64_t{15};
  __m512 acc = _mm512_setzero_ps();
  for (int64_t k = 0; k < whole; k += 16) {
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(p + k), _mm512_loadu_ps(q + k), acc);
  }
  if (whole == dim) return acc;
  const __mmask16 rest = lanes_below(dim - whole);
  return _mm512_fmadd_ps(_mm512_maskz_loadu_ps(rest, p + whole),
                         _mm512_maskz_loadu_ps(rest, q + whole), acc);
}

// The sums of the 16 lanes of each of v[0..7], in lanes 0..7 of the result (the others hold
// copies): one pass of shuffles for eight dot products. Each vector's sum is the same whatever
// the others hold, so a rating gets the same bits alone or in a group.
COLLAB_AVX512_INLINE __m512 sum_lanes8(const __m512 (&v)[8]) {
  // Each 128-bit quarter of `four` ends with the partial sums of its quarter of v[0..3] (or
  // v[4..7]) in its four lanes.
  __m512 four[2];
  for (int h = 0; h < 2; ++h) {
    const __m512 a = v[4 * h], b = v[4 * h + 1], c = v[4 * h + 2], d = v[4 * h + 3];
    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    four[h] = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                            _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // Quarters: [v0..3 q0 + q2, v0..3 q1 + q3, v4..7 q0 + q2, v4..7 q1 + q3], then their pair sums.
  __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(four[0], four[1], _MM_SHUFFLE(1, 0, 1, 0)),
                           _mm512_shuffle_f32x4(four[0], four[1], _MM_SHUFFLE(3, 2, 3, 2)));
  s = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_shuffle_f32x4(s, s, _MM_SHUFFLE(2, 0, 2, 0));
}

// sgd_pair in 16 lanes, lg in every lane: p' = p decay - lg q and q' = q decay - lg p as
// multiply-adds.
COLLAB_AVX512_INLINE void sgd_pair_avx512(float* p, float* q, float decay, __m512 lg, int64_t dim) {
  const __m512 d = _mm512_set1_ps(decay), neg_lg = _mm512_sub_ps(_mm512_setzero_ps(), lg);
  const int64_t whole = dim & ~int64_t{15};
  for (int64_t k = 0; k < whole; k += 16) {
    const __m512 pk = _mm512_loadu_ps(p + k), qk = _mm512_loadu_ps(q + k);
    _mm512_storeu_ps(p + k, _mm512_fmadd_ps(qk, neg_lg, _mm512_mul_ps(pk, d)));
    _mm512_storeu_ps(q + k, _mm512_fmadd_ps(pk, neg_lg, _mm512_mul_ps(qk, d)));
  }
  if (whole == dim) return;
  const __mmask16 rest = lanes_below(dim - whole);
  const __m512 pk = _mm512_maskz_loadu_ps(rest, p + whole),
               qk = _mm512_maskz_loadu_ps(rest, q + whole);
  _mm512_mask_storeu_ps(p + whole, rest, _mm512_fmadd_ps(qk, neg_lg, _mm512_mul_ps(pk, d)));
  _mm512_mask_storeu_ps(q + whole, rest, _mm512_fmadd_ps(pk, neg_lg, _mm512_mul_ps(qk, d)));
}

constexpr int64_t kGroup = 8;  // ratings whose chains of dependent operations are interleaved

// How many ratings from r on (at most kGroup) share no user and no item with each other: their
// updates touch disjoint rows, so doing them together gives the bits of doing them in turn.
// AVX-512CD's conflict detection sets, in each lane, a bit for every earlier lane of equal value.
__attribute__((target("avx512f,avx512cd"), always_inline)) inline int64_t independent_ratings(
    const SgdRun& a, int64_t r) {
  const int64_t available = std::min(kGroup, a.n - r);
  const __mmask16 lanes = lanes_below(available);
  const __m512i users = _mm512_maskz_loadu_epi32(lanes, a.users + r);
  const __m512i items = _mm512_maskz_loadu_epi32(lanes, a.items + r);
  const __m512i clashes =
      _mm512_or_si512(_mm512_conflict_epi32(users), _mm512_conflict_epi32(items));
  const auto clashing = static_cast<unsigned>(_mm512_test_epi32_mask(clashes, clashes) & lanes);
  return clashing == 0 ? available : __builtin_ctz(clashing);
}

// Lane j (j < kGroup) holds values[j]; the others are zero. Built in registers: a vector load
// of scalars just stored would wait for the stores to retire, as its bytes cannot be forwarded.
COLLAB_AVX512_INLINE __m512 lanes_of(const float (&values)[kGroup]) {
  static_assert(kGroup == 8, "lanes_of fills eight lanes");
  return _mm512_set_ps(0, 0, 0, 0, 0, 0, 0, 0, values[7], values[6], values[5], values[4],
                       values[3], values[2], values[1], values[0]);
}

// Lane j of v in every lane.
COLLAB_AVX512_INLINE __m512 broadcast_lane(__m512 v, int64_t j) {
  return _mm512_permutexvar_ps(_mm512_set1_epi32(static_cast<int>(j)), v);
}

// What the ratings r .. r + m - 1 (m in 1..kGroup) predict, in lanes 0 .. m - 1:
// OutputRange::apply's value and slope, and the rating itself.
struct GroupOutputs {
  __m512 pred, slope, rating;
};

COLLAB_AVX512_INLINE GroupOutputs group_outputs(const SgdRun& a, int64_t r, int64_t m) {
  __m512 dots[kGroup];
  float bias[kGroup] = {}, rating[kGroup] = {};
  for (int64_t j = 0; j < kGroup; ++j) {
    if (j >= m) {
      dots[j] = _mm512_setzero_ps();
      continue;
    }
    const int64_t u = a.users[r + j], i = a.items[r + j];
    dots[j] = dot_lanes(a.P + u * a.stride, a.Q + i * a.stride, a.dim);
    if (a.bu) bias[j] = a.bu[u] + a.bi[i];
    rating[j] = a.ratings[static_cast<size_t>(r + j)];
  }
  const __m512 x = _mm512_add_ps(sum_lanes8(dots), lanes_of(bias));
  GroupOutputs out{x, _mm512_set1_ps(1.0f), lanes_of(rating)};
  if (a.range.squashes()) {
    const __m512 one = _mm512_set1_ps(1.0f), span = _mm512_set1_ps(a.range.span());
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, e));
    out.pred = _mm512_fmadd_ps(s, span, _mm512_set1_ps(a.range.lo()));
    out.slope = _mm512_mul_ps(_mm512_mul_ps(s, _mm512_sub_ps(one, s)), span);
  }
  return out;
}

// Lanes 0..7 of v, in double.
COLLAB_AVX512_INLINE __m512d low8_in_double(__m512 v) {
  return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}

// Ratings r .. r + m - 1 (m in 1..kGroup, independent): their outputs, errors and steps side by
// side in the lanes of one vector, then their updates. Adds their squared errors to `loss`.
COLLAB_AVX512_INLINE void sgd_group_avx512(const SgdRun& a, int64_t r, int64_t m, __m512d& loss) {
  const GroupOutputs out = group_outputs(a, r, m);
  const __m512 err = _mm512_maskz_sub_ps(lanes_below(m), out.pred, out.rating);
  const __m512d err_d = low8_in_double(err);
  loss = _mm512_add_pd(loss, _mm512_mul_pd(err_d, err_d));
  const __m512 lg = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(a.lr), err), out.slope);
  for (int64_t j = 0; j < m; ++j) {
    const __m512 lg_j = broadcast_lane(lg, j);
    const int64_t u = a.users[r + j], i = a.items[r + j];
    sgd_pair_avx512(a.P + u * a.stride, a.Q + i * a.stride, a.decay, lg_j, a.dim);
    if (a.bu) {
      const float step = _mm512_cvtss_f32(lg_j);
      a.bu[u] = std::fma(a.bu[u], a.decay, -step);
      a.bi[i] = std::fma(a.bi[i], a.decay, -step);
    }
  }
}

__attribute__((target("avx512f,avx512cd"))) double sgd_ratings_avx512(const SgdRun a) {
  __m512d loss = _mm512_setzero_pd();
  for (int64_t r = 0, m = 0; r < a.n; r += m) {
    m = independent_ratings(a, r);
    for (int64_t j = 0; j < m; ++j) prefetch_rows(a, r + kAhead + j);
    sgd_group_avx512(a, r, m, loss);
  }
  return _mm512_reduce_add_pd(loss);
}

__attribute__((target("avx512f"))) ErrorSums rating_errors_avx512(const SgdRun a) {
  __m512d squared = _mm512_setzero_pd(), absolute = _mm512_setzero_pd();
  for (int64_t r = 0; r < a.n; r += kGroup) {
    const int64_t m = std::min(kGroup, a.n - r);
    const GroupOutputs out = group_outputs(a, r, m);
    const __m512 err = _mm512_maskz_sub_ps(lanes_below(m), out.pred, out.rating);
    const __m512d err_d = low8_in_double(err);
    squared = _mm512_add_pd(squared, _mm512_mul_pd(err_d, err_d));
    absolute = _mm512_add_pd(absolute, _mm512_abs_pd(err_d));
  }
  return {_mm512_reduce_add_pd(squared), _mm512_reduce_add_pd(absolute)};
}
#pragma GCC diagnostic pop
#endif

}  // namespace

double sgd_ratings(const SgdRun& run) {
#ifdef COLLAB_SGD_AVX512
  if (row_kernels_use_avx512()) return sgd_ratings_avx512(run);
#endif
  return sgd_ratings_portable(run);
}

ErrorSums rating_errors(const SgdRun& run) {
#ifdef COLLAB_SGD_AVX512
  if (row_kernels_use_avx512()) return rating_errors_avx512(run);
#endif
  return rating_errors_portable(run);
}

}  // namespace collab
