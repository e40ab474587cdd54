// top_k with exclusions, cosine neighbours on a hand-made case, and PCA on planted directions.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "collab/common/error.h"
#include "collab/infer/neighbours.h"
#include "collab/infer/pca.h"
#include "collab/infer/top_k.h"

namespace test_neighbours {

namespace {

TEST(TopK, ExcludesAndOrders) {
  const torch::Tensor scores = torch::tensor({3.0, 5.0, 4.0, 5.0, 1.0});
  auto top = collab::top_k(scores, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].item, 1);  // ties: lower index first
  EXPECT_EQ(top[1].item, 3);
  EXPECT_EQ(top[2].item, 2);
  top = collab::top_k(scores, 0, {1, 3, 42});  // 42: out of range, ignored
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].item, 2);
  EXPECT_DOUBLE_EQ(top[0].score, 4.0);
  for (const auto& s : top) EXPECT_TRUE(s.item != 1 && s.item != 3);
  EXPECT_EQ(collab::top_k(scores, 10).size(), 5u);
}

TEST(TopK, NanRanksLast) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto top = collab::top_k(torch::tensor({nan, 1.0, 2.0}, torch::kDouble), 0);
  EXPECT_EQ(top[0].item, 2);
  EXPECT_EQ(top[2].item, 0);
}

TEST(Neighbours, CosineOnAHandMadeCase) {
  const torch::Tensor f =
      torch::tensor({1.0, 0.0, 2.0, 2.0, 0.0, 3.0, -4.0, 0.0, 0.0, 0.0}).view({5, 2});
  const torch::Tensor cos = collab::cosine_similarities(f, 0);
  EXPECT_NEAR(cos[0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(cos[1].item<double>(), 1.0 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(cos[2].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(cos[3].item<double>(), -1.0, 1e-12);
  EXPECT_EQ(cos[4].item<double>(), 0.0);  // a zero vector: 0, not NaN
  const auto near = collab::nearest_items(f, 0, 3);
  ASSERT_EQ(near.size(), 3u);
  EXPECT_EQ(near[0].item, 1);
  EXPECT_EQ(near[1].item, 2);  // 0 tie with the zero row 4: lower index first
  EXPECT_EQ(near[2].item, 4);
  for (const auto& n : collab::nearest_items(f, 0, 0)) EXPECT_NE(n.item, 0);  // never itself
}

// What CollabNN's embeddings look like: every item shares a large common vector, so raw cosines
// are all near 1 and say nothing; less the mean row, the two planted groups separate cleanly.
TEST(Neighbours, CentringRemovesASharedComponent) {
  const auto dbl = torch::kDouble;
  const torch::Tensor common = torch::tensor({10.0, 10.0, 10.0}, dbl);
  const torch::Tensor f = torch::stack({common + torch::tensor({1.0, 0.0, 0.0}, dbl),
                                        common + torch::tensor({0.9, 0.1, 0.0}, dbl),
                                        common + torch::tensor({-1.0, 0.0, 0.0}, dbl),
                                        common + torch::tensor({-0.9, 0.0, 0.1}, dbl)});
  const torch::Tensor raw = collab::cosine_similarities(f, 0);
  for (int64_t i = 1; i < 4; ++i) EXPECT_GT(raw[i].item<double>(), 0.99) << i;

  const torch::Tensor mean = collab::mean_row(f);
  EXPECT_NEAR(mean[0].item<double>(), 10.0, 1e-12);  // (1 + 0.9 - 1 - 0.9) / 4 + 10
  EXPECT_NEAR(mean[1].item<double>(), 10.025, 1e-12);
  const torch::Tensor centred = f.to(torch::kDouble) - mean;
  const torch::Tensor cos = collab::cosine_similarities(centred, 0);
  // Row 0 less the mean is (1, -0.025, -0.025), row 1 (0.9, 0.075, -0.025): nearly parallel.
  const double expected01 =
      (0.9 - 0.025 * 0.075 + 0.025 * 0.025) /
      (std::sqrt(1 + 2 * 0.025 * 0.025) * std::sqrt(0.81 + 0.075 * 0.075 + 0.025 * 0.025));
  EXPECT_NEAR(cos[1].item<double>(), expected01, 1e-12);
  EXPECT_LT(cos[2].item<double>(), -0.99);
  EXPECT_LT(cos[3].item<double>(), -0.99);
  // A query vector that is not a row gives the same cosines as the row it equals.
  const torch::Tensor to = collab::cosine_similarities_to(centred, centred[0]);
  EXPECT_TRUE(torch::allclose(to, cos, 0, 1e-15));
  EXPECT_THROW(collab::cosine_similarities_to(centred, torch::zeros({2})), collab::Error);
}

TEST(Pca, FindsPlantedDirections) {
  torch::manual_seed(0);
  // Large spread along (1, 1, 0)/sqrt2, smaller along z, little noise.
  const torch::Tensor a = torch::randn({500, 1}) * 5, b = torch::randn({500, 1}) * 2;
  const torch::Tensor x = a * torch::tensor({1.0, 1.0, 0.0}) / std::sqrt(2.0) +
                          b * torch::tensor({0.0, 0.0, 1.0}) + torch::randn({500, 3}) * 0.05 + 7;
  const auto pca = collab::principal_components(x, 3);
  ASSERT_EQ(pca.components.sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_NEAR(pca.components[0][0].item<double>(), 1 / std::sqrt(2.0), 0.01);
  EXPECT_NEAR(pca.components[0][1].item<double>(), 1 / std::sqrt(2.0), 0.01);
  EXPECT_NEAR(pca.components[1][2].item<double>(), 1.0, 0.01);  // sign fixed positive
  EXPECT_GT(pca.explained[0].item<double>(), pca.explained[1].item<double>());
  EXPECT_LE(pca.explained.sum().item<double>(), 1.0 + 1e-9);
  // Scores are the centred data on the components: their mean is zero.
  EXPECT_NEAR(pca.scores.mean(0).abs().max().item<double>(), 0.0, 1e-9);
}

// similar's ranking centres on the rows that compete: excluded rows (rarely rated) never appear
// and do not move the centre.
TEST(Neighbours, CentredNearestItemsCentresOnTheCandidates) {
  // Rows 0-2 share a large common component (10, 10); row 3 sits far off and is excluded.
  const torch::Tensor factors =
      torch::tensor({{11.0, 10.0}, {10.0, 11.0}, {11.5, 10.0}, {-50.0, -50.0}});
  const auto ranked = collab::centred_nearest_items(factors, factors[0], {3}, 0);
  ASSERT_EQ(ranked.size(), 3u);  // every candidate, the excluded row left out
  // Centred on rows 0-2's mean, row 2 points the way row 0 does, row 1 the other way; without
  // centring all three cosines would be about 1.
  EXPECT_EQ(ranked[0].item, 0);
  EXPECT_EQ(ranked[1].item, 2);
  EXPECT_EQ(ranked[2].item, 1);
  EXPECT_NEAR(ranked[0].score, 1.0, 1e-12);
  EXPECT_LT(ranked[2].score, 0.0);
  // k limits the list.
  EXPECT_EQ(collab::centred_nearest_items(factors, factors[0], {3}, 2).size(), 2u);
}

}  // namespace

}  // namespace test_neighbours
