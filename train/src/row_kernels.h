// Row kernels shared by the CPU training paths (fused_dot.cpp, fused_nn.cpp, sparse_train.cpp):
// dot products and gradient accumulation over embedding rows, and fastai's Adam update of a
// stretch of parameters with or without a gradient, written for AVX-512 where the CPU has it.
// Private to train/: the paths' own headers stay free of kernel details.
#pragma once

#include <algorithm>
#include <cstdint>

#include "collab/train/adam_options.h"

#include "collab/common/multiversion.h"  // COLLAB_MULTIVERSION

namespace collab {

// The fused steps keep Adam's second moment v as its elementwise root r = sqrt(v). The update
// needs sqrt(v / (1 - beta2^t)) + eps = r * sqrt(1 / (1 - beta2^t)) + eps: a multiply-add where
// v would cost a square root at every element of every step, and a step without gradient is
// r * sqrt(beta2). The dense pass over every parameter, which the exact recipe takes at every
// step, is then bound by memory rather than by square roots. r differs from sqrt(v) computed
// step by step by float rounding only (the autograd reference is met to 1e-5), and converting is
// exact both ways: sqrt(r * r) == r in binary floating point, so a flush and a resume leave the
// bits of a run unchanged.
//
// Adam's per-step scalars, in float as ATen applies double scalars to float tensors.
struct AdamScalars {
  float decay;  // 1 - lr * wd (1 when the parameter is not decayed)
  float beta1, one_minus_beta1;
  float beta2, one_minus_beta2;
  float root_beta2;        // sqrt(beta2): the root's decay without gradient
  float root_inv_debias2;  // sqrt(1 / (1 - beta2^t))
  float neg_step_size;     // -lr / (1 - beta1^t)
  float eps;
};

// The scalars of Adam step `step` (counted from 1) of a parameter that `decay`s or not, with
// the scheduled lr and beta1: FastaiAdam::step's formula.
AdamScalars adam_scalars(const AdamOptions& options, bool decay, double lr, double beta1,
                         int64_t step);

// Whether the Adam kernels below and the sparse path's SGD (sgd_kernel.h) run their AVX-512
// build (true by default where the CPU has AVX-512F and CD; COLLAB_NO_AVX512 set in the
// environment turns it off) or the portable one. The two round differently in the last bit or
// two; tests switch to the portable build to check it on AVX-512 machines too. Not for use while
// a step runs.
bool row_kernels_use_avx512();
void set_row_kernels_use_avx512(bool use);  // ignored (false) where the CPU lacks AVX-512F or CD

// r = sqrt(v) and v = r * r over n elements.
void second_moment_root(float* r, const float* v, int64_t n);
void second_moment_from_root(float* v, const float* r, int64_t n);

// sum_k a[k] b[k], with eight independent partial sums so the loop vectorises instead of waiting
// on one chain of additions (the summation order differs from ATen's by float rounding only).
// Inline for loops that are themselves built per instruction set (target_clones), so each
// clone gets its own; dot_product() is the out-of-line, multiversioned call for the others.
inline float dot_product_inline(const float* __restrict a, const float* __restrict b, int64_t n) {
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

float dot_product(const float* a, const float* b, int64_t n);

// Asks for the cache lines of a row of `bytes` bytes, to read or to write, into every level of
// cache (locality 3) or only as far as L2 (2).
// COLLAB_PREFETCH marks it and every helper around it: GCC 12 at -O2 judges a function whose only
// effect is a prefetch to be pure and deletes its calls before inlining them, so without it not
// one of these prefetches reached the binary (objdump found none).
#define COLLAB_PREFETCH __attribute__((always_inline)) inline
template <bool for_writing, int locality = 3>
COLLAB_PREFETCH void prefetch_row(const float* row, int64_t bytes) {
  const char* start = reinterpret_cast<const char*>(row);
  for (int64_t b = 0; b < bytes + 63; b += 64) {
    __builtin_prefetch(start + std::min(b, bytes - 1), for_writing ? 1 : 0, locality);
  }
}
// How far ahead of its use a row is prefetched: enough for the transfers to overlap, few enough
// that a large batch's rows are not evicted before their turn.
constexpr int64_t kRowLookahead = 16;

// grad_a += g * b and grad_b += g * a: one rating's contribution to its two factor rows.
void accumulate_pair(float* grad_a, float* grad_b, const float* a, const float* b, float g,
                     int64_t n);

// y += a * x.
void add_scaled(float* y, const float* x, float a, int64_t n);

// Adam on n contiguous parameters p with moments m and r (the root of the second moment, see
// above): with gradient g, or with a zero gradient (rows a batch did not touch, which still
// decay and move with their momentum). Every element takes the same arithmetic wherever it
// sits in a run, so a row's result does not depend on which rows around it a batch touched.
void adam_rows_with_grad(float* p, float* m, float* r, const float* g, int64_t n,
                         const AdamScalars& s);
void adam_rows_without_grad(float* p, float* m, float* r, int64_t n, const AdamScalars& s);

// `count` zero-gradient Adam steps, steps[0] first, on n contiguous parameters, with p, m and r
// held in registers from one step to the next instead of going through memory at every step.
// The result is adam_rows_without_grad's, step after step, bit for bit: it depends only on the
// values and the steps, not on how a run of steps is split into calls.
void adam_replay_without_grad(float* p, float* m, float* r, int64_t n, const AdamScalars* steps,
                              int64_t count);

// Adam on rows [begin, end) of an embedding table of `dim`-wide rows with moments m, r: row i
// takes gradient row grad + slot_of_row[i] * dim where slot_of_row[i] >= 0 (a row the batch
// touched), a zero gradient elsewhere.
void adam_table_rows(float* p, float* m, float* r, int64_t dim, const int32_t* slot_of_row,
                     const float* grad, int64_t begin, int64_t end, const AdamScalars& s);

}  // namespace collab
