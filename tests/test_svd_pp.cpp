// SVDpp (models/svd_pp.h): the implicit-feedback term against the formula computed by hand, the
// views against forward(), and a saved state loaded into a model rebuilt without the ratings
// (its rated-item lists take the saved size).
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "collab/models/registry.h"
#include "collab/models/svd_pp.h"
#include "collab/train/trainer.h"
#include "implicit_sum.h"
#include "test_support.h"

namespace test_svd_pp {

using collab::json;
using collab::test::user_item_pairs;

// 3 users, 4 items: user 0 rated items 2 and 0, user 1 rated item 3, user 2 rated nothing.
collab::Ratings fixture_ratings() {
  collab::Ratings r;
  r.push_back(/*user=*/0, /*item=*/2, 4.0f, 0);
  r.push_back(/*user=*/1, /*item=*/3, 2.0f, 0);
  r.push_back(/*user=*/0, /*item=*/0, 5.0f, 0);
  return r;
}

collab::SVDpp fixture_model(const collab::Ratings* train) {
  collab::SVDppOptions options;
  options.shape = collab::ModelShape(3, 4);
  options.shape.train = train;
  options.n_factors = 2;
  collab::SVDpp model(options);
  torch::NoGradGuard no_grad;
  // Distinct values everywhere, so that a wrong row or a wrong normalisation shows.
  model->user_factors->weight.copy_(torch::tensor({{0.1f, 0.2f}, {0.3f, -0.1f}, {-0.2f, 0.4f}}));
  model->item_factors->weight.copy_(
      torch::tensor({{1.0f, 0.5f}, {-0.5f, 2.0f}, {0.25f, -1.0f}, {1.5f, 1.0f}}));
  model->implicit_factors->weight.copy_(
      torch::tensor({{0.2f, 0.1f}, {9.0f, 9.0f}, {-0.4f, 0.3f}, {0.6f, -0.2f}}));
  model->user_bias->weight.copy_(torch::tensor({{0.5f}, {-0.25f}, {1.0f}}));
  model->item_bias->weight.copy_(torch::tensor({{0.1f}, {0.2f}, {0.3f}, {0.4f}}));
  return model;
}

// The SVD++ formula for one (user, item), written out.
double by_hand(int64_t u, int64_t i) {
  const double p[3][2] = {{0.1, 0.2}, {0.3, -0.1}, {-0.2, 0.4}};
  const double q[4][2] = {{1.0, 0.5}, {-0.5, 2.0}, {0.25, -1.0}, {1.5, 1.0}};
  const double y[4][2] = {{0.2, 0.1}, {9.0, 9.0}, {-0.4, 0.3}, {0.6, -0.2}};
  const double bu[3] = {0.5, -0.25, 1.0}, bi[4] = {0.1, 0.2, 0.3, 0.4};
  const std::vector<std::vector<int>> rated = {{0, 2}, {3}, {}};
  double r = bu[u] + bi[i];
  for (int d = 0; d < 2; ++d) {
    double implicit = 0;
    for (int j : rated[u]) implicit += y[j][d];
    if (!rated[u].empty()) implicit /= std::sqrt(static_cast<double>(rated[u].size()));
    r += (p[u][d] + implicit) * q[i][d];
  }
  return r;
}

TEST(SVDpp, ForwardIsTheFormulaWithTheTrainingRatingsImplicitFeedback) {
  const collab::Ratings train = fixture_ratings();
  collab::SVDpp model = fixture_model(&train);
  EXPECT_EQ(model->rated_offsets.sizes(), (std::vector<int64_t>{4}));
  EXPECT_EQ(model->rated_items.sizes(), (std::vector<int64_t>{3}));
  // Every pair, users repeated within the batch and the user who rated nothing among them.
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t u = 0; u < 3; ++u)
    for (int64_t i = 0; i < 4; ++i) pairs.emplace_back(u, i);
  const torch::Tensor y = model->forward(user_item_pairs(pairs));
  for (size_t k = 0; k < pairs.size(); ++k) {
    // float arithmetic over a handful of terms of size ~1: 1e-5 is far above its rounding.
    EXPECT_NEAR(y[k].item<double>(), by_hand(pairs[k].first, pairs[k].second), 1e-5) << k;
  }
}

TEST(SVDpp, ViewsScoreAsForwardDoes) {
  const collab::Ratings train = fixture_ratings();
  collab::SVDpp model = fixture_model(&train);
  model->eval();
  const torch::Tensor users = model->user_vectors();
  ASSERT_EQ(users.sizes(), (std::vector<int64_t>{3, 3}));  // factors + the bias coordinate
  for (int64_t u = 0; u < 3; ++u) {
    const torch::Tensor scores = model->score_items(users[u]);
    for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(scores[i].item<double>(), by_hand(u, i), 1e-5);
  }
  EXPECT_TRUE(model->data_sized_buffer("rated_items"));
  EXPECT_FALSE(model->data_sized_buffer("user_factors.weight"));
}

TEST(SVDpp, SavedStateResizesTheRatedItemListsOfARebuiltModel) {
  const collab::Ratings train = fixture_ratings();
  collab::SVDpp trained = fixture_model(&train);
  collab::TrainerState state;
  for (const auto& p : trained->named_parameters()) state.parameters.emplace_back(p.key(), p.value());
  for (const auto& b : trained->named_buffers()) state.buffers.emplace_back(b.key(), b.value());

  const json config = {{"arch", "SVDpp"}, {"n_factors", 2}, {"y_range", nullptr}};
  collab::ConfigReader reader(config, "model", nullptr);
  const collab::CollabModel rebuilt = collab::build_model(reader, {3, 4});  // no ratings
  collab::load_model_state(*rebuilt, state);
  const torch::Tensor y = rebuilt->forward(user_item_pairs({{0, 1}, {1, 3}, {2, 0}}));
  EXPECT_NEAR(y[0].item<double>(), by_hand(0, 1), 1e-5);
  EXPECT_NEAR(y[1].item<double>(), by_hand(1, 3), 1e-5);
  EXPECT_NEAR(y[2].item<double>(), by_hand(2, 0), 1e-5);

  // A parameter of another shape is still refused.
  state.parameters[0].second = torch::zeros({5, 2});
  EXPECT_THROW(collab::load_model_state(*rebuilt, state), collab::Error);
}

// The fused implicit term (the CPU's) against the composed one (CUDA's and the export's): the same
// sums in the same order forward, so equal to the bit; backward the same sums per item, added in
// the same user order, so equal to float rounding of sums of at most a few hundred terms.
TEST(SVDpp, FusedImplicitTermMatchesTheComposedOne) {
  torch::manual_seed(11);
  collab::Ratings ratings;
  for (int k = 0; k < 600; ++k) {
    ratings.push_back(/*user=*/k % 37, /*item=*/(k * 7 + k / 37) % 29, 3.0f, 0);
  }
  collab::SVDppOptions options;
  options.shape = collab::ModelShape(40, 29);  // users 37..39 rated nothing
  options.shape.train = &ratings;
  options.n_factors = 13;  // not a multiple of a vector width
  collab::SVDpp model(options);
  // A batch with repeated users and users without ratings.
  const torch::Tensor users = torch::tensor({3, 38, 3, 0, 36, 12, 39, 12, 5}, torch::kLong);
  const torch::Tensor upstream = torch::randn({users.size(0), 13});
  auto run = [&](bool fused) {
    torch::Tensor table = model->implicit_factors->weight.detach().clone().requires_grad_(true);
    const torch::Tensor out =
        fused ? collab::implicit_sum_fused(table, model->rated_offsets, model->rated_items, users)
              : collab::implicit_sum_composed(table, model->rated_offsets, model->rated_items,
                                              users);
    (out * upstream).sum().backward();
    return std::make_pair(out.detach(), table.grad());
  };
  ASSERT_TRUE(collab::implicit_sum_fusable(model->implicit_factors->weight));
  const auto [fused_out, fused_grad] = run(true);
  const auto [composed_out, composed_grad] = run(false);
  EXPECT_TRUE(torch::equal(fused_out, composed_out));
  EXPECT_TRUE(torch::allclose(fused_grad, composed_grad, /*rtol=*/1e-6, /*atol=*/1e-7));
  EXPECT_EQ(fused_out[1].abs().sum().item<float>(), 0.0f);  // a user who rated nothing
  // What the model's forward uses on the CPU.
  EXPECT_TRUE(torch::equal(model->implicit_term(users), fused_out));
  EXPECT_FALSE(collab::implicit_sum_fusable(model->implicit_factors->weight.to(torch::kDouble)));
}

}  // namespace test_svd_pp
