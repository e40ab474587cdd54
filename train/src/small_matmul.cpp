#include "small_matmul.h"

#include "row_kernels.h"

namespace collab {

namespace {

// The helpers below must be inlined into each COLLAB_MULTIVERSION clone of their callers, so
// they are built for that clone's instruction set (out of line, they would be built for the
// default one).
#define COLLAB_ALWAYS_INLINE inline __attribute__((always_inline))

// Eight floats in one vector register (two SSE registers where AVX is absent): GCC's vector
// extension, so the blocks below are written once for every target of COLLAB_MULTIVERSION and
// their accumulators stay in registers.
typedef float Lanes __attribute__((vector_size(32)));

// By reference: a 32-byte vector passed by value would change the ABI where AVX is absent (and
// GCC warns so), although these are always inlined.
COLLAB_ALWAYS_INLINE void load(Lanes& v, const float* p) {
  __builtin_memcpy(&v, p, sizeof v);
}

COLLAB_ALWAYS_INLINE void store(float* p, const Lanes& v) {
  __builtin_memcpy(p, &v, sizeof v);
}

COLLAB_ALWAYS_INLINE float lane_sum(const Lanes& v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// One R x C block of C = A B^T: R x C dot products over k, each in eight lanes, summed across
// lanes at the end.
template <int R, int C>
COLLAB_ALWAYS_INLINE void abt_block(const float* A, int64_t lda, const float* B, int64_t ldb,
                                    const float* bias, float* out, int64_t ldc, int64_t k) {
  Lanes acc[R][C] = {};
  int64_t l = 0;
  for (; l + 8 <= k; l += 8) {
    Lanes b[C];
    for (int j = 0; j < C; ++j) load(b[j], B + j * ldb + l);
    for (int i = 0; i < R; ++i) {
      Lanes a;
      load(a, A + i * lda + l);
      for (int j = 0; j < C; ++j) acc[i][j] += a * b[j];
    }
  }
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < C; ++j) {
      float sum = lane_sum(acc[i][j]);
      for (int64_t t = l; t < k; ++t) sum += A[i * lda + t] * B[j * ldb + t];
      out[i * ldc + j] = bias ? sum + bias[j] : sum;
    }
  }
}

// Columns [0, m) of rows [0, R) of C = A B^T, two at a time: with four rows, 8 accumulators
// and the loaded rows fit AVX2's 16 vector registers (three columns measured twice as slow).
template <int R>
COLLAB_ALWAYS_INLINE void abt_rows(const float* A, const float* B, const float* bias, float* out,
                                   int64_t m, int64_t k) {
  int64_t j = 0;
  for (; j + 2 <= m; j += 2) {
    abt_block<R, 2>(A, k, B + j * k, k, bias ? bias + j : nullptr, out + j, m, k);
  }
  for (; j < m; ++j) abt_block<R, 1>(A, k, B + j * k, k, bias ? bias + j : nullptr, out + j, m, k);
}

// One R x 8V block of C = A B: V vectors of a row of B, scaled by broadcast entries of A.
template <int R, int V>
COLLAB_ALWAYS_INLINE void ab_block(const float* A, int64_t a_row, int64_t a_col, const float* B,
                                   int64_t ldb, float* out, int64_t ldc, int64_t k) {
  Lanes acc[R][V] = {};
  for (int64_t l = 0; l < k; ++l) {
    Lanes b[V];
    for (int j = 0; j < V; ++j) load(b[j], B + l * ldb + 8 * j);
    for (int i = 0; i < R; ++i) {
      const Lanes a = A[i * a_row + l * a_col] + Lanes{};
      for (int j = 0; j < V; ++j) acc[i][j] += a * b[j];
    }
  }
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < V; ++j) store(out + i * ldc + 8 * j, acc[i][j]);
  }
}

// The last m % 8 columns, one at a time.
template <int R>
COLLAB_ALWAYS_INLINE void ab_column(const float* A, int64_t a_row, int64_t a_col, const float* B,
                                    int64_t ldb, float* out, int64_t ldc, int64_t k) {
  float acc[R] = {};
  for (int64_t l = 0; l < k; ++l) {
    for (int i = 0; i < R; ++i) acc[i] += A[i * a_row + l * a_col] * B[l * ldb];
  }
  for (int i = 0; i < R; ++i) out[i * ldc] = acc[i];
}

template <int R>
COLLAB_ALWAYS_INLINE void ab_rows(const float* A, int64_t a_row, int64_t a_col, const float* B,
                                  float* out, int64_t m, int64_t k) {
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) ab_block<R, 2>(A, a_row, a_col, B + j, m, out + j, m, k);
  for (; j + 8 <= m; j += 8) ab_block<R, 1>(A, a_row, a_col, B + j, m, out + j, m, k);
  for (; j < m; ++j) ab_column<R>(A, a_row, a_col, B + j, m, out + j, m, k);
}

}  // namespace

COLLAB_MULTIVERSION void matmul_abt(const float* A, const float* B, const float* bias, float* C,
                                    int64_t n, int64_t m, int64_t k) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) abt_rows<4>(A + i * k, B, bias, C + i * m, m, k);
  for (; i < n; ++i) abt_rows<1>(A + i * k, B, bias, C + i * m, m, k);
}

COLLAB_MULTIVERSION void matmul_ab(const float* A, int64_t a_row, int64_t a_col, const float* B,
                                   float* C, int64_t n, int64_t m, int64_t k) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) ab_rows<4>(A + i * a_row, a_row, a_col, B, C + i * m, m, k);
  for (; i < n; ++i) ab_rows<1>(A + i * a_row, a_row, a_col, B, C + i * m, m, k);
}

}  // namespace collab
