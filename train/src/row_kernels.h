// Row kernels shared by the CPU training paths (fused_dot.cpp, fused_nn.cpp, sparse_train.cpp):
// dot products and gradient accumulation over embedding rows, and fastai's Adam update of a
// stretch of parameters with or without a gradient, vectorised for AVX2/FMA where the CPU has
// it. Private to train/: the paths' own headers stay free of kernel details.
#pragma once

#include <cstdint>

#include "collab/train/adam_options.h"

// The kernels are bound by arithmetic (sqrt, divide, multiply-add) over rows that sit in cache:
// functions marked COLLAB_MULTIVERSION are built for AVX2/FMA machines too, picked at load time,
// while the binary still runs on any x86-64.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define COLLAB_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define COLLAB_MULTIVERSION
#endif

namespace collab {

// Adam's per-step scalars, in float as ATen applies double scalars to float tensors.
struct AdamScalars {
  float decay;  // 1 - lr * wd (1 when the parameter is not decayed)
  float beta1, one_minus_beta1;
  float beta2, one_minus_beta2;
  float inv_debias2;    // 1 / (1 - beta2^t): a multiply, where a second divide would cost as much
                        // as the sqrt (the pass is bound by divide/sqrt throughput)
  float neg_step_size;  // -lr / (1 - beta1^t)
  float eps;
};

// The scalars of Adam step `step` (counted from 1) of a parameter that `decay`s or not, with
// the scheduled lr and beta1: FastaiAdam::step's formula.
AdamScalars adam_scalars(const AdamOptions& options, bool decay, double lr, double beta1,
                         int64_t step);

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

// grad_a += g * b and grad_b += g * a: one rating's contribution to its two factor rows.
void accumulate_pair(float* grad_a, float* grad_b, const float* a, const float* b, float g,
                     int64_t n);

// y += a * x.
void add_scaled(float* y, const float* x, float a, int64_t n);

// Adam on n contiguous parameters p with moments m, v: with gradient g, or with a zero gradient
// (rows a batch did not touch, which still decay and move with their momentum).
void adam_rows_with_grad(float* p, float* m, float* v, const float* g, int64_t n,
                         const AdamScalars& s);
void adam_rows_without_grad(float* p, float* m, float* v, int64_t n, const AdamScalars& s);

// `count` zero-gradient Adam steps, steps[0] first, on n contiguous parameters, with p, m and v
// held in registers from one step to the next instead of going through memory at every step.
// The result depends only on the values and the steps, not on how a run of steps is split into
// calls. (Its AVX2 arithmetic is adam_rows_without_grad's, also for the last n % 8 parameters,
// which adam_rows_without_grad leaves to scalar sqrt and divide.)
void adam_replay_without_grad(float* p, float* m, float* v, int64_t n, const AdamScalars* steps,
                              int64_t count);

// Adam on rows [begin, end) of an embedding table of `dim`-wide rows with moments m, v: row r
// takes gradient row grad + slot_of_row[r] * dim where slot_of_row[r] >= 0 (a row the batch
// touched), a zero gradient elsewhere.
void adam_table_rows(float* p, float* m, float* v, int64_t dim, const int32_t* slot_of_row,
                     const float* grad, int64_t begin, int64_t end, const AdamScalars& s);

}  // namespace collab
