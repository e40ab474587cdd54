// collab audit: the concentration, novelty and per-group figures checked by hand on a tiny
// fixture, the u.user reader, and the command end to end on a small trained catalogue.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collab/common/error.h"
#include "collab/data/user_catalog.h"
#include "collab/infer/audit.h"
#include "test_support.h"

namespace test_audit {

namespace {

using json = nlohmann::json;
using namespace collab::test;  // the shared helpers: test_support.h
namespace fs = std::filesystem;

// 4 users, 6 items. Training ratings: user 0 rated items 0,1,2,3; user 1 items 0,1,2; user 2
// items 0,1; user 3 item 0. So training counts per item are 4,3,2,1,0,0 (10 ratings) and per
// user 4,3,2,1. Top-2 lists: user 0 [4,5], user 1 [3,4], user 2 [2,3], user 3 [1,2], so
// recommendation counts per item are 0,1,2,2,2,1 (8 slots).
// Validation (user, item, rating, prediction): (0,5,5,4.0) (1,3,4,4.5) (2,5,2,3.0) (3,2,5,5.0).
collab::AuditInput tiny_input() {
  collab::AuditInput in;
  in.n_users = 4;
  in.n_items = 6;
  in.k = 2;
  in.train_users = {0, 0, 0, 0, 1, 1, 1, 2, 2, 3};
  in.train_items = {0, 1, 2, 3, 0, 1, 2, 0, 1, 0};
  in.top = {{4, 5}, {3, 4}, {2, 3}, {1, 2}};
  in.valid_users = {0, 1, 2, 3};
  in.valid_items = {5, 3, 5, 2};
  in.valid_ratings = {5, 4, 2, 5};
  in.valid_predictions = {4.0f, 4.5f, 3.0f, 5.0f};
  // Users 0 and 1 in group "A", users 2 and 3 in "B".
  in.groupings.push_back({"letter", {"A", "B"}, {0, 0, 1, 1}});
  return in;
}

TEST(AuditMetrics, ConcentrationOfTheRecommendationsByHand) {
  const collab::AuditReport r = collab::audit(tiny_input());
  EXPECT_EQ(r.recommendation_counts, (std::vector<int64_t>{0, 1, 2, 2, 2, 1}));
  EXPECT_EQ(r.training_counts, (std::vector<int64_t>{4, 3, 2, 1, 0, 0}));
  const collab::Concentration& c = r.recommendations;
  EXPECT_EQ(c.slots, 8);
  // Top 1% and top 10% of 6 items: ceil(0.06) = ceil(0.6) = 1 item, item 0 (4 training
  // ratings), recommended 0 times: 0 / 8.
  EXPECT_DOUBLE_EQ(c.top1_share, 0.0);
  EXPECT_DOUBLE_EQ(c.top10_share, 0.0);
  // Gini: counts ascending 0,1,1,2,2,2, n = 6, sum 8; sum i*c_(i) = 0+2+3+8+10+12 = 35;
  // G = 2*35/(6*8) - 7/6 = 70/48 - 56/48 = 14/48.
  EXPECT_NEAR(c.gini, 14.0 / 48.0, 1e-12);
  // Coverage: items 1..5 recommended, 5 of 6.
  EXPECT_NEAR(c.coverage, 5.0 / 6.0, 1e-12);
  // Novelty, p_i = training count / 4 users (item 4 and 5 unrated: counted as 1 rating):
  // item 1 once at -log2(3/4), item 2 twice at 1 bit, item 3 twice at 2 bits, item 4 twice at
  // 2 bits, item 5 once at 2 bits: (-log2(0.75) + 2 + 4 + 4 + 2) / 8.
  EXPECT_NEAR(c.novelty, (-std::log2(0.75) + 12.0) / 8.0, 1e-12);
}

TEST(AuditMetrics, TrainingBaselineAndHeavyRatersByHand) {
  const collab::AuditReport r = collab::audit(tiny_input());
  const collab::Concentration& t = r.training;
  EXPECT_EQ(t.slots, 10);
  // Item 0 holds 4 of the 10 ratings.
  EXPECT_DOUBLE_EQ(t.top1_share, 0.4);
  EXPECT_DOUBLE_EQ(t.top10_share, 0.4);
  // Ascending 0,0,1,2,3,4, sum 10: sum i*c_(i) = 3+8+15+24 = 50; G = 100/60 - 70/60 = 0.5.
  EXPECT_NEAR(t.gini, 0.5, 1e-12);
  EXPECT_NEAR(t.coverage, 4.0 / 6.0, 1e-12);
  // (4*0 + 3*(-log2 0.75) + 2*1 + 1*2) / 10.
  EXPECT_NEAR(t.novelty, (3 * -std::log2(0.75) + 4.0) / 10.0, 1e-12);
  // Top 1% and 10% of 4 users: 1 user, user 0 with 4 of the 10 ratings.
  EXPECT_DOUBLE_EQ(r.heavy_user_share1, 0.4);
  EXPECT_DOUBLE_EQ(r.heavy_user_share10, 0.4);
}

TEST(AuditMetrics, SharesGiniAndLorenzEdgeCases) {
  // Top half of 6 items by training count (items 0,1,2) hold 0+1+2 of the 8 slots.
  EXPECT_DOUBLE_EQ(collab::top_share({0, 1, 2, 2, 2, 1}, {4, 3, 2, 1, 0, 0}, 0.5), 3.0 / 8.0);
  EXPECT_DOUBLE_EQ(collab::gini_index({5, 5, 5}), 0.0);
  EXPECT_NEAR(collab::gini_index({0, 0, 0, 7}), 3.0 / 4.0, 1e-12);  // (n-1)/n
  EXPECT_DOUBLE_EQ(collab::gini_index({0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(collab::top_share({0, 0}, {1, 2}, 0.1), 0.0);
  // Ascending 0,0,1,2,3,4 of 10.
  const std::vector<double> lorenz = collab::lorenz_curve({4, 3, 2, 1, 0, 0});
  const std::vector<double> expected = {0, 0, 0, 0.1, 0.3, 0.6, 1.0};
  ASSERT_EQ(lorenz.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(lorenz[i], expected[i], 1e-12) << i;
}

TEST(AuditMetrics, AccuracyAndRankingPerGroupByHand) {
  const collab::AuditReport r = collab::audit(tiny_input());
  // "all", 10 activity deciles, then A and B.
  ASSERT_EQ(r.groups.size(), 13u);
  const double ndcg_rank2 = 1.0 / std::log2(3.0);  // one hit at rank 2, one relevant item
  const collab::GroupQuality& all = r.groups[0];
  EXPECT_EQ(all.group, "all");
  EXPECT_EQ(all.users, 4);
  EXPECT_EQ(all.valid_ratings, 4);
  // Errors 1, 0.5, 1, 0: sqrt(2.25 / 4) = 0.75.
  EXPECT_NEAR(all.rmse, 0.75, 1e-6);
  // Relevant (rated >= 4): user 0 item 5 (rank 2 of [4,5]), user 1 item 3 (rank 1), user 3
  // item 2 (rank 2); user 2 has none and is not ranked.
  EXPECT_EQ(all.ranking.users, 3);
  EXPECT_NEAR(all.ranking.ndcg, (ndcg_rank2 + 1 + ndcg_rank2) / 3, 1e-9);
  EXPECT_NEAR(all.ranking.recall, 1.0, 1e-12);
  // Activity: users by count ascending are 3 (1), 2 (2), 1 (3), 0 (4); decile floor(10 r / 4)
  // puts them in D1, D3, D6 and D8.
  EXPECT_EQ(r.groups[1].group, "D1 (1-1)");
  EXPECT_EQ(r.groups[1].users, 1);
  EXPECT_NEAR(r.groups[1].rmse, 0.0, 1e-6);
  EXPECT_EQ(r.groups[2].group, "D2");
  EXPECT_EQ(r.groups[2].users, 0);
  EXPECT_TRUE(std::isnan(r.groups[2].rmse));
  EXPECT_EQ(r.groups[8].group, "D8 (4-4)");
  EXPECT_NEAR(r.groups[8].ranking.ndcg, ndcg_rank2, 1e-9);
  // A (users 0, 1): errors 1 and 0.5, sqrt(1.25 / 2); NDCG (ndcg_rank2 + 1) / 2.
  const collab::GroupQuality& a = r.groups[11];
  EXPECT_EQ(a.grouping, "letter");
  EXPECT_EQ(a.group, "A");
  EXPECT_EQ(a.users, 2);
  EXPECT_NEAR(a.rmse, std::sqrt(0.625), 1e-6);
  EXPECT_EQ(a.ranking.users, 2);
  EXPECT_NEAR(a.ranking.ndcg, (ndcg_rank2 + 1) / 2, 1e-9);
  // B (users 2, 3): errors 1 and 0, sqrt(0.5); only user 3 ranked.
  const collab::GroupQuality& b = r.groups[12];
  EXPECT_NEAR(b.rmse, std::sqrt(0.5), 1e-6);
  EXPECT_EQ(b.ranking.users, 1);
  EXPECT_NEAR(b.ranking.ndcg, ndcg_rank2, 1e-9);
}

TEST(AuditMetrics, RefusesInconsistentInput) {
  collab::AuditInput in = tiny_input();
  in.top[0].push_back(6);
  EXPECT_THROW(collab::audit(in), std::invalid_argument);
  in = tiny_input();
  in.groupings[0].group_of_user.pop_back();
  EXPECT_THROW(collab::audit(in), std::invalid_argument);
}

TEST(AuditUserFile, ReadsMovieLensUsers) {
  const auto users =
      collab::parse_movielens_users("1|24|M|technician|85711\r\n\n2|53|F|other|94043\n", "u.user");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].id, "1");
  EXPECT_EQ(users[0].age, 24);
  EXPECT_EQ(users[0].gender, "M");
  EXPECT_EQ(users[0].occupation, "technician");
  EXPECT_EQ(users[1].zip, "94043");
  EXPECT_EQ(collab::age_band(17), "<18");
  EXPECT_EQ(collab::age_band(18), "18-24");
  EXPECT_EQ(collab::age_band(34), "25-34");
  EXPECT_EQ(collab::age_band(44), "35-44");
  EXPECT_EQ(collab::age_band(49), "45-49");
  EXPECT_EQ(collab::age_band(55), "50-55");
  EXPECT_EQ(collab::age_band(56), "56+");
}

TEST(AuditUserFile, ErrorsNameFileLineAndField) {
  expect_one_line_error_thrown(
      [] { collab::parse_movielens_users("1|24|M|technician|85711\n2|53|F|other\n", "u.user"); },
      {"u.user:2:", "expected 5", "got 4"});
  expect_one_line_error_thrown(
      [] { collab::parse_movielens_users("1|24|M|technician|85711|x\n", "u.user"); },
      {"u.user:1:", "expected 5"});
  expect_one_line_error_thrown(
      [] { collab::parse_movielens_users("1|twenty|M|technician|85711\n", "u.user"); },
      {"u.user:1:", "field 2 (age)", "twenty"});
  expect_one_line_error_thrown(
      [] { collab::parse_movielens_users("1|0|M|technician|85711\n", "u.user"); },
      {"u.user:1:", "field 2 (age)"});
  expect_one_line_error_thrown(
      [] { collab::parse_movielens_users("1|20|M|a|1\n1|30|F|b|2\n", "u.user"); },
      {"u.user:2:", "listed again", "line 1"});
  expect_one_line_error_thrown([] { collab::parse_movielens_users("\n", "u.user"); },
                               {"u.user", "no users"});
}

// The small catalogue (20 users, 30 items) with a u.user beside u.item and a trained
// DotProductBias.
class AuditCommand : public ::testing::Test {
 protected:
  static std::string* dir_;
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir("collab-audit"));
    write_small_catalogue(*dir_);
    std::string users;
    for (int u = 1; u <= 20; ++u) {
      users += std::to_string(u) + "|" + std::to_string(15 + 3 * u) + "|" + (u % 2 ? "M" : "F") +
               "|" + (u % 3 ? "student" : "writer") + "|0000" + std::to_string(u) + "\n";
    }
    write_text(*dir_ + "/u.user", users);
    write_text(*dir_ + "/dot.json",
               R"({"data": {"train": "train.tsv", "valid": "valid.tsv", "items": "u.item"},
                   "model": {"arch": "DotProductBias", "n_factors": 4, "y_range": [0, 5.5]},
                   "train": {"epochs": 2, "batch_size": 16, "threads": 1}})");
    const auto r = run_collab("train '" + *dir_ + "/dot.json' --run-dir '" + run() + "' --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string run() { return *dir_ + "/dot-run"; }
};
std::string* AuditCommand::dir_ = nullptr;

TEST_F(AuditCommand, JsonReportWithDefaultUserFile) {
  const json out = run_collab_json("audit '" + run() + "' -k 5 --json");
  EXPECT_EQ(out["k"], 5);
  EXPECT_EQ(out["users"], 20);
  EXPECT_EQ(out["items"], 30);
  EXPECT_EQ(out["recommendations"]["slots"], 100);  // 20 users x 5 unseen items
  EXPECT_EQ(out["training"]["slots"], 200);
  // Every user rated 10 items: the top 1% (one user) wrote 10 of 200.
  EXPECT_DOUBLE_EQ(out["heavy_raters"]["top1_share"].get<double>(), 0.05);
  ASSERT_TRUE(out["user_file"].is_string());
  EXPECT_EQ(fs::path(out["user_file"].get<std::string>()).filename(), "u.user");
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& g : out["groups"]) {
    groups[g["grouping"]].push_back(g["group"]);
  }
  EXPECT_EQ(groups["all"], std::vector<std::string>{"all"});
  EXPECT_EQ(groups["activity decile"].size(), 10u);
  EXPECT_EQ(groups["gender"], (std::vector<std::string>{"F", "M"}));
  // Ages 18..75: every band but <18.
  EXPECT_EQ(groups["age"],
            (std::vector<std::string>{"18-24", "25-34", "35-44", "45-49", "50-55", "56+"}));
  EXPECT_EQ(groups["occupation"], (std::vector<std::string>{"student", "writer"}));
  const json& all = out["groups"][0];
  EXPECT_EQ(all["valid_ratings"], 20);
  EXPECT_GT(all["rmse"].get<double>(), 0.0);
}

TEST_F(AuditCommand, TableAndPlot) {
  const std::string plot = *dir_ + "/lorenz.svg";
  const auto r = run_collab("audit '" + run() + "' --plot '" + plot + "'");
  expect_ok(r);
  for (const char* part : {"Gini over items", "novelty (bits)", "heavy raters", "gender",
                           "occupation", "D10", "plot: "}) {
    EXPECT_TRUE(contains(r.out, part)) << part << "\n" << r.out;
  }
  const std::string svg = read_text(plot);
  EXPECT_TRUE(contains(svg, "<svg")) << svg.substr(0, 200);
  EXPECT_TRUE(contains(svg, "training ratings"));
}

TEST_F(AuditCommand, RefusesBadOptionsInOneLine) {
  expect_one_line_error(run_collab("audit '" + run() + "' -k 0"), "audit", {"-k", "0"});
  expect_one_line_error(run_collab("audit '" + run() + "' -k x"), "audit", {"k"});
  const std::string missing = *dir_ + "/nope.user";
  expect_one_line_error(run_collab("audit '" + run() + "' --user-file '" + missing + "'"), "audit",
                        {"--user-file", missing});
  const std::string bad = *dir_ + "/bad.user";
  write_text(bad, "1|24|M|student|1\n2|old|F|writer|2\n");
  expect_one_line_error(run_collab("audit '" + run() + "' --user-file '" + bad + "'"), "audit",
                        {bad + ":2:", "age"});
  expect_one_line_error(run_collab("audit '" + *dir_ + "/no-such-run'"), "audit", {"no-such-run"});
}

}  // namespace

}  // namespace test_audit
