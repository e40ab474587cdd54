// The `collab` command as a user runs it: help, exit codes, one-line errors naming the culprit
// (no stack traces), and a tiny training run writing its run directory.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace test_cli {

namespace fs = std::filesystem;
using namespace collab::test;  // the shared helpers: test_support.h
using nlohmann::json;

namespace {

const char* kConfig = R"({
  "data": {"ratings": "ratings.tsv"},
  "model": {"arch": "DotProductBias", "n_factors": 4, "y_range": [0, 5.5]},
  "train": {"epochs": 1, "batch_size": 16, "threads": 1}
})";

// ratings.tsv (200 synthetic ratings unless given) and config.json (the given config text).
struct Workspace : collab::test::Workspace {
  explicit Workspace(const std::string& config_text = kConfig,
                     const std::string& ratings_text = synthetic_ratings(200, 20, 30, /*seed=*/1))
      : collab::test::Workspace(config_text, ratings_text, "collab-cli") {}
};

}  // namespace

TEST(Cli, Help) {
  const auto top = run_collab("--help");
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("usage: collab"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("train"), std::string::npos) << top.out;

  const auto train = run_collab("train --help");
  EXPECT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("--set"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("--run-dir"), std::string::npos) << train.out;
}

TEST(Cli, NoCommandPrintsUsageAndFails) {
  const auto r = run_collab("");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("usage: collab"), std::string::npos) << r.err;
}

TEST(Cli, UnknownCommandFails) {
  const auto r = run_collab("frobnicate");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown command \"frobnicate\""), std::string::npos) << r.err;
}

TEST(Cli, TrainWithoutConfigFails) {
  const auto r = run_collab("train");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("CONFIG"), std::string::npos) << r.err;
}

TEST(Cli, UnknownConfigKey) {
  Workspace ws(R"({"data": {"ratings": "ratings.tsv"}, "model": {"arch": "DotProduct"},
                   "train": {"epoch": 1}})");
  expect_one_line_error(ws.train(), "train", {"train.epoch", "unknown key", "epochs"});
  EXPECT_FALSE(fs::exists(ws.run_dir));  // nothing is written for a bad config
}

TEST(Cli, WrongType) {
  Workspace ws;
  expect_one_line_error(ws.train("--set train.lr_max=fast"), "train",
                        {"train.lr_max: expected a positive number, got \"fast\""});
}

TEST(Cli, MalformedOverride) {
  Workspace ws;
  expect_one_line_error(ws.train("--set train.lr_max"), "train", {"--set", "train.lr_max"});
}

TEST(Cli, MissingDataFile) {
  Workspace ws(R"({"data": {"ratings": "missing.tsv"}, "model": {"arch": "DotProduct"},
                   "train": {"epochs": 1}})");
  expect_one_line_error(ws.train(), "train", {(fs::path(ws.dir) / "missing.tsv").string()});
}

TEST(Cli, MalformedDataLine) {
  std::string ratings = synthetic_ratings(200, 20, 30, /*seed=*/1);
  size_t pos = 0;
  for (int line = 1; line < 7; ++line) pos = ratings.find('\n', pos) + 1;
  ratings.insert(pos, "5\t6\n");  // line 7 has two fields
  Workspace ws(kConfig, ratings);
  expect_one_line_error(ws.train(), "train", {ws.ratings + ":7:", "expected 3 or 4 fields"});
}

TEST(Cli, CudaOnACpuBuild) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here; nothing to refuse";
  Workspace ws;
  expect_one_line_error(ws.train("--set train.device=cuda"), "train", {"train.device", "cuda"});
}

TEST(Cli, ConfigNotJson) {
  Workspace ws("{\n  \"data\": {\"ratings\": \"ratings.tsv\"\n  \"model\": {}\n}\n");
  expect_one_line_error(ws.train(), "train", {ws.config, "not valid JSON", "line 3"});
}

TEST(Cli, BatchLargerThanTheDataIsReportedAtTrainTime) {
  Workspace ws;
  expect_one_line_error(ws.train("--set train.batch_size=100000"), "train",
                        {"train.batch_size", "100000"});
}

TEST(Cli, UnexpectedArgument) {
  Workspace ws;
  expect_one_line_error(ws.train("extra"), "train", {"extra"});
}

TEST(Cli, UnknownOption) {
  Workspace ws;
  expect_one_line_error(ws.train("--frobnicate"), "train", {"frobnicate"});
}

TEST(Cli, TinyTrainingRunWritesItsRunDir) {
  Workspace ws;
  const auto r = ws.train("--set train.epochs=2");
  ASSERT_EQ(r.exit_code, 0) << "stdout: " << r.out << "\nstderr: " << r.err;
  EXPECT_NE(r.out.find("valid_mse"), std::string::npos) << r.out;

  // config.json: the resolved config, defaults filled in and paths absolute.
  const std::string config_path = ws.run_dir + "/config.json";
  ASSERT_TRUE(fs::exists(config_path));
  const json config = json::parse(collab::test::read_text(config_path));
  EXPECT_EQ(config["model"]["arch"], "DotProductBias");
  EXPECT_EQ(config["model"]["n_factors"], 4);
  EXPECT_EQ(config["train"]["epochs"], 2);
  EXPECT_EQ(config["train"]["seed"], 42);  // a default
  EXPECT_EQ(config["data"]["ratings"], ws.ratings);
  EXPECT_FALSE(fs::exists(config_path + ".tmp"));

  // metrics.jsonl: one JSON object per epoch.
  std::istringstream lines(collab::test::read_text(ws.run_dir + "/metrics.jsonl"));
  std::string line;
  int epoch = 0;
  while (std::getline(lines, line)) {
    const json m = json::parse(line);
    EXPECT_EQ(m["epoch"], epoch) << line;
    for (const char* key : {"train_loss", "valid_mse", "valid_rmse", "valid_mae", "seconds"}) {
      ASSERT_TRUE(m.contains(key) && m[key].is_number()) << key << " in " << line;
    }
    EXPECT_GT(m["valid_mse"].get<double>(), 0.0);
    EXPECT_NEAR(m["valid_rmse"].get<double>(), std::sqrt(m["valid_mse"].get<double>()), 1e-9);
    EXPECT_GE(m["seconds"].get<double>(), 0.0);
    ++epoch;
  }
  EXPECT_EQ(epoch, 2);
}

}  // namespace test_cli
