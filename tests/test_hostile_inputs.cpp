// Hostile inputs and faults, round 2: two processes on one run dir, a checkpoint of another run,
// outputs written onto their own inputs, special files (FIFOs, /dev/zero) named as inputs, JSON
// that is deep, duplicated or trailed, a file-size limit, too little memory, values that overflow
// a step count or float range, and bytes that would break a one-line message. Each case runs the
// real `collab` (or the function behind it) and checks the exit code and the message.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "collab/common/config_reader.h"
#include "collab/common/file_io.h"
#include "collab/common/utf8.h"
#include "collab/data/item_catalog.h"
#include "collab/data/ratings.h"
#include "collab/train/checkpoint.h"
#include "collab/train/run_checkpoints.h"
#include "collab/train/run_dir.h"
#include "test_support.h"

namespace test_hostile_inputs {

namespace fs = std::filesystem;
using namespace collab::test;  // the shared helpers: test_support.h
using nlohmann::json;

namespace {

json small_config(int64_t epochs = 1) {
  return {{"data", {{"ratings", "ratings.tsv"}}},
          {"model", {{"arch", "DotProductBias"}, {"n_factors", 4}, {"y_range", {0, 5.5}}}},
          {"train", {{"epochs", epochs}, {"batch_size", 16}, {"threads", 1}}}};
}

struct Workspace : collab::test::Workspace {
  explicit Workspace(const json& config = small_config())
      : collab::test::Workspace(config, synthetic_ratings(2000, 40, 30, /*seed=*/3),
                                "collab-hostile") {
    train_options = "--quiet";
  }
};

// A `collab train` that runs for a while (thousands of epochs of 1600 ratings), started in the
// background into `run_dir`; returns its pid once it holds the run dir's lock.
pid_t start_long_run(const Workspace& ws, const std::string& run_dir) {
  const pid_t pid = start_collab({"train", ws.config, "--run-dir", run_dir, "--quiet", "--set",
                                  "train.epochs=100000"},
                                 ws.path("long.log"));
  const bool started = wait_until(
      [&] {
        return fs::exists(run_dir + "/" + collab::kRunDirLockFile) &&
               read_text(run_dir + "/" + collab::kRunDirLockFile) == std::to_string(pid) + "\n";
      },
      30);
  EXPECT_TRUE(started) << read_text(ws.path("long.log"));
  return pid;
}

// `collab train` of `ws` into its run dir with a shell prefix (`ulimit ...;`).
CommandResult train_with(const Workspace& ws, const std::string& extra, const std::string& shell) {
  return run_collab("train " + shell_quote(ws.config) + " --run-dir " + shell_quote(ws.run_dir) +
                        " --quiet " + extra,
                    shell);
}

void stop(pid_t pid) {
  kill(pid, SIGKILL);
  wait_exit_code(pid);
}

}  // namespace

// ---- one writer per run dir: real processes ----

TEST(RunDirLock, ASecondTrainOrResumeIsRefusedNamingTheHolder) {
  Workspace ws;
  const pid_t holder = start_long_run(ws, ws.run_dir);
  const std::string pid = std::to_string(holder);
  expect_one_line_error(ws.train(), "train", {ws.run_dir, "in use", "pid " + pid});
  expect_one_line_error(run_collab("resume " + shell_quote(ws.run_dir)), "resume",
                        {"in use", "pid " + pid});
  expect_one_line_error(ws.train("--resume"), "train", {"in use", "pid " + pid});
  // The holder is killed outright: the kernel releases its lock, so the run continues.
  stop(holder);
  ASSERT_TRUE(collab::has_checkpoints(ws.run_dir));
  expect_ok(run_collab("resume " + shell_quote(ws.run_dir) + " --quiet --epochs " +
                       std::to_string(collab::read_checkpoint(ws.latest()).state.epoch + 1)));
}

TEST(RunDirLock, ACompareDirHasOneWriterToo) {
  Workspace ws;
  const std::string dir = ws.path("compare-run");
  fs::create_directories(dir);
  const auto lock = collab::RunDirLock::acquire(dir);  // this test process holds it
  EXPECT_EQ(collab::RunDirLock::acquire(dir), lock);   // re-entrant within a process
  const json compare = {{"data", {{"ratings", "ratings.tsv"}}},
                        {"eval", {{"protocol", "random"}, {"seeds", {1}}}},
                        {"candidates", {{{"name", "a"}, {"model", {{"arch", "DotProduct"}}}}}}};
  write_text(ws.path("compare.json"), compare.dump());
  expect_one_line_error(
      run_collab("compare " + shell_quote(ws.path("compare.json")) + " --run-dir " +
                 shell_quote(dir) + " --quiet"),
      "compare", {"in use", "pid " + std::to_string(getpid())});
}

TEST(RunDirLock, ACheckpointOfAnotherRunIsRefused) {
  Workspace ws;
  expect_ok(ws.train());
  const std::string other = ws.path("other");
  expect_ok(ws.train_into(other, "--set model.arch=\\\"DotProduct\\\" --set train.epochs=2"));
  // Another run's checkpoint placed in this run dir and named by `latest`.
  const std::string foreign = fs::path(collab::latest_checkpoint(other)).filename().string();
  fs::copy_file(other + "/checkpoints/" + foreign,
                collab::checkpoints_dir(ws.run_dir) + "/" + foreign);
  write_text(collab::checkpoints_dir(ws.run_dir) + "/latest", foreign + "\n");
  const std::string config_before = read_text(ws.run_dir + "/config.json");
  expect_one_line_error(run_collab("resume " + shell_quote(ws.run_dir) + " --epochs 5"), "resume",
                        {foreign, "a checkpoint of another run", "run.json"});
  EXPECT_EQ(read_text(ws.run_dir + "/config.json"), config_before);  // nothing rewritten
}

// ---- outputs never replace their inputs; special files are refused at once ----

TEST(HostileFiles, OutputsOntoTheirOwnInputsAreRefused) {
  Workspace ws;
  expect_ok(ws.train());
  const std::string checkpoint = ws.latest();
  const std::string before = read_text(checkpoint);
  expect_one_line_error(
      run_collab("export " + shell_quote(ws.run_dir) + " -o " + shell_quote(checkpoint)),
      "export", {checkpoint, "the checkpoint it exports"});
  EXPECT_EQ(read_text(checkpoint), before);

  write_text(ws.path("pairs.csv"), "1,2\n");
  const std::string input = shell_quote(ws.path("pairs.csv"));
  expect_one_line_error(
      run_collab("predict " + shell_quote(ws.run_dir) + " --input " + input + " --output " + input),
      "predict", {"the --input file"});
  EXPECT_EQ(read_text(ws.path("pairs.csv")), "1,2\n");
}

TEST(HostileFiles, SpecialFilesAreRefusedWithoutReading) {
  Workspace ws;
  expect_ok(ws.train());
  const std::string fifo = ws.path("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", ws.path("zero.ckpt"));
  // `timeout` turns a hang into a failure rather than a stuck test.
  const std::string t = "timeout 60";
  for (const auto& [args, command] : std::vector<std::pair<std::string, std::string>>{
           {"train " + shell_quote(fifo), "train"},
           {"train /dev/zero", "train"},
           {"train " + shell_quote(ws.config) + " --set data.ratings=\\\"/dev/zero\\\"", "train"},
           {"predict " + shell_quote(ws.run_dir) + " --input /dev/zero", "predict"},
           {"predict " + shell_quote(ws.path("zero.ckpt")) + " --input " + shell_quote(fifo),
            "predict"},
           {"export " + shell_quote(ws.path("zero.ckpt")) + " -o " + shell_quote(ws.path("m.pt")),
            "export"}}) {
    SCOPED_TRACE(args);
    expect_one_line_error(run_collab(args, t), command, {"not a regular file"});
  }
  // `latest` naming a symlink to /dev/zero.
  const std::string zero = "ckpt-0000009999.ckpt";
  fs::create_symlink("/dev/zero", collab::checkpoints_dir(ws.run_dir) + "/" + zero);
  write_text(collab::checkpoints_dir(ws.run_dir) + "/latest", zero + "\n");
  expect_one_line_error(run_collab("resume " + shell_quote(ws.run_dir), t), "resume",
                        {zero, "not a regular file"});
  // Directories say so.
  expect_one_line_error(run_collab("train " + shell_quote(ws.dir), t), "train",
                        {"is a directory"});
  expect_one_line_error(
      run_collab("predict " + shell_quote(ws.latest()) + " --input " + shell_quote(ws.dir), t),
      "predict", {"is a directory"});
}

TEST(HostileFiles, AFileSizeLimitIsReportedAndLeavesNoTemporaryFile) {
  // A plain `ulimit -f`, as a user's shell sets it: SIGXFSZ is not ignored beforehand.
  Workspace ws;
  const CommandResult r = train_with(ws, "", "ulimit -f 8;");
  expect_one_line_error(r, "train", {".ckpt", "File too large"});
  for (const auto& entry : fs::recursive_directory_iterator(ws.run_dir)) {
    EXPECT_EQ(entry.path().string().find(collab::kTempFileSuffix), std::string::npos)
        << entry.path();
  }

  // predict --output past the limit: the existing output file keeps its content, and the
  // message names the file and the system's reason.
  expect_ok(ws.train_into(ws.path("ok")));
  std::string pairs;
  for (int r = 0; r < 300; ++r) pairs += std::to_string(r % 40 + 1) + ",1\n";  // > 2 KiB out
  write_text(ws.path("pairs.csv"), pairs);
  write_text(ws.path("out.csv"), "the previous predictions\n");
  const CommandResult p = run_collab("predict " + shell_quote(ws.path("ok")) + " --input " +
                                         shell_quote(ws.path("pairs.csv")) + " --output " +
                                         shell_quote(ws.path("out.csv")),
                                     "ulimit -f 1;");
  expect_one_line_error(p, "predict", {"out.csv", "File too large"});
  EXPECT_EQ(read_text(ws.path("out.csv")), "the previous predictions\n");
}

TEST(HostileFiles, OutOfMemoryIsOneLine) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan maps terabytes of shadow memory at start: no ulimit -v leaves it room";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "ASan maps terabytes of shadow memory at start: no ulimit -v leaves it room";
#endif
#endif
  // 3000 users x 60000 factors of float32 = 720 MB, under a 2.5 GB address-space limit of which
  // LibTorch's start takes most.
  Workspace ws;
  std::string ratings;
  for (int i = 0; i < 3000; ++i) ratings += std::to_string(i + 1) + "\t1\t3\n";
  write_text(ws.ratings, ratings);
  const CommandResult r = train_with(ws, "--set model.n_factors=60000", "ulimit -v 2500000;");
  expect_one_line_error(r, "train", {"out of memory"});
}

// ---- config values ----

TEST(StrictJson, DuplicateKeysTrailingBytesAndDeepNestingAreRefused) {
  const auto error = [](const std::string& text) {
    return error_of([&] { collab::parse_json_text(text, "c.json"); }, text.substr(0, 40));
  };
  EXPECT_NE(error(R"({"train": {"lr_max": 0.1, "lr_max": 0.2}})").find(
                "c.json: not valid JSON: key \"train.lr_max\" appears twice"),
            std::string::npos);
  EXPECT_NE(error(R"({"a": 1} {"b": 2})").find("expected end of input"), std::string::npos);
  EXPECT_NE(error(R"({"a": 1} x)").find("c.json: not valid JSON"), std::string::npos);
  const std::string deep = "{\"train\": {\"moms\": " + std::string(70000, '[') +
                           std::string(70000, ']') + "}}";
  EXPECT_NE(error(deep).find("nested more than 100 levels"), std::string::npos);
  // The same key in two objects is fine, and so is nesting up to the bound.
  EXPECT_NO_THROW(collab::parse_json_text(R"({"a": {"x": 1}, "b": {"x": 2}})", "c.json"));
  EXPECT_NO_THROW(collab::parse_json_text(std::string(99, '[') + std::string(99, ']'), "c.json"));
}

TEST(StrictJson, DeepValuesInAConfigOrSetAreOneLineErrors) {
  Workspace ws;
  json config = small_config();
  std::string text = config.dump();
  text.insert(text.rfind('}'), ", \"deep\": " + std::string(70000, '[') + std::string(70000, ']'));
  ws.write_config(text);
  expect_one_line_error(ws.train(), "train", {"nested more than 100 levels"});
  ws.write_config(small_config());
  expect_one_line_error(ws.train("--set 'train.moms=" + std::string(5000, '[') +
                                 std::string(5000, ']') + "'"),
                        "train", {"--set train.moms", "nested more than 100 levels"});
  ws.write_config(std::string(R"({"data": {"ratings": "ratings.tsv"}, "model": {"arch":
                     "DotProduct", "arch": "CollabNN"}})"));
  expect_one_line_error(ws.train(), "train", {"\"model.arch\" appears twice"});
}

TEST(StrictJson, ValuesThatOverflowAreRefusedByName) {
  Workspace ws;
  expect_one_line_error(ws.train("--set train.epochs=9223372036854775807"), "train",
                        {"train.epochs", "[1, 1000000]"});
  expect_one_line_error(ws.train("--set train.div_final=1e-300"), "train", {"train.div_final"});
  expect_one_line_error(ws.train("--set 'model.y_range=[0,1e39]'"), "train",
                        {"model.y_range", "1e6"});
  write_text(ws.ratings, "1\t1\t1e38\n2\t2\t3\n");
  expect_one_line_error(ws.train(), "train", {"ratings.tsv:1", "too large"});
}

// ---- messages: one printable line, whatever the bytes ----

TEST(HostileMessages, ValuesAreEscapedAndCut) {
  EXPECT_EQ(collab::quoted_for_message(std::string("a\0b\x1b[31m\n\"\\\xff", 12)),
            "\"a\\x00b\\x1b[31m\\n\\\"\\\\\\xff\"");
  EXPECT_EQ(collab::quoted_for_message("Café ±"), "\"Café ±\"");  // UTF-8 kept
  const std::string cut = collab::quoted_for_message(std::string(10 << 20, 'x'));
  EXPECT_LT(cut.size(), 120u);
  EXPECT_NE(cut.find("(10485760 bytes)"), std::string::npos);

  Workspace ws;
  write_text(ws.ratings, "1\t2\t3\n1\t3\tab" + std::string(1, '\0') + "\x1b[2Jc\n");
  const CommandResult r = ws.train();
  expect_one_line_error(r, "train", {"ratings.tsv:2", "\"ab\\x00\\x1b[2Jc\""});
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos);
  // A 1 MiB field is cut, not echoed whole.
  write_text(ws.ratings, "1\t2\t" + std::string(1 << 20, 'y') + "\n");
  const CommandResult long_field = ws.train();
  expect_one_line_error(long_field, "train", {"ratings.tsv:1", "(1048576 bytes)"});
  EXPECT_LT(long_field.err.size(), 400u);
  expect_one_line_error(ws.train("--set 'data.delimiter=\"\n\"'"), "train", {"data.delimiter"});
  // A value outside a list of choices (found by fuzz_run_config) and a device name are escaped.
  const CommandResult arch = ws.train("--set " + shell_quote("model.arch=Dot\x1b[2J\x1f"));
  expect_one_line_error(arch, "train", {"model.arch", "\"Dot\\u001b[2J\\u001f\""});
  EXPECT_EQ(arch.err.find('\x1b'), std::string::npos);
  const CommandResult device = ws.train("--set " + shell_quote("train.device=cu\x1b[2Jda"));
  expect_one_line_error(device, "train", {"train.device", "\"cu\\x1b[2Jda\""});
  EXPECT_EQ(device.err.find('\x1b'), std::string::npos);
  // So is a key (found by fuzz_run_config: a DEL byte in an unknown key's name).
  const CommandResult key = ws.train("--set " + shell_quote("train.lr\x7fmax=1"));
  expect_one_line_error(key, "train", {"\"train.lr\\x7fmax\": unknown key"});
  EXPECT_EQ(key.err.find('\x7f'), std::string::npos);
}

TEST(HostileMessages, OptionValuesAreNamed) {
  Workspace ws;
  expect_ok(ws.train());
  expect_one_line_error(run_collab("similar " + shell_quote(ws.run_dir) + " --item 1 -k abc"),
                        "similar", {"option -k", "\"abc\""});
  expect_one_line_error(
      run_collab("similar " + shell_quote(ws.run_dir) + " --item 1 --min-ratings -1"), "similar",
      {"--min-ratings must be >= 0"});
  expect_one_line_error(run_collab("recommend " + shell_quote(ws.run_dir) +
                                   " --ratings 1:5 --prior-weight 0"),
                        "recommend", {"--prior-weight"});
}

// ---- silently wrong, no longer ----

TEST(HostileData, NonNumericRatingsInPredictAreNamed) {
  Workspace ws;
  expect_ok(ws.train());
  for (const std::string rating : {"abc", "nan", "inf", ""}) {
    write_text(ws.path("pairs.csv"), "1,2,4\n1,3," + rating + "\n");
    const CommandResult r = run_collab("predict " + shell_quote(ws.run_dir) + " --input " +
                                       shell_quote(ws.path("pairs.csv")));
    expect_one_line_error(r, "predict", {"pairs.csv:2", "is not a finite number"});
  }
}

TEST(HostileData, AModelWithNaNWeightsIsRefused) {
  Workspace ws;
  expect_ok(ws.train());
  collab::Checkpoint c = collab::read_checkpoint(ws.latest());
  c.state.parameters[0].second = c.state.parameters[0].second.clone();
  c.state.parameters[0].second.view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  collab::write_checkpoint(ws.latest(), c);
  expect_one_line_error(run_collab("recommend " + shell_quote(ws.run_dir) + " --user 1"),
                        "recommend", {"NaN or infinite", c.state.parameters[0].first});
}

TEST(HostileData, ByteOrderMarkAndRepeatedCatalogueIds) {
  collab::Vocabulary users, items;
  const collab::Ratings r = collab::parse_ratings("\xEF\xBB\xBF" "7\t8\t3\n9\t8\t4\n", "r.tsv",
                                                  collab::RatingsFormat{}, users, items);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(users.raw(0), "7");
  // A quoted CSV field keeps its comma; a quote left open is an error naming the line.
  collab::RatingsFormat csv;
  csv.delimiter = ",";
  collab::Vocabulary csv_users, csv_items;
  const collab::Ratings quoted = collab::parse_ratings("\"7,8\",2,3\n9, \"x\" ,4\n", "r.csv", csv,
                                                       csv_users, csv_items);
  ASSERT_EQ(quoted.size(), 2u);
  EXPECT_EQ(csv_users.raw(0), "7,8");
  EXPECT_EQ(csv_items.raw(1), "x");
  collab::Vocabulary u3, i3;
  expect_one_line_error_thrown(
      [&] { collab::parse_ratings("1,2,3\n\"7,2,3\n", "r.csv", csv, u3, i3); }, {"r.csv:2"});
  collab::Vocabulary catalog_items;
  const std::string catalog = item_line("1", "Toy Story (1995)", "01-Jan-1995", {3}) +
                              item_line("2", "GoldenEye (1995)", "01-Jan-1995", {1}) +
                              item_line("1", "Another Title (1996)", "01-Jan-1996", {1});
  expect_one_line_error_thrown(
      [&] { collab::parse_movielens_items(catalog, "u.item", catalog_items); },
      {"u.item:3", "item \"1\" is listed again (first at line 1)"});
}

}  // namespace test_hostile_inputs
