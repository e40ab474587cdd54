// The catalogue of bad inputs, as a user meets them: each case runs the real `collab` binary and
// checks the exit code and the one line on stderr naming the file, line, key or value at fault
// (or, for inputs that are accepted, what collab does with them). Cases already covered end to
// end elsewhere are not repeated here: tests/test_cli.cpp (unknown key, wrong type, config not
// JSON, missing data file, malformed line, batch larger than the data, CUDA on a CPU build) and
// tests/test_resume.cpp (another architecture, batch size or dataset, a corrupted checkpoint).
// README.md's "Troubleshooting" lists them all with their messages.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collab/common/file_io.h"
#include "collab/train/run_checkpoints.h"
#include "collab/train/checkpoint.h"
#include "test_support.h"

namespace test_bad_inputs {

namespace fs = std::filesystem;
using namespace collab::test;  // the shared helpers: test_support.h
using nlohmann::json;

namespace {

// 200 tab-separated ratings of 20 users and 10 items, each (user, item) pair once.
std::string ratings_text(const std::string& eol = "\n") {
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += std::to_string(i % 20 + 1) + "\t" + std::to_string(i / 20 + 1) + "\t" +
            std::to_string((i * 7) % 5 + 1) + "\t" + std::to_string(880000000 + i) + eol;
  }
  return text;
}

json base_config() {
  return {{"data", {{"ratings", "ratings.tsv"}}},
          {"model", {{"arch", "DotProductBias"}, {"n_factors", 4}, {"y_range", {0, 5.5}}}},
          {"train", {{"epochs", 1}, {"batch_size", 16}, {"threads", 1}}}};
}

// config.json and ratings.tsv (base_config() and ratings_text() unless given); trains quietly.
struct Workspace : collab::test::Workspace {
  explicit Workspace(const json& config_json = base_config(),
                     const std::string& ratings_content = ratings_text())
      : collab::test::Workspace(config_json, ratings_content, "collab-bad") {
    train_options = "--quiet";
  }
};

// Trains `ws` for one epoch and returns the path of its checkpoint.
std::string trained_checkpoint(const Workspace& ws) {
  const CommandResult r = ws.train();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return ws.latest();
}

}  // namespace

// ---- config ----

TEST(BadInputs, NegativeLearningRate) {
  json config = base_config();
  config["train"]["lr_max"] = -0.01;
  Workspace ws(config);
  expect_one_line_error(ws.train(), "train",
                        {"train.lr_max: expected a positive number, got -0.01"});
  EXPECT_FALSE(fs::exists(ws.run_dir));  // a bad config writes nothing
}

TEST(BadInputs, ZeroLearningRate) {
  Workspace ws;
  expect_one_line_error(ws.train("--set train.lr_max=0"), "train",
                        {"train.lr_max: expected a positive number, got 0"});
}

TEST(BadInputs, ZeroEpochs) {
  json config = base_config();
  config["train"]["epochs"] = 0;
  Workspace ws(config);
  expect_one_line_error(ws.train(), "train", {"train.epochs: expected an integer in [1, 1000000], got 0"});
}

TEST(BadInputs, UnknownArchitecture) {
  json config = base_config();
  config["model"] = {{"arch", "MatrixMagic"}};
  Workspace ws(config);
  expect_one_line_error(ws.train(), "train",
                        {"model.arch", "\"MatrixMagic\"", "\"DotProductBias\"", "\"CollabNN\""});
}

// Given with --set, whose values may hold commas: `[5,1]` is one value (cxxopts used to cut it
// in two at the comma).
TEST(BadInputs, YRangeLowNotBelowHigh) {
  Workspace ws;
  expect_one_line_error(ws.train("--set 'model.y_range=[5,1]'"), "train",
                        {"model.y_range", "lo < hi", "[5,1]"});
  expect_one_line_error(ws.train("--set 'model.y_range=[3,3]'"), "train",
                        {"model.y_range", "[3,3]"});
  expect_ok(ws.train("--set 'model.y_range=[0.5,5.5]'"));
  EXPECT_EQ(json::parse(read_text(ws.run_dir + "/config.json"))["model"]["y_range"],
            json::array({0.5, 5.5}));
}

TEST(BadInputs, MissingDataPath) {
  json config = base_config();
  config["data"] = json::object();
  Workspace ws(config);
  expect_one_line_error(ws.train(), "train", {"data.ratings: missing", "data.train/valid"});
}

TEST(BadInputs, PredefinedSplitWithoutValidation) {
  json config = base_config();
  config["data"] = {{"train", "ratings.tsv"}};
  Workspace ws(config);
  expect_one_line_error(ws.train(), "train",
                        {"data.valid: missing", "needs both data.train and data.valid"});
}

TEST(BadInputs, UnknownDevice) {
  Workspace ws;
  expect_one_line_error(ws.train("--set train.device=tpu"), "train",
                        {"train.device", "\"tpu\"", "\"cpu\""});
}

TEST(BadInputs, MissingConfigFile) {
  const std::string path = collab::test::temp_dir("collab-bad") + "/absent.json";
  expect_one_line_error(run_collab("train " + shell_quote(path)), "train",
                        {path + ": cannot open", std::strerror(ENOENT)});
}

TEST(BadInputs, RunDirIsAFile) {
  Workspace ws;
  write_text(ws.run_dir, "not a folder\n");
  const CommandResult r = ws.train();
  expect_one_line_error(r, "train", {ws.run_dir});
  EXPECT_EQ(read_text(ws.run_dir), "not a folder\n");
}

// ---- data ----

TEST(BadInputs, EmptyRatingsFile) {
  Workspace ws(base_config(), "");
  expect_one_line_error(ws.train(), "train", {ws.ratings + ": no ratings in the file"});
}

TEST(BadInputs, HeaderWhereNoneIsExpected) {
  json config = base_config();
  config["data"]["delimiter"] = ",";
  Workspace ws(config, "user,item,rating\n1,1,4\n2,1,3\n");
  expect_one_line_error(ws.train(), "train",
                        {ws.ratings + ":1: ", "\"rating\" is not a number", "data.header"});
}

TEST(BadInputs, NonNumericRating) {
  std::string ratings = ratings_text();
  ratings.insert(ratings.find('\n', ratings.find('\n') + 1) + 1, "3\t4\tfour\n");  // line 3
  Workspace ws(base_config(), ratings);
  expect_one_line_error(ws.train(), "train", {ws.ratings + ":3: ", "\"four\" is not a number"});
}

TEST(BadInputs, RatingOutsideTheDeclaredRange) {
  json config = base_config();
  config["data"]["rating_range"] = {1, 5};
  Workspace ws(config, ratings_text() + "21\t1\t7\n");
  expect_one_line_error(ws.train(), "train",
                        {ws.ratings + ":201: ", "rating 7 is outside data.rating_range [1, 5]"});
}

TEST(BadInputs, NanRating) {
  Workspace ws(base_config(), "1\t1\t4\n2\t1\tnan\n" + ratings_text());
  expect_one_line_error(ws.train(), "train", {ws.ratings + ":2: ", "\"nan\" is not finite"});
}

TEST(BadInputs, InfiniteRating) {
  Workspace ws(base_config(), ratings_text() + "1\t1\t-inf\n");
  expect_one_line_error(ws.train(), "train", {ws.ratings + ":201: ", "\"-inf\" is not finite"});
}

// CRLF line endings are accepted: the same ratings with either ending train to the same numbers.
TEST(BadInputs, CrlfLineEndingsAreAccepted) {
  Workspace lf, crlf(base_config(), ratings_text("\r\n"));
  const CommandResult a = lf.train(), b = crlf.train();
  expect_ok(a);
  expect_ok(b);
  EXPECT_TRUE(contains(b.out, "valid_mse")) << b.out;
  EXPECT_EQ(a.out, b.out);  // the final metrics line, to the last printed digit
  const collab::Checkpoint ca = collab::read_checkpoint(lf.latest());
  const collab::Checkpoint cb = collab::read_checkpoint(crlf.latest());
  EXPECT_EQ(ca.data_fingerprint, cb.data_fingerprint);
  EXPECT_EQ(cb.users.raw(0), "1");  // no '\r' left on an id
}

// MovieLens writes u.item in latin-1: titles are converted to UTF-8 on reading and come out of
// `collab similar` as valid UTF-8.
TEST(BadInputs, Latin1TitlesAreConvertedToUtf8) {
  json config = base_config();
  config["data"]["items"] = "u.item";
  Workspace ws(config);
  std::string items;
  for (int i = 1; i <= 10; ++i) {
    const std::string title = i == 1 ? "Mis\xE9rables, Les (1995)" : "Film " + std::to_string(i);
    items += std::to_string(i) + "|" + title + "|01-Jan-1995||http://x";
    for (int g = 0; g < 19; ++g) items += g == 0 ? "|1" : "|0";
    items += "\n";
  }
  write_text(ws.dir + "/u.item", items);
  expect_ok(ws.train());
  const CommandResult r =
      run_collab("similar " + shell_quote(ws.run_dir) + " --item 2 -k 0 --min-ratings 0 --json");
  expect_ok(r);
  EXPECT_TRUE(contains(r.out, "Mis\xC3\xA9rables, Les (1995)")) << r.out;
  EXPECT_FALSE(contains(r.out, "Mis\xE9r")) << r.out;
}

// Policy: repeated (user, item) rows are kept, each as its own example (as fastai does), and
// `collab train` says how many there are and names the first.
TEST(BadInputs, DuplicateRatingsAreKeptAndCounted) {
  Workspace ws(base_config(), ratings_text() + "3\t1\t5\t1\n3\t1\t2\t2\n");
  const CommandResult r =
      run_collab("train " + shell_quote(ws.config) + " --run-dir " + shell_quote(ws.run_dir));
  expect_ok(r);
  EXPECT_TRUE(contains(r.out,
                       "note: 2 ratings repeat a (user, item) pair rated before (the first: "
                       "user 3, item 1); each is kept as its own example"))
      << r.out;
  // 202 ratings, 20% validation: 162 train, all kept.
  EXPECT_TRUE(contains(r.out, "162 train / 40 valid ratings")) << r.out;
}

// A validation split with users and items never seen in training is trained and evaluated (their
// embeddings keep their initial values), and the run says how many such ratings there are.
TEST(BadInputs, UnseenUsersAndItemsInTheValidationSplitAreCounted) {
  json config = base_config();
  config["data"] = {{"train", "ratings.tsv"}, {"valid", "valid.tsv"}};
  Workspace ws(config);
  write_text(ws.dir + "/valid.tsv", "1\t1\t4\n99\t2\t3\n98\t77\t5\n2\t3\t1\n");
  const CommandResult r =
      run_collab("train " + shell_quote(ws.config) + " --run-dir " + shell_quote(ws.run_dir));
  expect_ok(r);
  EXPECT_TRUE(contains(
      r.out, "note: 2 validation ratings have a user and 1 an item never seen in training"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "200 train / 4 valid ratings")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("valid_mse [0-9]+\\.[0-9]+"))) << r.out;
}

// ---- checkpoints ----

TEST(BadInputs, TruncatedCheckpoint) {
  Workspace ws;
  const std::string ckpt = trained_checkpoint(ws);
  const std::string bytes = read_text(ckpt);
  write_text(ckpt, bytes.substr(0, bytes.size() * 2 / 3));
  expect_one_line_error(run_collab("resume " + shell_quote(ws.run_dir)), "resume",
                        {ckpt, "truncated"});
  expect_one_line_error(
      run_collab("export " + shell_quote(ckpt) + " -o " + shell_quote(ws.dir + "/model.pt")),
      "export", {ckpt, "truncated"});
  EXPECT_FALSE(fs::exists(ws.dir + "/model.pt"));
}

TEST(BadInputs, RandomBytesAsACheckpoint) {
  Workspace ws;
  const std::string ckpt = trained_checkpoint(ws);
  std::string random(5000, '\0');
  std::mt19937 rng(7);
  for (auto& c : random) c = static_cast<char>(rng());
  write_text(ckpt, random);
  expect_one_line_error(run_collab("resume " + shell_quote(ws.run_dir)), "resume",
                        {ckpt, "not a collab checkpoint"});
  expect_one_line_error(run_collab("similar " + shell_quote(ckpt) + " --item 1"), "similar",
                        {ckpt, "not a collab checkpoint"});
}

TEST(BadInputs, CheckpointOfAnotherFormatVersion) {
  Workspace ws;
  const std::string ckpt = trained_checkpoint(ws);
  std::string bytes = read_text(ckpt);
  bytes[8] = 9;  // the little-endian version follows the 8-byte magic
  write_text(ckpt, bytes);
  expect_one_line_error(run_collab("resume " + shell_quote(ws.run_dir)), "resume",
                        {ckpt, "format version 9", "reads version 2", "newer collab"});
  // Version 1 (a LibTorch archive) is no longer read: the user is told what to do instead.
  bytes[8] = 1;
  write_text(ckpt, bytes);
  expect_one_line_error(
      run_collab("resume " + shell_quote(ws.run_dir)), "resume",
      {ckpt, "format version 1", "reads version 2", "older collab", "or train again"});
}

TEST(BadInputs, LatestNamesNoCheckpoint) {
  Workspace ws;
  trained_checkpoint(ws);
  const std::string latest = collab::checkpoints_dir(ws.run_dir) + "/latest";
  write_text(latest, "../../etc/passwd\n");
  expect_one_line_error(run_collab("resume " + shell_quote(ws.run_dir)), "resume",
                        {latest, "does not name a checkpoint file", "../../etc/passwd"});
}

// A file that looks like a TorchScript archive (a zip) but is not one.
TEST(BadInputs, DamagedTorchScriptModel) {
  const std::string dir = collab::test::temp_dir("collab-bad");
  const std::string model = dir + "/model.pt";
  write_text(model, std::string("PK\3\4", 4) + std::string(600, 'x'));
  write_text(dir + "/pairs.csv", "1,1\n");
  expect_one_line_error(
      run_collab("predict " + shell_quote(model) + " --input " + shell_quote(dir + "/pairs.csv")),
      "predict", {model, "not a loadable TorchScript model"});
}

// ---- runtime ----

// A learning rate of 1e30 without y_range overflows within a few steps: training stops at the
// step whose loss is not finite, says where, and keeps the last checkpoint, which holds only
// finite numbers.
TEST(BadInputs, DivergingLossStopsAndKeepsTheLastGoodCheckpoint) {
  json config = base_config();
  config["model"] = {{"arch", "DotProduct"}, {"n_factors", 4}};
  config["train"]["lr_max"] = 1e30;
  config["checkpoint"] = {{"every_steps", 1}, {"keep_last", 0}};
  Workspace ws(config);
  const CommandResult r = ws.train();
  expect_one_line_error(r, "train", {"training diverged", "train.lr_max", "last good checkpoint"});
  std::smatch where;
  ASSERT_TRUE(std::regex_search(r.err, where,
                                std::regex("became (NaN|inf|-inf) at epoch 0, step ([0-9]+)")))
      << r.err;
  const int64_t step = std::stoll(where[2]);
  ASSERT_GE(step, 2) << "diverged at the first step: nothing to keep";
  const std::string kept =
      collab::checkpoints_dir(ws.run_dir) + "/" + collab::checkpoint_file_name(step - 1);
  EXPECT_TRUE(contains(r.err, kept + ", is kept")) << r.err;
  EXPECT_EQ(ws.latest(), kept);
  const collab::Checkpoint c = collab::read_checkpoint(kept);
  for (const auto& [name, tensor] : c.state.parameters) {
    EXPECT_TRUE(torch::isfinite(tensor).all().item<bool>()) << name;
  }
  EXPECT_FALSE(
      fs::exists(collab::checkpoints_dir(ws.run_dir) + "/" + collab::checkpoint_file_name(step)));
}

// A full disk while writing a checkpoint, simulated with a file-size limit (`ulimit -f`, with
// SIGXFSZ ignored so that the write fails with EFBIG instead of killing collab): the config and
// metrics (small) are written, the checkpoint is not, and the previous checkpoint stays whole and
// named by `latest`.
TEST(BadInputs, FullDiskWhileCheckpointingKeepsThePreviousCheckpoint) {
  Workspace ws;
  const std::string previous = trained_checkpoint(ws);
  const std::string previous_bytes = read_text(previous);
  // Checkpoints of format 2 (16 KB here) are smaller than those of format 1 (LibTorch archives).
  ASSERT_GT(previous_bytes.size(), 8192u) << "the limit below must lie under a checkpoint's size";
  // dash counts ulimit -f in 512-byte blocks: 8 KiB.
  const CommandResult r = run_collab("resume " + shell_quote(ws.run_dir) + " --epochs 2 --quiet",
                                     "trap '' XFSZ; ulimit -f 16;");
  const std::string next = collab::checkpoints_dir(ws.run_dir) + "/" +
                           collab::checkpoint_file_name(2 * 10);  // 160 train ratings / 16
  expect_one_line_error(r, "resume",
                        {next, std::strerror(EFBIG),
                         "the previous checkpoint " + previous + " is intact", "collab resume"});
  EXPECT_EQ(read_text(previous), previous_bytes);
  EXPECT_EQ(ws.latest(), previous);
  EXPECT_FALSE(fs::exists(next));
  for (const auto& e : fs::directory_iterator(collab::checkpoints_dir(ws.run_dir))) {
    EXPECT_FALSE(contains(e.path().filename().string(), collab::kTempFileSuffix)) << e.path();
  }
  // Once there is room again, the run continues from the intact checkpoint.
  expect_ok(run_collab("resume " + shell_quote(ws.run_dir) + " --epochs 2 --quiet"));
  EXPECT_EQ(ws.latest(), next);
}

}  // namespace test_bad_inputs
