// The feature-based models end to end through the CLI, on a tiny data set where genre decides
// taste: users 1-10 rate Action 5 and Comedy 1, users 11-20 the reverse, Drama 3 for all; items
// 28 (Comedy), 29 (Drama) and 30 (Action) have no training ratings. A trained
// HybridDotProductBias rates an unrated item of a genre higher for that genre's fans (item cold
// start through the features buffer), `similar --features` ranks items of the given genre first
// (checkpoint and model.pt alike), recommend/interpret work, and the errors a user can hit are
// one line. Weight decay 0.5 over 30 epochs (a second of training) makes the shared genre
// projection, not the items' free embeddings, carry the taste, as it does with far more items.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace test_content_cli {

namespace {

using json = nlohmann::json;
using namespace collab::test;  // the shared helpers: test_support.h

// Genre of item i: 0 Action, 1 Comedy, 2 Drama (i % 3).
int genre_of(int item) {
  return item % 3;
}

class ContentCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(collab::test::temp_dir("collab-content-cli"));
    const int column[3] = {1, 5, 8};  // Action, Comedy, Drama in u.item's genre order
    std::string items, train, valid;
    for (int i = 1; i <= 30; ++i) {
      std::string flags;
      for (int g = 0; g < 19; ++g) flags += g == column[genre_of(i)] ? "|1" : "|0";
      items += std::to_string(i) + "|Movie " + std::to_string(i) + " (1995)|01-Jan-1995||u" +
               flags + "\n";
    }
    for (int u = 1; u <= 20; ++u) {
      const bool action_fan = u <= 10;
      for (int i = 1; i <= 30; ++i) {
        const int g = genre_of(i);
        const int rating = g == 2 ? 3 : ((g == 0) == action_fan ? 5 : 1);
        const std::string row = std::to_string(u) + "\t" + std::to_string(i) + "\t" +
                                std::to_string(rating) + "\t880000000\n";
        if (i >= 28) {
          if (u % 5 == 0) valid += row;  // cold items: never in training
        } else if ((u + i) % 3 != 0) {
          train += row;
        } else if (u % 2 == 0) {
          valid += row;
        }
      }
    }
    collab::test::write_text(*dir_ + "/u.item", items);
    collab::test::write_text(*dir_ + "/train.tsv", train);
    collab::test::write_text(*dir_ + "/valid.tsv", valid);
    collab::test::train_feature_models(
        *dir_, R"({"train": "train.tsv", "valid": "valid.tsv", "items": "u.item"})", 30);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string path(const std::string& name) { return "'" + *dir_ + "/" + name + "'"; }
  static std::string* dir_;
};
std::string* ContentCli::dir_ = nullptr;

TEST_F(ContentCli, HybridRatesAnUnratedItemByItsGenre) {
  const std::string pairs = *dir_ + "/pairs.csv";
  // Items 30 (Action) and 28 (Comedy) have no training ratings; user 1 likes Action, 11 Comedy.
  collab::test::write_text(pairs, "1,30\n11,30\n1,28\n11,28\n");
  const auto r = collab::test::run_collab("predict " + path("hybrid") + " --input '" + pairs + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<double> p;
  size_t pos = r.out.find('\n') + 1;  // after the header
  while (pos < r.out.size()) {
    const size_t end = r.out.find('\n', pos);
    const std::string line = r.out.substr(pos, end - pos);
    p.push_back(std::stod(line.substr(line.rfind(',') + 1)));
    pos = end + 1;
  }
  ASSERT_EQ(p.size(), 4u) << r.out;
  // The free embeddings of the unrated items stayed near zero; the genre projection carries the
  // taste: a clear margin (a rating point) rather than a coin flip.
  EXPECT_GT(p[0] - p[1], 1.0) << "Action item: fan " << p[0] << ", non-fan " << p[1];
  EXPECT_GT(p[3] - p[2], 1.0) << "Comedy item: fan " << p[3] << ", non-fan " << p[2];
}

TEST_F(ContentCli, SimilarByFeaturesRanksThatGenreFirst) {
  for (const std::string model : {"hybrid", "hybrid.pt"}) {
    SCOPED_TRACE(model);
    const json near = run_collab_json("similar " + path(model) +
                                      " --features 'Action' -k 5 --min-ratings 0 --json");
    EXPECT_EQ(near["features"], "Action");
    EXPECT_EQ(near["arch"], "HybridDotProductBias");
    ASSERT_EQ(near["neighbours"].size(), 5u);
    for (const auto& n : near["neighbours"]) {
      EXPECT_EQ(genre_of(std::stoi(n["item"].get<std::string>())), 0) << n;
      EXPECT_GT(n["cosine"].get<double>(), 0.5) << n;
    }
  }
  // ContentBased's item vectors are the features: all ten Action items of 1995 match exactly.
  const json exact = run_collab_json("similar " + path("content") +
                                     " --features 'action,1995' -k 10 --min-ratings 0 --json");
  ASSERT_EQ(exact["neighbours"].size(), 10u);
  for (const auto& n : exact["neighbours"]) {
    EXPECT_EQ(genre_of(std::stoi(n["item"].get<std::string>())), 0) << n;
    EXPECT_NEAR(n["cosine"].get<double>(), 1.0, 1e-9) << n;
  }
}

TEST_F(ContentCli, SimilarTableAndRecommendAndInterpretWork) {
  const auto r = collab::test::run_collab("similar " + path("hybrid") +
                                          " --features 'Comedy,1990s' -k 3 --min-ratings 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("a new item with features \"Comedy,1990s\""), std::string::npos) << r.out;
  // User 1 rated every trained Action item: the unrated Action item 30 comes first, no Comedy.
  const json rec = run_collab_json("recommend " + path("hybrid") + " --user 1 -k 3 --json");
  ASSERT_EQ(rec["items"].size(), 3u);
  EXPECT_EQ(rec["items"][0]["item"], "30");
  for (const auto& item : rec["items"]) {
    EXPECT_NE(genre_of(std::stoi(item["item"].get<std::string>())), 1) << item;
  }
  // A new user who panned two Comedies and loved an Action film gets Action films.
  const json folded =
      run_collab_json("recommend " + path("hybrid") + " --ratings '1:1,4:1,3:5' -k 3 --json");
  EXPECT_EQ(folded["mode"], "fold-in");
  for (const auto& item : folded["items"]) {
    EXPECT_EQ(genre_of(std::stoi(item["item"].get<std::string>())), 0) << item;
  }
  const json interpreted = run_collab_json("interpret " + path("content") + " --top 2 --json");
  EXPECT_EQ(interpreted["pca"]["components"].size(), 3u);
}

TEST_F(ContentCli, ErrorsAreOneLine) {
  expect_refused("similar " + path("hybrid") + " --features 'Action,Cowboy'", "\"Cowboy\"");
  expect_refused("similar " + path("hybrid") + " --features Action --item 1", "exactly one of");
  expect_refused("similar " + path("hybrid"), "exactly one of");
  // Training a feature model without an item catalogue says which key is missing.
  collab::test::write_text(*dir_ + "/no_items.json", R"({
    "data": {"train": "train.tsv", "valid": "valid.tsv"},
    "model": {"arch": "HybridDotProductBias"}, "train": {"epochs": 1, "threads": 1}})");
  expect_refused("train " + path("no_items.json") + " --run-dir " + path("no_items") + " --quiet",
                 "needs \"items\"");
}

}  // namespace

}  // namespace test_content_cli
