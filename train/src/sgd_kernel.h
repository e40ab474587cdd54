// The sparse path's hot loops (sparse_train.cpp): per-rating SGD over a run of ratings (LIBMF's
// update with fastai's sigmoid_range on the output), and the errors of a run of ratings. Written
// for AVX-512 where the CPU has it (the switch of row_kernels.h, row_kernels_use_avx512),
// portable elsewhere; the two round differently (fused multiply-adds, the summation order of the
// dot product, an inline exp). The AVX-512 build takes up to eight ratings that share no user
// and no item at a time, so that their chains of dependent operations (dot product, exp,
// update) overlap: the updates touch disjoint rows, so the result is that of taking them in turn.
// Private to train/.
#pragma once

#include <cstdint>

#include "collab/data/ratings.h"
#include "collab/train/sigmoid_range.h"

namespace collab {

struct SgdRun {
  const int32_t* users;  // [n] rows of P
  const int32_t* items;  // [n] rows of Q
  RatingValues::View ratings;
  int64_t n;
  float* P;   // [users, stride], the first dim floats of each row used
  float* Q;   // [items, stride]
  float* bu;  // [users], null without biases
  float* bi;  // [items]
  int64_t dim;
  int64_t stride;   // floats from one row of P or Q to the next (>= dim)
  float lr, decay;  // decay = 1 - lr * wd
  OutputRange range;
  // Whether to ask for the rows of the ratings 8 ahead: it pays where the tables live in L3 or
  // memory, and costs where they sit in L2 (bench/RESULTS.md Session 12).
  bool prefetch = false;
};

// One SGD update per rating, in order: the prediction from the rows' current values, then each
// row from the other's old values (p' = p decay - lr e s q, q' = q decay - lr e s p, with e the
// error and s the output's slope). Returns the sum of the squared errors before each update.
double sgd_ratings(const SgdRun& run);

struct ErrorSums {
  double squared = 0, absolute = 0;
};

// The sums of the squared and absolute errors of the model's predictions of the ratings of
// `run`, which are left as they are (its lr and decay are not used).
ErrorSums rating_errors(const SgdRun& run);

}  // namespace collab
