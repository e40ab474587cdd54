// The fused dot-product step (train/fused_dot.h) against the reference it replaces: the
// autograd forward/backward of the eager model followed by FastaiAdam::step.
#include <gtest/gtest.h>

#include <limits>

#include <torch/torch.h>

#include "collab/models/collab_nn.h"
#include "collab/models/dot_product.h"
#include "collab/models/dot_product_bias.h"
#include "collab/train/adam.h"
#include "collab/train/fused_dot.h"
#include "collab/train/one_cycle.h"
#include "test_support.h"

namespace collab {
namespace test_fused_dot {

using test::step_both_ways;

constexpr int64_t kUsers = 37, kItems = 53, kBatch = 16;

CollabModel make(bool with_bias, std::optional<YRange> y_range, uint64_t seed) {
  torch::manual_seed(seed);
  if (with_bias) {
    DotProductBiasOptions o;
    o.shape = {kUsers, kItems};
    o.n_factors = 8;
    o.y_range = y_range;
    return DotProductBias(o).ptr();
  }
  DotProductOptions o;
  o.shape = {kUsers, kItems};
  o.n_factors = 8;
  o.y_range = y_range;
  return DotProduct(o).ptr();
}

// Trains two identical models for `steps` steps, one each way, and returns the largest
// relative difference of their parameters.
double max_relative_difference(bool with_bias, std::optional<YRange> y_range, int64_t steps,
                               int64_t deferred_from = FusedDotStep::kDeferredFrom) {
  CollabModel reference = make(with_bias, y_range, 7);
  CollabModel fused_model = make(with_bias, y_range, 7);
  AdamOptions options;
  options.weight_decay = 0.1;
  FastaiAdam reference_opt(fastai_param_groups(*reference), options);
  FastaiAdam fused_opt(fastai_param_groups(*fused_model), options);
  auto fused = FusedDotStep::create(*fused_model, fused_opt, kBatch, deferred_from);
  EXPECT_TRUE(fused);
  if (!fused) return 1e9;

  OneCycleOptions cycle;
  cycle.lr_max = 5e-2;  // large steps, so differences would show
  OneCycle schedule(cycle, steps);
  torch::manual_seed(99);
  for (int64_t t = 0; t < steps; ++t) {
    // Repeated users and items within a batch exercise gradient accumulation.
    Batch batch{torch::stack({torch::randint(kUsers, {kBatch}, torch::kLong),
                              torch::randint(kItems, {kBatch}, torch::kLong)},
                             1),
                torch::randint(1, 6, {kBatch}, torch::kFloat)};
    step_both_ways(*reference, reference_opt, *fused, batch, schedule.lr(t), schedule.beta1(t), t);
  }
  fused->flush();  // rows not touched lately have steps to take
  double worst = 0;
  const auto a = reference->named_parameters(), b = fused_model->named_parameters();
  for (const auto& item : a) {
    const torch::Tensor ref = item.value(), got = b[item.key()];
    const double scale = ref.abs().max().item<double>();
    worst = std::max(worst, (ref - got).abs().max().item<double>() / scale);
  }
  return worst;
}

// The two paths round differently (summation order, scalar casts), so they agree to float
// precision per step and drift slowly; the bound is 1e-5 relative after several steps.
TEST(FusedDot, DotProductBiasWithYRangeMatchesAutograd) {
  EXPECT_LE(max_relative_difference(true, YRange{0, 5.5}, 50), 1e-5);
}

TEST(FusedDot, DotProductWithoutYRangeMatchesAutograd) {
  EXPECT_LE(max_relative_difference(false, std::nullopt, 50), 1e-5);
}

TEST(FusedDot, DotProductWithYRangeMatchesAutograd) {
  EXPECT_LE(max_relative_difference(false, YRange{1, 5}, 50), 1e-5);
}

// The tests above train tables that defer untouched rows' steps (every table 8 wide or more
// does); the dense pass at every step, kept for narrower tables, against autograd too.
TEST(FusedDot, DensePassMatchesAutograd) {
  const int64_t never = std::numeric_limits<int64_t>::max();
  EXPECT_LE(max_relative_difference(true, YRange{0, 5.5}, 50, /*deferred_from=*/never), 1e-5);
  EXPECT_LE(max_relative_difference(false, std::nullopt, 50, /*deferred_from=*/never), 1e-5);
}

TEST(FusedDot, StepCountersAdvanceLikeTheOptimizer) {
  CollabModel model = make(true, std::nullopt, 1);
  FastaiAdam opt(fastai_param_groups(*model), AdamOptions{});
  auto fused = FusedDotStep::create(*model, opt, kBatch);
  ASSERT_TRUE(fused);
  Batch batch{torch::zeros({4, 2}, torch::kLong), torch::ones({4})};
  fused->step(batch, 1e-3, 0.9);
  fused->step(batch, 1e-3, 0.9);
  for (const auto& s : opt.states()) EXPECT_EQ(s.step, 2);
}

TEST(FusedDot, DeclinesOtherArchitectures) {
  CollabNNOptions o;
  o.shape = {kUsers, kItems};
  CollabNN model(o);
  FastaiAdam opt(fastai_param_groups(*model), AdamOptions{});
  EXPECT_EQ(FusedDotStep::create(*model, opt, kBatch), nullptr);
}

// Untouched rows take their missed steps late, with the same arithmetic: flushing after every
// step (a dense pass at every step) and flushing once at the end give the same bits, moments
// included.
TEST(FusedDot, DeferredStepsGiveTheBitsOfADensePass) {
  struct Trained {
    CollabModel model;
    std::unique_ptr<FastaiAdam> optimizer;
  };
  auto train = [](bool flush_every_step) {
    torch::manual_seed(5);
    DotProductBiasOptions o;
    o.shape = {kUsers, kItems};
    o.n_factors = 13;  // not a multiple of 8: the scalar tail of each row too
    o.y_range = YRange{0, 5.5};
    CollabModel model = DotProductBias(o).ptr();
    auto opt = std::make_unique<FastaiAdam>(fastai_param_groups(*model), AdamOptions{});
    auto fused = FusedDotStep::create(*model, *opt, kBatch, /*deferred_from=*/1);
    torch::manual_seed(6);
    for (int t = 0; t < 60; ++t) {
      Batch batch{torch::stack({torch::randint(kUsers, {kBatch}, torch::kLong),
                                torch::randint(kItems, {kBatch}, torch::kLong)},
                               1),
                  torch::randint(1, 6, {kBatch}, torch::kFloat)};
      fused->step(batch, 1e-2, 0.9);
      if (flush_every_step) fused->flush();
    }
    fused->flush();
    return Trained{model, std::move(opt)};
  };
  const Trained dense = train(true), deferred = train(false);
  const auto a = dense.model->named_parameters(), b = deferred.model->named_parameters();
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  auto& dense_states = dense.optimizer->states();
  auto& deferred_states = deferred.optimizer->states();
  for (size_t k = 0; k < dense_states.size(); ++k) {
    EXPECT_TRUE(torch::equal(dense_states[k].exp_avg, deferred_states[k].exp_avg));
    EXPECT_TRUE(torch::equal(dense_states[k].exp_avg_sq, deferred_states[k].exp_avg_sq));
  }
}

// MovieLens 100k's tables are large enough for the step pool. Each row takes its own steps in
// order whichever thread runs them, so 2 threads (one per side of the tables) or 3 (which cut a
// side between two of them), with prepare() bringing the next batch's rows up to date on them,
// must give exactly what 1 thread gives without prepare().
TEST(FusedDot, TwoThreadsAndPrepareGiveBitIdenticalParameters) {
  const int previous_threads = at::get_num_threads();
  auto train = [](int threads, bool prepare) {
    at::set_num_threads(threads);
    torch::manual_seed(3);
    DotProductBiasOptions o;
    o.shape = {943, 1682};
    o.n_factors = 50;
    o.y_range = YRange{0, 5.5};
    CollabModel model = DotProductBias(o).ptr();
    FastaiAdam opt(fastai_param_groups(*model), AdamOptions{});
    auto fused = FusedDotStep::create(*model, opt, 64);
    torch::manual_seed(4);
    std::vector<Batch> batches;
    for (int t = 0; t < 40; ++t) {
      // Few users, so that a batch names some twice and rows go untouched for a while.
      batches.push_back({torch::stack({torch::randint(100, {64}, torch::kLong),
                                       torch::randint(1682, {64}, torch::kLong)},
                                      1),
                         torch::randint(1, 6, {64}, torch::kFloat)});
    }
    for (size_t t = 0; t < batches.size(); ++t) {
      if (prepare && t + 1 < batches.size()) fused->prepare(batches[t + 1]);
      fused->step(batches[t], 5e-3, 0.9);
    }
    fused->flush();
    return model;
  };
  const CollabModel one = train(1, false), two = train(2, true), three = train(3, true);
  at::set_num_threads(previous_threads);
  const auto a = one->named_parameters();
  for (const CollabModel& other : {two, three}) {
    const auto b = other->named_parameters();
    for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  }
}

}  // namespace test_fused_dot
}  // namespace collab
