// The fused steps' Adam kernels (train/src/row_kernels.h), in both builds (AVX-512 where this CPU
// has it, and the portable one): one step against fastai's formula evaluated in double, a
// replay of several steps against the same steps one by one (bit for bit, at every length and
// alignment), rows alone against rows in a run, and the exact round trip of the second
// moment's root.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernel_builds.h"
#include "row_kernels.h"

namespace test_row_kernels {

using collab::AdamOptions;
using collab::AdamScalars;

class RowKernels : public KernelBuilds {};
INSTANTIATE_TEST_SUITE_P(Builds, RowKernels, ::testing::Values(false, true), KernelBuilds::name);

std::vector<float> random_values(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

AdamScalars scalars(int64_t step, double lr = 3e-3, double beta1 = 0.9) {
  AdamOptions o;
  o.weight_decay = 0.1;
  return collab::adam_scalars(o, /*decay=*/true, lr, beta1, step);
}

// 64-byte-aligned storage with room to start a run at any float offset.
struct Buffer {
  std::vector<float> storage;
  float* at(size_t offset) {
    auto address = reinterpret_cast<uintptr_t>(storage.data());
    float* aligned = storage.data() + ((64 - address % 64) % 64) / 4;
    return aligned + offset;
  }
  explicit Buffer(size_t n) : storage(n + 32, 0.0f) {}
};

// fastai's Adam step on one element, in double, from the second moment v.
struct Reference {
  double p, m, v;
};
Reference fastai_step(double p, double m, double v, double g, int64_t step, double lr,
                      double beta1) {
  const double beta2 = 0.99, eps = 1e-5, wd = 0.1;
  m = beta1 * m + (1 - beta1) * g;
  v = beta2 * v + (1 - beta2) * g * g;
  const double debias1 = 1 - std::pow(beta1, step), debias2 = 1 - std::pow(beta2, step);
  p = p * (1 - lr * wd) - lr / debias1 * m / (std::sqrt(v / debias2) + eps);
  return {p, m, v};
}

// One step with and one without gradient agree with the formula in double. The bounds are float
// rounding: the update to 1e-5 of its size (a few roundings, and the AVX-512 build's refined
// reciprocal) plus an ulp of p, which stores it; m to an ulp of its two terms, which can cancel.
TEST_P(RowKernels, OneStepMatchesFastaisFormula) {
  const size_t n = 203;
  std::vector<float> p = random_values(n, -0.5f, 0.5f, 1), m = random_values(n, -1e-2f, 1e-2f, 2),
                     v = random_values(n, 1e-9f, 1e-4f, 3), g = random_values(n, -0.1f, 0.1f, 4);
  const double ulp = 1.2e-7;
  for (bool with_grad : {true, false}) {
    std::vector<float> pk = p, mk = m, r(n);
    collab::second_moment_root(r.data(), v.data(), n);
    const int64_t step = 7;
    if (with_grad) {
      collab::adam_rows_with_grad(pk.data(), mk.data(), r.data(), g.data(), n, scalars(step));
    } else {
      collab::adam_rows_without_grad(pk.data(), mk.data(), r.data(), n, scalars(step));
    }
    for (size_t k = 0; k < n; ++k) {
      const double gk = with_grad ? g[k] : 0.0;
      const Reference want = fastai_step(p[k], m[k], v[k], gk, step, 3e-3, 0.9);
      const double update = want.p - p[k];
      EXPECT_NEAR(pk[k], want.p, 1e-5 * std::abs(update) + ulp * std::abs(want.p)) << k;
      EXPECT_NEAR(mk[k], want.m, ulp * (std::abs(0.9 * m[k]) + std::abs(0.1 * gk))) << k;
      EXPECT_NEAR(double(r[k]) * r[k], want.v, 4 * ulp * want.v) << k;
    }
  }
}

// The deferred rows replay steps in registers; the dense pass takes them one at a time. Both
// must give the same bits for every run length and every alignment of its start.
TEST_P(RowKernels, ReplayGivesTheBitsOfStepByStep) {
  std::vector<AdamScalars> steps;
  for (int64_t t = 1; t <= 6; ++t) steps.push_back(scalars(10 + t, 1e-3 * t, 0.95 - 0.01 * t));
  for (size_t n : {1, 2, 7, 15, 16, 17, 31, 33, 50, 64, 67, 100}) {
    for (size_t offset = 0; offset < 16; ++offset) {
      Buffer p1(n + 16), m1(n + 16), r1(n + 16);
      const std::vector<float> p0 = random_values(n, -1, 1, static_cast<uint32_t>(n + offset)),
                               m0 = random_values(n, -1e-2f, 1e-2f, 5),
                               r0 = random_values(n, 1e-5f, 1e-2f, 6);
      std::copy(p0.begin(), p0.end(), p1.at(offset));
      std::copy(m0.begin(), m0.end(), m1.at(offset));
      std::copy(r0.begin(), r0.end(), r1.at(offset));
      std::vector<float> p2 = p0, m2 = m0, r2 = r0;
      collab::adam_replay_without_grad(p1.at(offset), m1.at(offset), r1.at(offset),
                                       static_cast<int64_t>(n), steps.data(),
                                       static_cast<int64_t>(steps.size()));
      for (const AdamScalars& s : steps) {
        collab::adam_rows_without_grad(p2.data(), m2.data(), r2.data(), static_cast<int64_t>(n), s);
      }
      for (size_t k = 0; k < n; ++k) {
        ASSERT_EQ(p1.at(offset)[k], p2[k]) << "n " << n << " offset " << offset << " k " << k;
        ASSERT_EQ(m1.at(offset)[k], m2[k]);
        ASSERT_EQ(r1.at(offset)[k], r2[k]);
      }
    }
  }
}

void table_rows_equal_each_row_alone(int64_t dim);

// A row's result must not depend on the rows around it (which the batch touched decides where
// runs start and end): a table pass equals each row updated alone. Width 1 (biases) takes its
// own AVX-512 loop, 16 rows a vector.
TEST_P(RowKernels, TableRowsEqualEachRowAlone) {
  for (const int64_t dim : {1, 13, 50}) table_rows_equal_each_row_alone(dim);
}

void table_rows_equal_each_row_alone(int64_t dim) {
  const int64_t rows = 45;
  const size_t n = rows * dim;
  std::vector<int32_t> slot_of_row(rows, -1);
  slot_of_row[3] = 0;
  slot_of_row[4] = 1;
  slot_of_row[17] = 2;
  slot_of_row[44] = 3;
  const std::vector<float> grad = random_values(4 * dim, -0.1f, 0.1f, 7);
  const std::vector<float> p0 = random_values(n, -1, 1, 8), m0 = random_values(n, -1e-2f, 1e-2f, 9),
                           r0 = random_values(n, 1e-5f, 1e-2f, 10);
  Buffer p(n), m(n), r(n);
  std::copy(p0.begin(), p0.end(), p.at(0));
  std::copy(m0.begin(), m0.end(), m.at(0));
  std::copy(r0.begin(), r0.end(), r.at(0));
  const AdamScalars s = scalars(3);
  collab::adam_table_rows(p.at(0), m.at(0), r.at(0), dim, slot_of_row.data(), grad.data(), 0, rows,
                          s);
  for (int64_t row = 0; row < rows; ++row) {
    const auto from = static_cast<size_t>(row * dim);
    std::vector<float> pr(p0.begin() + from, p0.begin() + from + dim),
        mr(m0.begin() + from, m0.begin() + from + dim),
        rr(r0.begin() + from, r0.begin() + from + dim);
    const int32_t slot = slot_of_row[row];
    if (slot >= 0) {
      collab::adam_rows_with_grad(pr.data(), mr.data(), rr.data(), grad.data() + slot * dim, dim,
                                  s);
    } else {
      collab::adam_rows_without_grad(pr.data(), mr.data(), rr.data(), dim, s);
    }
    for (int64_t k = 0; k < dim; ++k) {
      ASSERT_EQ(p.at(0)[from + k], pr[k]) << "dim " << dim << " row " << row << " k " << k;
      ASSERT_EQ(m.at(0)[from + k], mr[k]);
      ASSERT_EQ(r.at(0)[from + k], rr[k]);
    }
  }
}

// Checkpoints hold v = r * r and a resumed run takes r = sqrt(v) again: the round trip must give
// r back exactly, or a resumed run would drift from an uninterrupted one. (In binary floating
// point sqrt(r * r) == r unless r * r leaves the normal range.)
TEST(RowKernelsRoot, RoundTripThroughTheSecondMomentIsExact) {
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-60, 60);
  std::vector<float> r(100000);
  for (float& x : r) x = std::ldexp(mantissa(gen), exponent(gen));
  std::vector<float> v(r.size()), back(r.size());
  collab::second_moment_from_root(v.data(), r.data(), static_cast<int64_t>(r.size()));
  collab::second_moment_root(back.data(), v.data(), static_cast<int64_t>(r.size()));
  for (size_t k = 0; k < r.size(); ++k) ASSERT_EQ(back[k], r[k]) << r[k];
}

}  // namespace test_row_kernels
