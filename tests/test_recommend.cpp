// `collab recommend`, `similar` and `interpret` end to end on a tiny trained DotProductBias:
// seen items (training or validation) are never recommended unless asked, predictions are
// reported on the data's rating scale, JSON parses, cold start folds in or falls back
// (saying which), a model.pt answers like its checkpoint, and errors are one line naming the
// value at fault.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "collab/serve/model_source.h"
#include "test_support.h"

namespace test_recommend {

namespace {

using json = nlohmann::json;
using namespace collab::test;  // the shared helpers: test_support.h
namespace fs = std::filesystem;

class RecommendCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(collab::test::temp_dir("collab-recommend"));
    collab::test::write_small_catalogue(*dir_);
    collab::test::write_text(*dir_ + "/config.json", R"({
      "data": {"train": "train.tsv", "valid": "valid.tsv", "items": "u.item"},
      "model": {"arch": "DotProductBias", "n_factors": 4, "y_range": [0, 5.5]},
      "train": {"epochs": 2, "batch_size": 16, "threads": 1}
    })");
    const auto r = collab::test::run_collab("train '" + *dir_ + "/config.json' --run-dir '" +
                                            *dir_ + "/run' --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto e =
        collab::test::run_collab("export '" + *dir_ + "/run' -o '" + *dir_ + "/model.pt' --quiet");
    ASSERT_EQ(e.exit_code, 0) << e.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string run() { return "'" + *dir_ + "/run'"; }
  // The items user u rated, by raw id: ten in training and one in validation.
  static std::set<std::string> seen(int u) {
    std::set<std::string> out;
    for (int j = 0; j < 10; ++j) out.insert(std::to_string((u + j) % 30 + 1));
    out.insert(std::to_string((u + 10) % 30 + 1));
    return out;
  }
  static std::string* dir_;
};
std::string* RecommendCli::dir_ = nullptr;

TEST_F(RecommendCli, NeverRecommendsSeenItemsUnlessAsked) {
  for (const int u : {1, 20}) {
    const json out =
        run_collab_json("recommend " + run() + " --user " + std::to_string(u) + " -k 0 --json");
    EXPECT_EQ(out["mode"], "trained user");
    EXPECT_EQ(out["excluded"], 11);  // a film rated in validation is as seen as one in training
    ASSERT_EQ(out["items"].size(), 19u);
    for (const auto& item : out["items"])
      EXPECT_EQ(seen(u).count(item["item"].get<std::string>()), 0u) << item;
    // Ranked by predicted rating, within y_range.
    for (size_t r = 1; r < out["items"].size(); ++r) {
      EXPECT_GE(out["items"][r - 1]["score"].get<double>(), out["items"][r]["score"].get<double>());
    }
  }
}

TEST_F(RecommendCli, IncludeSeenAndK) {
  const json all = run_collab_json("recommend " + run() + " --user 5 -k 0 --include-seen --json");
  EXPECT_EQ(all["items"].size(), 30u);
  const json top3 = run_collab_json("recommend " + run() + " --user 5 -k 3 --json");
  EXPECT_EQ(top3["items"].size(), 3u);
  EXPECT_EQ(top3["items"][0]["title"].get<std::string>().rfind("Movie ", 0), 0u);
}

TEST_F(RecommendCli, TableNamesTheUserAndTitles) {
  const auto r = collab::test::run_collab("recommend " + run() + " --user 3 -k 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("user 3: top 2 of 30 items"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("11 rated items left out"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Movie "), std::string::npos) << r.out;
}

TEST_F(RecommendCli, ColdStartFoldsInOrFallsBack) {
  const json folded =
      run_collab_json("recommend " + run() + " --ratings '1:5, 2:1,Movie 3 (1973):4' -k 0 --json");
  EXPECT_EQ(folded["mode"], "fold-in");
  EXPECT_EQ(folded["excluded"], 3);
  EXPECT_EQ(folded["items"].size(), 27u);
  for (const auto& item : folded["items"]) {
    EXPECT_TRUE(item["item"] != "1" && item["item"] != "2" && item["item"] != "3") << item;
  }
}

TEST_F(RecommendCli, NoRatingsFallsBackAndSaysWhich) {
  auto r = collab::test::run_collab("recommend " + run() + " -k 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("items ranked by learned bias"), std::string::npos) << r.err;
  r = collab::test::run_collab("recommend " + run() + " --fallback mean-user -k 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("the mean trained user"), std::string::npos) << r.err;
  EXPECT_EQ(run_collab_json("recommend " + run() + " --ratings '' --json")["mode"],
            "fallback: item bias");
}

TEST_F(RecommendCli, SimilarByTitlePrefix) {
  const json near =
      run_collab_json("similar " + run() + " --item 'movie 12' -k 4 --min-ratings 0 --json");
  EXPECT_EQ(near["item"], "12");
  ASSERT_EQ(near["neighbours"].size(), 4u);
  for (const auto& n : near["neighbours"]) {
    EXPECT_NE(n["item"], "12");
    EXPECT_LE(std::abs(n["cosine"].get<double>()), 1.0 + 1e-9);
  }
}

TEST_F(RecommendCli, MinRatingsAndInterpret) {
  // Every item here has fewer than 1000 training ratings: none qualifies as a neighbour.
  EXPECT_TRUE(
      run_collab_json("similar " + run() + " --item 12 --min-ratings 1000 --json")["neighbours"]
          .empty());
  const std::string svg = *dir_ + "/pca.svg";
  const json interpreted = run_collab_json("interpret " + run() + " --top 3 --plot '" + svg +
                                           "' --plot-items 30 --json");
  EXPECT_EQ(interpreted["lowest_bias"].size(), 3u);
  EXPECT_EQ(interpreted["pca"]["components"].size(), 3u);
  const std::string text = collab::test::read_text(svg);
  EXPECT_EQ(text.rfind("<?xml", 0), 0u);
  EXPECT_NE(text.find("Movie 7 &amp; Friends &lt;b&gt;"), std::string::npos);  // escaped
}

TEST_F(RecommendCli, ExportedModelFindsTheSameNeighbours) {
  const std::string pt = *dir_ + "/model.pt";
  const json a = run_collab_json("similar " + run() + " --item 12 --min-ratings 0 --json");
  const json b = run_collab_json("similar '" + pt + "' --item 12 --min-ratings 0 --json");
  EXPECT_EQ(a["neighbours"], b["neighbours"]);
}

TEST_F(RecommendCli, ExportedModelRecommendsTheSame) {
  const std::string pt = *dir_ + "/model.pt";
  const json ra = run_collab_json("recommend " + run() + " --user 4 --json");
  const json rb = run_collab_json("recommend '" + pt + "' --user 4 --json");
  EXPECT_EQ(ra["items"], rb["items"]);
}

TEST_F(RecommendCli, ErrorsAreOneLineNamingTheValue) {
  expect_refused("recommend " + run() + " --user 999",
                 "user \"999\" is not one of the model's 20 users");
  expect_refused("similar " + run() + " --item 'Casablanca'", "item \"Casablanca\"");
  expect_refused("fit-users " + run(), "need --user-file (no u.user or users.dat");
}

TEST_F(RecommendCli, ItemErrorsAreOneLineNamingTheValue) {
  expect_refused("similar " + run() + " --item 'movie 1'", "item \"movie 1\" is ambiguous");
  expect_refused("recommend " + run() + " --ratings '77:5'", "item \"77\"");
}

TEST_F(RecommendCli, RatingErrorsAreOneLineNamingTheValue) {
  expect_refused("recommend " + run() + " --ratings '1:good'", "rating \"good\" of item \"1\"");
  expect_refused("similar '" + *dir_ + "/nothing.ckpt' --item 1", "nothing.ckpt");
}

TEST_F(RecommendCli, SimilarByFeaturesNeedsAFeatureModel) {
  expect_refused("similar " + run() + " --features Drama",
                 "--features needs a model that reads item features");
}

// With data.rating_range set, every reported prediction lies on the scale and JSON keeps the
// model's own number: a y_range of [5.5, 7] over 1-5 star ratings makes every raw score exceed 5,
// so every reported one must be exactly 5.
TEST(RecommendRatingRange, PredictionsAreClippedToTheScale) {
  const std::string dir = collab::test::temp_dir("collab-recommend-range");
  collab::test::write_small_catalogue(dir);
  collab::test::write_text(dir + "/config.json", R"({
    "data": {"train": "train.tsv", "valid": "valid.tsv", "items": "u.item",
             "rating_range": [1, 5]},
    "model": {"arch": "DotProductBias", "n_factors": 4, "y_range": [5.5, 7]},
    "train": {"epochs": 1, "batch_size": 16, "threads": 1}
  })");
  const std::string run = "'" + dir + "/run'";
  const auto trained =
      collab::test::run_collab("train '" + dir + "/config.json' --run-dir " + run + " --quiet");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  auto expect_clipped = [](const json& row, const std::string& what) {
    EXPECT_EQ(row["score"].get<double>(), 5.0) << what << ": " << row;
    EXPECT_GT(row["raw_score"].get<double>(), 5.5) << what << ": " << row;
  };
  const json one = run_collab_json("recommend " + run + " --user 1 -k 0 --json");
  ASSERT_EQ(one["items"].size(), 19u);
  for (const auto& row : one["items"]) expect_clipped(row, "recommend --json");
  const auto table = collab::test::run_collab("recommend " + run + " --user 1 -k 3");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find(" 5.000  Movie"), std::string::npos) << table.out;

  const auto lines = collab::test::run_collab("recommend " + run + " --all-users --format jsonl");
  ASSERT_EQ(lines.exit_code, 0) << lines.err;
  size_t rows = 0;
  for (size_t at = 0; at < lines.out.size(); at = lines.out.find('\n', at) + 1) {
    expect_clipped(json::parse(lines.out.substr(at, lines.out.find('\n', at) - at)), "jsonl");
    ++rows;
  }
  EXPECT_EQ(rows, 200u);  // 20 users x the default k of 10

  collab::test::write_text(dir + "/pairs.csv", "1,5\n2,7\n");
  const auto predicted =
      collab::test::run_collab("predict " + run + " --input '" + dir + "/pairs.csv'");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  EXPECT_EQ(predicted.out, "user,item,prediction\n1,5,5.000000\n2,7,5.000000\n");
}

TEST(RecommendRatingRange, ReportedRatingClampsOnlyWithARange) {
  const std::optional<std::pair<double, double>> scale = std::make_pair(0.5, 5.0);
  EXPECT_EQ(collab::reported_rating(5.12, scale), 5.0);
  EXPECT_EQ(collab::reported_rating(0.2, scale), 0.5);
  EXPECT_EQ(collab::reported_rating(3.25, scale), 3.25);
  EXPECT_EQ(collab::reported_rating(5.12, std::nullopt), 5.12);
  EXPECT_TRUE(std::isnan(collab::reported_rating(std::nan(""), scale)));  // unknown stays unknown
}

// Raw ids are bytes from the data file and need not be UTF-8; JSON output must still be JSON
// (such bytes become U+FFFD) rather than a crash in the JSON library.
TEST(RecommendJson, IdsThatAreNotUtf8BecomeReplacementCharacters) {
  const std::string dir = collab::test::temp_dir("collab-recommend-latin1");
  std::string ratings;
  for (int u = 1; u <= 12; ++u) {
    for (int i = 1; i <= 6; ++i) {
      const std::string item = i == 3 ? "caf\xe9" : "item" + std::to_string(i);
      ratings += std::to_string(u) + "\t" + item + "\t" + std::to_string((u + i) % 5 + 1) + "\n";
    }
  }
  collab::test::write_text(dir + "/ratings.tsv", ratings);
  collab::test::write_text(dir + "/config.json", R"({
    "data": {"ratings": "ratings.tsv", "valid_pct": 0.1},
    "model": {"arch": "DotProductBias", "n_factors": 2, "y_range": [0, 5.5]},
    "train": {"epochs": 1, "batch_size": 8, "threads": 1}
  })");
  const std::string run = "'" + dir + "/run'";
  ASSERT_EQ(
      collab::test::run_collab("train '" + dir + "/config.json' --run-dir " + run + " --quiet")
          .exit_code,
      0);
  for (const std::string& args : {"recommend " + run + " --user 1 -k 0 --include-seen --json",
                                  "similar " + run + " --item item1 -k 0 --min-ratings 0 --json"}) {
    const auto r = collab::test::run_collab(args);
    ASSERT_EQ(r.exit_code, 0) << args << ": " << r.err;
    const json out = json::parse(r.out);
    const json& list = out.contains("items") ? out["items"] : out["neighbours"];
    bool found = false;
    for (const auto& entry : list) found = found || entry["item"] == "caf\xef\xbf\xbd";
    EXPECT_TRUE(found) << args << ": " << r.out;
  }
}

}  // namespace

}  // namespace test_recommend
