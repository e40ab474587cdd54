// `collab predict`: predictions for raw pairs from a run dir, unknown ids reported and left
// empty, and the RMSE printed when the input carries ratings.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "test_support.h"

namespace collab::test {
namespace test_predict {

std::string train_tiny_run(const std::string& dir) {
  std::ostringstream ratings;
  for (int u = 1; u <= 20; ++u) {
    for (int i = 1; i <= 15; ++i) {
      if ((u * 7 + i * 3) % 4 != 0) ratings << u << "\t" << i << "\t" << 1 + (u + i) % 5 << "\n";
    }
  }
  write_text(dir + "/ratings.tsv", ratings.str());
  write_text(dir + "/config.json",
             R"({"data": {"ratings": "ratings.tsv"},
                 "model": {"arch": "DotProductBias", "n_factors": 4, "y_range": [0, 5.5]},
                 "train": {"epochs": 2, "batch_size": 16, "threads": 1}})");
  const CommandResult r =
      run_collab("train '" + dir + "/config.json' --quiet --run-dir '" + dir + "/run'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir + "/run";
}

TEST(Predict, WritesPredictionsAndReportsUnknownIds) {
  const std::string dir = temp_dir("collab-predict");
  const std::string run = train_tiny_run(dir);
  write_text(dir + "/pairs.csv", "user,item,rating\n1,2,4\n3,4,2\n999,1,3\n2,777,5\n");
  const CommandResult r = run_collab("predict '" + run + "' --input '" + dir +
                                     "/pairs.csv' --header --output '" + dir + "/out.csv'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(read_text(dir + "/out.csv"));
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(out, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "user,item,prediction");
  // Known pairs get a rating inside y_range; unknown ones keep their row with no value.
  for (int k = 1; k <= 2; ++k) {
    const double p = std::stod(lines[k].substr(lines[k].rfind(',') + 1));
    EXPECT_GT(p, 0.0);
    EXPECT_LT(p, 5.5);
  }
  EXPECT_EQ(lines[3], "999,1,");
  EXPECT_EQ(lines[4], "2,777,");
  EXPECT_NE(r.err.find("2 of 4 rows"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pairs.csv:4 user \"999\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rmse"), std::string::npos) << r.err;
}

TEST(Predict, MalformedInputNamesFileAndLine) {
  const std::string dir = temp_dir("collab-predict");
  const std::string run = train_tiny_run(dir);
  write_text(dir + "/pairs.csv", "1,2\nonly-one-field\n");
  const CommandResult r = run_collab("predict '" + run + "' --input '" + dir + "/pairs.csv'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pairs.csv:2"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Predict, NeedsInput) {
  const CommandResult r = run_collab("predict somewhere");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--input"), std::string::npos) << r.err;
}

}  // namespace test_predict
}  // namespace collab::test
