// The sparse path's SGD kernel (train/src/sgd_kernel.h), in both builds (AVX-512 where this CPU
// has it, and the portable one): runs of ratings against the same updates computed one by one in
// double, at factor counts around the vector width, with and without biases and y_range, on
// catalogues small enough that neighbouring ratings share rows; grouped ratings against the same
// ratings one call each (bit for bit); and the errors of a run against double arithmetic.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernel_builds.h"
#include "row_kernels.h"
#include "sgd_kernel.h"

namespace test_sgd_kernel {

class SgdKernel : public KernelBuilds {};
INSTANTIATE_TEST_SUITE_P(Builds, SgdKernel, ::testing::Values(false, true), KernelBuilds::name);

// A model's tables and a run of ratings over them.
struct Problem {
  int64_t dim, stride;  // rows of P and Q are `stride` floats apart (padding left alone)
  std::vector<float> P, Q, bu, bi;
  std::vector<int32_t> users, items;
  collab::RatingValues ratings;

  Problem(int64_t users_n, int64_t items_n, int64_t dim_, int64_t n, uint32_t seed,
          int64_t padding = 0)
      : dim(dim_), stride(dim_ + padding) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> small(-0.3f, 0.3f);
    for (auto* table : {&P, &Q}) {
      table->resize(static_cast<size_t>((table == &P ? users_n : items_n) * stride));
      for (float& x : *table) x = small(gen);
    }
    bu.resize(static_cast<size_t>(users_n));
    bi.resize(static_cast<size_t>(items_n));
    for (float& x : bu) x = small(gen);
    for (float& x : bi) x = small(gen);
    std::uniform_int_distribution<int32_t> user(0, static_cast<int32_t>(users_n - 1));
    std::uniform_int_distribution<int32_t> item(0, static_cast<int32_t>(items_n - 1));
    std::vector<float> values;
    for (int64_t r = 0; r < n; ++r) {
      users.push_back(user(gen));
      items.push_back(item(gen));
      values.push_back(static_cast<float>(1 + gen() % 5));
    }
    ratings = collab::RatingValues::from_floats(values);
  }

  collab::SgdRun run(bool biases, const collab::OutputRange& range, int64_t first, int64_t n) {
    return {users.data() + first,
            items.data() + first,
            ratings.view().from(first),
            n,
            P.data(),
            Q.data(),
            biases ? bu.data() : nullptr,
            biases ? bi.data() : nullptr,
            dim,
            stride,
            /*lr=*/0.05f,
            /*decay=*/0.995f,
            range,
            /*prefetch=*/stride != dim};  // padded tables take the prefetching loop too
  }
};

// The kernel's updates, one rating after another, in double; returns the summed squared error.
double reference_sgd(Problem& p, bool biases, bool squash) {
  double loss = 0;
  for (size_t r = 0; r < p.users.size(); ++r) {
    float* u = p.P.data() + p.users[r] * p.stride;
    float* i = p.Q.data() + p.items[r] * p.stride;
    double x = 0;
    for (int64_t k = 0; k < p.dim; ++k) x += static_cast<double>(u[k]) * i[k];
    if (biases)
      x += static_cast<double>(p.bu[static_cast<size_t>(p.users[r])]) +
           p.bi[static_cast<size_t>(p.items[r])];
    const double s = 1 / (1 + std::exp(-x));
    const double pred = squash ? s * 5.5 : x, slope = squash ? s * (1 - s) * 5.5 : 1;
    const double err = pred - p.ratings[r];
    loss += err * err;
    const double lg = 0.05 * err * slope;
    for (int64_t k = 0; k < p.dim; ++k) {
      const double uk = u[k], ik = i[k];
      u[k] = static_cast<float>(uk * 0.995 - lg * ik);
      i[k] = static_cast<float>(ik * 0.995 - lg * uk);
    }
    if (biases) {
      float& b_u = p.bu[static_cast<size_t>(p.users[r])];
      float& b_i = p.bi[static_cast<size_t>(p.items[r])];
      b_u = static_cast<float>(b_u * 0.995 - lg);
      b_i = static_cast<float>(b_i * 0.995 - lg);
    }
  }
  return loss;
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, double tol,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    ASSERT_NEAR(got[k], want[k], tol) << what << "[" << k << "]";
  }
}

// 600 ratings on 6 users x 9 items (neighbours often share a row, so groups break up) and on
// 300 x 400 (groups of eight are the rule), at factor counts on both sides of 16 and 32.
TEST_P(SgdKernel, RunsMatchDoubleArithmeticRatingByRating) {
  const collab::OutputRange squashed(collab::YRange{0, 5.5}), identity;
  for (const auto& [users, items] : {std::pair<int64_t, int64_t>{6, 9}, {300, 400}}) {
    for (const int64_t dim : {1, 2, 15, 16, 17, 32, 50, 64, 100}) {
      for (const bool biases : {false, true}) {
        for (const bool squash : {false, true}) {
          // Rows padded to 16 floats as SparseTrainer pads them, or not at all.
          const int64_t padding = users == 6 ? 0 : (16 - dim % 16) % 16;
          Problem kernel(users, items, dim, 600, static_cast<uint32_t>(dim + users), padding);
          Problem reference = kernel;
          const double loss =
              collab::sgd_ratings(kernel.run(biases, squash ? squashed : identity, 0, 600));
          const double want = reference_sgd(reference, biases, squash);
          const std::string what = std::to_string(users) + " users, dim " + std::to_string(dim) +
                                   (biases ? ", biases" : "") + (squash ? ", y_range" : "");
          // float against double through 600 dependent updates (each row about 100 times on
          // the small catalogue): agreement to 1e-4 leaves room for rounding, not for a wrong
          // row, lane or order (those differ by 1e-2 or more).
          EXPECT_NEAR(loss, want, 1e-4 * want) << what;
          expect_near_all(kernel.P, reference.P, 1e-4, what + " P");
          expect_near_all(kernel.Q, reference.Q, 1e-4, what + " Q");
          expect_near_all(kernel.bu, reference.bu, 1e-4, what + " bu");
          expect_near_all(kernel.bi, reference.bi, 1e-4, what + " bi");
        }
      }
    }
  }
}

// Ratings taken eight at a time give the bits of the same ratings one call each.
TEST_P(SgdKernel, GroupedRatingsEqualOneAtATime) {
  const collab::OutputRange squashed(collab::YRange{0, 5.5});
  for (const int64_t dim : {7, 50}) {
    Problem together(40, 60, dim, 500, 3), alone = together;
    collab::sgd_ratings(together.run(true, squashed, 0, 500));
    for (int64_t r = 0; r < 500; ++r) collab::sgd_ratings(alone.run(true, squashed, r, 1));
    EXPECT_EQ(together.P, alone.P) << "dim " << dim;
    EXPECT_EQ(together.Q, alone.Q) << "dim " << dim;
    EXPECT_EQ(together.bu, alone.bu) << "dim " << dim;
    EXPECT_EQ(together.bi, alone.bi) << "dim " << dim;
  }
}

// The errors of a run (13 ratings: a group of eight and a rest; rows 53 floats apart) against
// double arithmetic; the tables are left as they were.
TEST_P(SgdKernel, ErrorsOfARunMatchDoubleArithmetic) {
  const collab::OutputRange squashed(collab::YRange{0, 5.5});
  Problem p(20, 30, 50, 13, 9, /*padding=*/3);
  const Problem before = p;
  const collab::ErrorSums sums = collab::rating_errors(p.run(true, squashed, 0, 13));
  double squared = 0, absolute = 0;
  for (size_t r = 0; r < 13; ++r) {
    double x = p.bu[static_cast<size_t>(p.users[r])] +
               static_cast<double>(p.bi[static_cast<size_t>(p.items[r])]);
    for (int64_t k = 0; k < 50; ++k) {
      x += static_cast<double>(p.P[static_cast<size_t>(p.users[r] * p.stride + k)]) *
           p.Q[static_cast<size_t>(p.items[r] * p.stride + k)];
    }
    const double err = 5.5 / (1 + std::exp(-x)) - p.ratings[r];
    squared += err * err;
    absolute += std::abs(err);
  }
  EXPECT_NEAR(sums.squared, squared, 1e-5 * squared);  // float predictions: relative 1e-5
  EXPECT_NEAR(sums.absolute, absolute, 1e-5 * absolute);
  EXPECT_EQ(p.P, before.P);
  EXPECT_EQ(p.Q, before.Q);
}

}  // namespace test_sgd_kernel
