// Fold-in recovers a planted user vector on synthetic data (dot-product models, with and
// without y_range), returns the mean user without ratings, and fits CollabNN by gradient steps.
#include <gtest/gtest.h>

#include <vector>

#include "collab/common/error.h"
#include "collab/models/biases.h"
#include "collab/models/collab_nn.h"
#include "collab/models/dot_product_bias.h"
#include "collab/infer/fold_in.h"

namespace test_fold_in {

namespace {

constexpr int64_t kUsers = 300, kItems = 200, kFactors = 5;

collab::DotProductBias planted_model(std::optional<collab::YRange> range) {
  torch::manual_seed(1);
  collab::DotProductBiasOptions options;
  options.shape = {kUsers, kItems};
  options.n_factors = kFactors;
  options.y_range = range;
  collab::DotProductBias model(options);
  torch::NoGradGuard no_grad;
  model->item_factors->weight.copy_(torch::randn({kItems, kFactors}) * 0.5);
  model->item_bias->weight.copy_(torch::randn({kItems, 1}) * 0.3);
  model->user_factors->weight.copy_(torch::randn({kUsers, kFactors}) * 0.5);
  model->user_bias->weight.copy_(torch::randn({kUsers, 1}) * 0.2);
  model->eval();
  return model;
}

// The planted user's ratings of the first `n` items, computed by the model itself.
void planted_ratings(collab::CollabModelImpl& model, const torch::Tensor& w, int64_t n,
                     std::vector<int64_t>& items, std::vector<float>& ratings) {
  torch::NoGradGuard no_grad;
  const torch::Tensor r = model.score_items(w);
  for (int64_t i = 0; i < n; ++i) {
    items.push_back(i);
    ratings.push_back(r[i].item<float>());
  }
}

TEST(FoldIn, UserSideMatchesForward) {
  auto model = planted_model(collab::YRange{0, 5.5});
  torch::NoGradGuard no_grad;
  const torch::Tensor pairs = torch::stack(
      {torch::full({kItems}, 7, torch::kLong), torch::arange(kItems, torch::kLong)}, 1);
  const torch::Tensor direct = model->forward(pairs);
  const torch::Tensor via = model->score_items(model->user_vectors()[7]);
  EXPECT_LE((direct - via).abs().max().item<double>(), 1e-5);
}

TEST(FoldIn, RecoversAPlantedUserVector) {
  for (const auto& range :
       {std::optional<collab::YRange>{}, std::optional<collab::YRange>(collab::YRange{0, 5.5})}) {
    auto model = planted_model(range);
    const torch::Tensor planted = torch::tensor({0.8f, -0.6f, 0.3f, 0.0f, -0.9f, 0.4f});
    std::vector<int64_t> items;
    std::vector<float> ratings;
    planted_ratings(*model, planted, 60, items, ratings);
    collab::FoldInOptions options;
    options.prior_weight = 1e-7;  // noise-free ratings: no pull needed
    options.gauss_newton_steps = 30;
    const torch::Tensor w = collab::fold_in_user(*model, items, ratings, options);
    EXPECT_LE((w - planted).abs().max().item<double>(), 1e-3)
        << (range ? "with" : "without") << " y_range: " << w;
  }
}

TEST(FoldIn, FewRatingsStayNearTheUsersAndNoneGiveTheMean) {
  auto model = planted_model(collab::YRange{0, 5.5});
  const torch::Tensor mean = model->user_vectors().mean(0);
  EXPECT_LE((collab::fold_in_user(*model, {}, {}) - mean).abs().max().item<double>(), 1e-6);
  // Two extreme ratings cannot fling six coordinates far: the prior keeps the vector within a
  // few standard deviations of the trained users.
  const torch::Tensor w = collab::fold_in_user(*model, {3, 4}, {5.0f, 5.0f});
  const torch::Tensor sd = model->user_vectors().std(0);
  EXPECT_LE(((w - mean) / sd).abs().max().item<double>(), 4.0) << w;
}

// A bias-only model has no item factors: its one user coordinate (the user bias) folds in
// through its linear user model all the same.
TEST(FoldIn, BiasesFoldsInTheUserBias) {
  torch::manual_seed(2);
  collab::BiasesOptions options;
  options.shape = {kUsers, kItems};
  collab::Biases model(options);
  {
    torch::NoGradGuard no_grad;
    model->item_bias->weight.copy_(torch::randn({kItems, 1}) * 0.3);
    model->user_bias->weight.copy_(torch::randn({kUsers, 1}) * 0.2);
  }
  model->eval();
  const torch::Tensor planted = torch::tensor({0.7f});
  std::vector<int64_t> items;
  std::vector<float> ratings;
  planted_ratings(*model, planted, 20, items, ratings);
  collab::FoldInOptions fold;
  fold.prior_weight = 1e-7;
  const torch::Tensor w = collab::fold_in_user(*model, items, ratings, fold);
  EXPECT_NEAR(w[0].item<double>(), 0.7, 1e-4) << w;
  EXPECT_THROW(collab::fold_in_user(*model, {kItems}, {3.0f}), collab::Error);
}

TEST(FoldIn, CollabNNGradientStepsFitTheGivenRatings) {
  torch::manual_seed(2);
  collab::CollabNNOptions options;
  options.shape = {50, 40};
  options.layers = {16};
  options.y_range = collab::YRange{0, 5.5};
  collab::CollabNN model(options);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.copy_(torch::randn_like(p) * 0.5);
  }
  model->eval();
  const torch::Tensor planted = torch::randn({model->user_factors->weight.size(1)}) * 0.5;
  std::vector<int64_t> items;
  std::vector<float> ratings;
  planted_ratings(*model, planted, 20, items, ratings);
  const torch::Tensor index = torch::tensor(items, torch::kLong);
  const torch::Tensor target = torch::tensor(ratings);
  torch::NoGradGuard no_grad;
  const auto error = [&](const torch::Tensor& w) {
    return (model->score_items(w, index) - target).square().mean().item<double>();
  };
  collab::FoldInOptions fold;
  fold.prior_weight = 1e-4;
  torch::Tensor w;
  {
    torch::AutoGradMode grad(true);
    w = collab::fold_in_user(*model, items, ratings, fold);
  }
  const double before = error(model->user_vectors().mean(0));
  EXPECT_LT(error(w), 0.2 * before) << "mean user " << before << ", folded in " << error(w);
  for (const auto& p : model->parameters())
    EXPECT_FALSE(p.grad().defined() && p.grad().abs().sum().item<double>() > 0);
}

}  // namespace

}  // namespace test_fold_in
