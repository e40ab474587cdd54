// Ranking metrics (infer/ranking_metrics.h) on cases small enough to compute by hand, including
// users with no relevant test item (left out of the averages) and k larger than the candidates.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "collab/infer/ranking_metrics.h"

namespace test_ranking_metrics {

namespace {

using collab::RankingMetrics;
using Lists = std::vector<std::vector<int64_t>>;

const double kLog3 = std::log2(3.0);

}  // namespace

TEST(RankingMetrics, HandComputedThreeScoredUsers) {
  // k = 3. User 0: one hit at rank 2 of 2 relevant. User 1: a single candidate (k larger than
  // the list), a hit. User 2: no relevant item, skipped (its list does not count for coverage).
  // User 3: no hit.
  const Lists top = {{1, 2, 3}, {4}, {7}, {1, 2, 3}};
  const Lists relevant = {{2, 5}, {4}, {}, {6}};
  const RankingMetrics m = collab::ranking_metrics_from_lists(top, relevant, 3, 10);
  EXPECT_EQ(m.users, 3);
  // precision: hits / k, k even for user 1's one-item list: (1/3 + 1/3 + 0) / 3.
  EXPECT_NEAR(m.precision, 2.0 / 9.0, 1e-12);
  // recall: hits / relevant: (1/2 + 1 + 0) / 3.
  EXPECT_NEAR(m.recall, 0.5, 1e-12);
  // NDCG: user 0: (1/log2(3)) / (1 + 1/log2(3)); user 1: 1/1; user 3: 0.
  EXPECT_NEAR(m.ndcg, ((1 / kLog3) / (1 + 1 / kLog3) + 1.0) / 3.0, 1e-12);
  // MAP: user 0: (1/2) / min(2, 3); user 1: (1/1) / min(1, 3); user 3: 0.
  EXPECT_NEAR(m.map, (0.25 + 1.0) / 3.0, 1e-12);
  EXPECT_NEAR(m.hit_rate, 2.0 / 3.0, 1e-12);
  // coverage: items {1, 2, 3, 4} of a catalogue of 10.
  EXPECT_NEAR(m.coverage, 0.4, 1e-12);
}

TEST(RankingMetrics, SeveralHitsAndMoreRelevantThanK) {
  // k = 4, relevant {10, 12, 14, 15, 16}: hits at ranks 1 and 3.
  const RankingMetrics m =
      collab::ranking_metrics_from_lists({{10, 11, 12, 13}}, {{10, 12, 14, 15, 16}}, 4, 4);
  EXPECT_NEAR(m.precision, 0.5, 1e-12);
  EXPECT_NEAR(m.recall, 0.4, 1e-12);
  const double idcg = 1 + 1 / kLog3 + 0.5 + 1 / std::log2(5.0);
  EXPECT_NEAR(m.ndcg, (1 + 0.5) / idcg, 1e-12);
  EXPECT_NEAR(m.map, (1.0 + 2.0 / 3.0) / 4.0, 1e-12);  // divided by min(5, 4)
  EXPECT_NEAR(m.hit_rate, 1.0, 1e-12);
  EXPECT_NEAR(m.coverage, 1.0, 1e-12);
}

TEST(RankingMetrics, OnlyTheFirstKEntriesCount) {
  const RankingMetrics m = collab::ranking_metrics_from_lists({{1, 2, 3}}, {{3}}, 2, 3);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_EQ(m.hit_rate, 0.0);
  EXPECT_NEAR(m.coverage, 2.0 / 3.0, 1e-12);
}

TEST(RankingMetrics, NoUserWithARelevantItemGivesZeros) {
  const RankingMetrics m = collab::ranking_metrics_from_lists({{1}, {2}}, {{}, {}}, 5, 3);
  EXPECT_EQ(m.users, 0);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_EQ(m.recall, 0.0);
  EXPECT_EQ(m.ndcg, 0.0);
  EXPECT_EQ(m.map, 0.0);
  EXPECT_EQ(m.hit_rate, 0.0);
  EXPECT_EQ(m.coverage, 0.0);
}

TEST(RankingMetrics, EmptyCandidateListScoresZeroButCounts) {
  // A user who rated every item in training has no candidates: scored as no hit.
  const RankingMetrics m = collab::ranking_metrics_from_lists({{}, {1}}, {{1}, {1}}, 2, 2);
  EXPECT_EQ(m.users, 2);
  EXPECT_NEAR(m.hit_rate, 0.5, 1e-12);
  EXPECT_NEAR(m.precision, 0.25, 1e-12);
}

TEST(TopKItems, ExcludesSeenItemsAndBreaksTiesByIndex) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> scores = {0.5f, 0.9f, 0.9f, 0.1f, nan, 0.9f};
  EXPECT_EQ(collab::top_k_items(scores.data(), 6, {1}, 3), (std::vector<int64_t>{2, 5, 0}));
  // k larger than the candidates: all of them, NaN last.
  EXPECT_EQ(collab::top_k_items(scores.data(), 6, {1, 5}, 10), (std::vector<int64_t>{2, 0, 3, 4}));
  EXPECT_TRUE(collab::top_k_items(scores.data(), 6, {0, 1, 2, 3, 4, 5}, 3).empty());
}

TEST(RankingMetrics, FromScoresExcludesTrainingItemsAndAppliesTheThreshold) {
  // 3 users x 4 items. Training: u0-i0, u1-i1, u1-i2, u2-i3 (4 distinct items).
  collab::Ratings train, test;
  train.push_back(0, 0, 5, 0);
  train.push_back(1, 1, 4, 0);
  train.push_back(1, 2, 2, 0);
  train.push_back(2, 3, 3, 0);
  test.push_back(0, 1, 5, 0);                                           // relevant
  test.push_back(0, 2, 3, 0);                                           // below the threshold of 4
  test.push_back(1, 3, 4, 0);                                           // relevant (>= 4)
  const torch::Tensor scores = torch::tensor({9.0f, 1.0f, 2.0f, 0.5f,   // u0: i0 seen -> 2, 1, 3
                                              0.0f, 0.0f, 0.0f, 5.0f,   // u1: i1, i2 seen -> 3, 0
                                              1.0f, 1.0f, 1.0f, 1.0f})  // u2: no test item
                                   .view({3, 4});
  collab::RankingOptions options;
  options.k = 2;
  const RankingMetrics m = collab::ranking_metrics(scores, train, test, options);
  // u0: top [2, 1], hit at rank 2 of 1 relevant; u1: top [3, 0], hit at rank 1.
  EXPECT_EQ(m.users, 2);
  EXPECT_NEAR(m.precision, (0.5 + 0.5) / 2, 1e-12);
  EXPECT_NEAR(m.recall, 1.0, 1e-12);
  EXPECT_NEAR(m.ndcg, (1 / kLog3 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(m.map, (0.5 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(m.hit_rate, 1.0, 1e-12);
  EXPECT_NEAR(m.coverage, 1.0, 1e-12);  // {2, 1, 3, 0} of 4 training items

  // Threshold 3: u0's item 2 becomes relevant too: top [2, 1] holds both.
  options.relevance_threshold = 3;
  const RankingMetrics t = collab::ranking_metrics(scores, train, test, options);
  EXPECT_NEAR(t.recall, 1.0, 1e-12);
  EXPECT_NEAR(t.precision, (1.0 + 0.5) / 2, 1e-12);
  EXPECT_NEAR(t.map, ((1.0 + 1.0) / 2 + 1.0) / 2, 1e-12);
}

TEST(RankingMetrics, EvaluateRankingScoresWithTheModel) {
  // A model whose score is the item index: every user's ranking is items by index, descending.
  struct ByItem : collab::CollabModelImpl {
    torch::Tensor forward(torch::Tensor x) override { return x.select(1, 1).to(torch::kFloat); }
    std::string arch() const override { return "ByItem"; }
    std::optional<collab::YRange> y_range() const override { return std::nullopt; }
    void script_into(torch::jit::Module&) const override {}
  };
  ByItem model;
  collab::Ratings train, test;
  train.push_back(0, 4, 5, 0);
  train.push_back(1, 0, 5, 0);
  test.push_back(0, 3, 5, 0);  // u0's candidates 3, 2, 1, 0: hit at rank 1
  test.push_back(1, 1, 5, 0);  // u1's candidates 4, 3, 2, 1: no hit in the top 2
  collab::RankingOptions options;
  options.k = 2;
  // chunk 7 < 2 users x 5 items: exercises chunking by user.
  const RankingMetrics m =
      collab::evaluate_ranking(model, 2, 5, train, test, options, 7, torch::kCPU);
  EXPECT_EQ(m.users, 2);
  EXPECT_NEAR(m.hit_rate, 0.5, 1e-12);
  EXPECT_NEAR(m.precision, 0.25, 1e-12);
  EXPECT_NEAR(m.coverage, 3.0 / 2.0, 1e-12);  // {3, 2, 4} over 2 training items {4, 0}
}

}  // namespace test_ranking_metrics
