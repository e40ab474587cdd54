// The fused CollabNN step (train/fused_nn.h) against the reference it replaces: the autograd
// forward/backward of the eager model, mse_loss and FastaiAdam::step.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "collab/models/collab_nn.h"
#include "collab/models/dot_product_bias.h"
#include "collab/train/adam.h"
#include "collab/train/fused_nn.h"
#include "collab/train/fused_step.h"
#include "collab/train/one_cycle.h"
#include "test_support.h"

namespace collab {
namespace test_fused_nn {

using test::step_both_ways;

constexpr int64_t kUsers = 37, kItems = 53, kBatch = 16;

// Odd widths (7 + 10 inputs, hidden sizes not multiples of 8) reach the kernels' remainder paths.
CollabNNOptions options(std::vector<int64_t> layers, std::optional<YRange> y_range) {
  CollabNNOptions o;
  o.shape = {kUsers, kItems};
  o.user_embedding = 7;
  o.item_embedding = 10;
  o.layers = std::move(layers);
  o.y_range = y_range;
  return o;
}

CollabNN make(const CollabNNOptions& o, uint64_t seed) {
  torch::manual_seed(seed);
  return CollabNN(o);
}

// The largest difference between same-named tensors of `a` and `b`, relative to the largest
// magnitude in a's tensor.
double worst_relative(const std::vector<std::pair<std::string, torch::Tensor>>& a,
                      const std::vector<std::pair<std::string, torch::Tensor>>& b) {
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    const double scale = a[k].second.abs().max().item<double>();
    const double diff = (a[k].second - b[k].second).abs().max().item<double>();
    if (scale > 0) worst = std::max(worst, diff / scale);
    EXPECT_EQ(a[k].first, b[k].first);
  }
  return worst;
}

struct Difference {
  double parameters = 0, exp_avg = 0, exp_avg_sq = 0;
};

// Trains two identical models for `steps` steps, one each way, on random batches (repeated
// users and items, and a last batch shorter than the rest), and returns the largest relative
// differences of their parameters and Adam moments.
Difference train_both(const CollabNNOptions& o, int64_t steps) {
  CollabNN reference = make(o, 7);
  CollabNN fused_model = make(o, 7);
  AdamOptions adam;
  adam.weight_decay = 0.1;
  FastaiAdam reference_opt(fastai_param_groups(*reference), adam);
  FastaiAdam fused_opt(fastai_param_groups(*fused_model), adam);
  auto fused = FusedNNStep::create(*fused_model, fused_opt, kBatch);
  EXPECT_TRUE(fused);
  if (!fused) return {1e9, 1e9, 1e9};

  OneCycleOptions cycle;
  cycle.lr_max = 1e-2;  // large steps, so differences would show
  OneCycle schedule(cycle, steps);
  torch::manual_seed(99);
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t n = t + 1 == steps ? kBatch - 5 : kBatch;
    torch::Tensor users = torch::randint(kUsers, {n}, torch::kLong);
    if (t == 0) users.fill_(3);  // one user throughout: its gradient row sums 16 ratings
    Batch batch{torch::stack({users, torch::randint(kItems, {n}, torch::kLong)}, 1),
                torch::randint(1, 6, {n}, torch::kFloat)};
    step_both_ways(*reference, reference_opt, *fused, batch, schedule.lr(t), schedule.beta1(t), t);
  }
  fused->flush();  // the second moments, kept as roots while the fused step trains
  Difference d;
  std::vector<std::pair<std::string, torch::Tensor>> params[2], m[2], v[2];
  int side = 0;
  for (CollabNN* model : {&reference, &fused_model}) {
    FastaiAdam& opt = side == 0 ? reference_opt : fused_opt;
    for (const auto& item : (*model)->named_parameters()) {
      params[side].emplace_back(item.key(), item.value().detach());
      const FastaiAdam::State& s = opt.state_of(item.value());
      m[side].emplace_back(item.key(), s.exp_avg);
      v[side].emplace_back(item.key(), s.exp_avg_sq);
      EXPECT_EQ(s.step, steps) << item.key();
    }
    ++side;
  }
  d.parameters = worst_relative(params[0], params[1]);
  d.exp_avg = worst_relative(m[0], m[1]);
  d.exp_avg_sq = worst_relative(v[0], v[1]);
  return d;
}

// The two paths round differently (summation orders, scalar casts), so they agree to float
// precision per step and drift slowly; the bound is 1e-5 relative after several steps.
void expect_equivalent(const CollabNNOptions& o) {
  const Difference d = train_both(o, 30);
  EXPECT_LE(d.parameters, 1e-5);
  EXPECT_LE(d.exp_avg, 1e-5);
  EXPECT_LE(d.exp_avg_sq, 1e-5);
}

TEST(FusedNN, OneHiddenLayerWithYRangeMatchesAutograd) {
  expect_equivalent(options({13}, YRange{0, 5.5}));
}

TEST(FusedNN, OneHiddenLayerWithoutYRangeMatchesAutograd) {
  expect_equivalent(options({13}, std::nullopt));
}

TEST(FusedNN, TwoHiddenLayersWithYRangeMatchesAutograd) {
  expect_equivalent(options({21, 9}, YRange{1, 5}));
}

TEST(FusedNN, TwoHiddenLayersWithoutYRangeMatchesAutograd) {
  expect_equivalent(options({21, 9}, std::nullopt));
}

TEST(FusedNN, RefusesBatchesBeyondItsBuffers) {
  CollabNN model = make(options({8}, std::nullopt), 1);
  FastaiAdam opt(fastai_param_groups(*model), AdamOptions{});
  auto fused = FusedNNStep::create(*model, opt, 4);
  ASSERT_TRUE(fused);
  Batch batch{torch::zeros({5, 2}, torch::kLong), torch::ones({5})};
  EXPECT_THROW(fused->step(batch, 1e-3, 0.9), std::logic_error);
}

// BatchNorm and dropout keep the autograd path: the fused step has neither.
TEST(FusedNN, DeclinesBatchNormAndDropout) {
  CollabNNOptions batchnorm = options({8}, std::nullopt);
  batchnorm.batchnorm = true;
  CollabNNOptions dropout = options({8, 4}, std::nullopt);
  dropout.dropout = {0.0, 0.2};
  CollabNNOptions embedding_dropout = options({8}, std::nullopt);
  embedding_dropout.embedding_dropout = 0.1;
  for (const CollabNNOptions& o : {batchnorm, dropout, embedding_dropout}) {
    CollabNN model = make(o, 1);
    FastaiAdam opt(fastai_param_groups(*model), AdamOptions{});
    EXPECT_EQ(FusedNNStep::create(*model, opt, kBatch), nullptr);
    EXPECT_EQ(make_fused_step(*model, opt, kBatch), nullptr);
  }
  // A dropout of 0 adds no layer: that model is plain.
  CollabNNOptions zero = options({8}, std::nullopt);
  zero.dropout = {0.0};
  CollabNN model = make(zero, 1);
  FastaiAdam opt(fastai_param_groups(*model), AdamOptions{});
  EXPECT_NE(FusedNNStep::create(*model, opt, kBatch), nullptr);
}

TEST(FusedNN, DeclinesOtherArchitecturesAndMakeFusedStepPicksIt) {
  DotProductBiasOptions o;
  o.shape = {kUsers, kItems};
  DotProductBias dot(o);
  FastaiAdam dot_opt(fastai_param_groups(*dot), AdamOptions{});
  EXPECT_EQ(FusedNNStep::create(*dot, dot_opt, kBatch), nullptr);

  CollabNN nn = make(options({8}, std::nullopt), 1);
  FastaiAdam nn_opt(fastai_param_groups(*nn), AdamOptions{});
  auto step = make_fused_step(*nn, nn_opt, kBatch);
  EXPECT_NE(dynamic_cast<FusedNNStep*>(step.get()), nullptr);
}

}  // namespace test_fused_nn
}  // namespace collab
