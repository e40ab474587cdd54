// A movies.csv catalogue (MovieLens 20M/25M/latest's layout: header, quoted titles with commas,
// pipe-separated genres that are not MovieLens 100k's, "(no genres listed)") end to end: the
// feature models train on the genres and decades read from it, the names travel in checkpoints
// and exports, and titles reach recommend and similar. Users 1-10 like Action, 11-20 IMAX.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "collab/train/checkpoint.h"
#include "collab/train/run_checkpoints.h"
#include "test_support.h"

namespace test_movies_csv_cli {

namespace {

using json = nlohmann::json;
using namespace collab::test;  // the shared helpers: test_support.h

// Genre of item i: 0 Action, 1 IMAX, 2 none (i % 3).
int genre_of(int item) {
  return item % 3;
}

std::string movies_csv() {
  std::string text = "movieId,title,genres\n";
  const char* genres[3] = {"Action", "IMAX", "(no genres listed)"};
  for (int i = 1; i <= 30; ++i) {
    const std::string year = std::to_string(i <= 15 ? 2010 + i % 9 : 1880 + i);
    text += std::to_string(i) + ",\"Movie " + std::to_string(i) + ", The (" + year + ")\"," +
            genres[genre_of(i)] + "\n";
  }
  return text;
}

class MoviesCsvCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(collab::test::temp_dir("collab-movies-csv"));
    std::string ratings = "userId,movieId,rating,timestamp\n";
    for (int u = 1; u <= 20; ++u) {
      for (int i = 1; i <= 27; ++i) {
        const int g = genre_of(i);
        const double r = g == 2 ? 3 : ((g == 0) == (u <= 10) ? 4.5 : 1);
        ratings +=
            std::to_string(u) + "," + std::to_string(i) + "," + std::to_string(r) + ",1500000000\n";
      }
    }
    collab::test::write_text(*dir_ + "/movies.csv", movies_csv());
    collab::test::write_text(*dir_ + "/ratings.csv", ratings);
    collab::test::train_feature_models(
        *dir_, R"({"ratings": "ratings.csv", "delimiter": ",", "header": true,
                 "items": "movies.csv", "encoding": "utf-8"})",
        10);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string path(const std::string& name) { return "'" + *dir_ + "/" + name + "'"; }
  static std::string* dir_;
};

std::string* MoviesCsvCli::dir_ = nullptr;

TEST_F(MoviesCsvCli, CheckpointsCarryTheDataFeatureNames) {
  const collab::Checkpoint c =
      collab::read_checkpoint(collab::latest_checkpoint(*dir_ + "/hybrid"));
  // Action, IMAX, then the decades 1890s..2010s the titles' years span.
  ASSERT_GE(c.item_feature_names.size(), 3u);
  EXPECT_EQ(c.item_feature_names[0], "Action");
  EXPECT_EQ(c.item_feature_names[1], "IMAX");
  EXPECT_EQ(c.item_feature_names[2], "1890s");
  EXPECT_EQ(c.item_feature_names.back(), "2010s");
  EXPECT_EQ(c.item_feature_names.size(), 2u + 13u);
}

TEST_F(MoviesCsvCli, SimilarByTheDataGenresAndTitles) {
  for (const std::string model : {"hybrid", "hybrid.pt"}) {
    SCOPED_TRACE(model);
    const json near = run_collab_json("similar " + path(model) +
                                      " --features 'IMAX,2010s' -k 3 --min-ratings 0 --json");
    ASSERT_EQ(near["neighbours"].size(), 3u);
    for (const auto& n : near["neighbours"]) {
      EXPECT_EQ(genre_of(std::stoi(n["item"].get<std::string>())), 1) << n;
    }
    const json by_title = run_collab_json(
        "similar " + path(model) + " --item 'Movie 4, The (2014)' -k 2 --min-ratings 0 --json");
    EXPECT_EQ(by_title["item"], "4") << by_title;
  }
  const json exact = run_collab_json("similar " + path("content") +
                                     " --features 'action,1895' -k 3 --min-ratings 0 --json");
  ASSERT_EQ(exact["neighbours"].size(), 3u);
  expect_refused("similar " + path("hybrid") + " --features \"Children's\"", "IMAX");
}

TEST_F(MoviesCsvCli, RecommendShowsTitles) {
  const json rec = run_collab_json("recommend " + path("hybrid") + " --user 1 -k 3 --json");
  ASSERT_EQ(rec["items"].size(), 3u);
  const std::string title = rec["items"][0]["title"].get<std::string>();
  EXPECT_EQ(title.rfind("Movie ", 0), 0u) << rec;
  EXPECT_NE(title.find(", The ("), std::string::npos) << rec;
}

}  // namespace

}  // namespace test_movies_csv_cli
