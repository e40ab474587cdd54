// load_run_config and apply_override: --set overrides, strict checking of every section, path
// resolution against the config's folder and ${VAR} expansion.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/train/run_config.h"
#include "collab/common/error.h"
#include "test_support.h"

namespace test_run_config {

namespace fs = std::filesystem;

namespace {

using collab::json;
using namespace collab::test;  // the shared helpers: test_support.h

const char* kMinimal = R"({
  "data": {"ratings": "ratings.tsv"},
  "model": {"arch": "DotProductBias", "n_factors": 8, "y_range": [0, 5.5]},
  "train": {"epochs": 2, "batch_size": 32}
})";

// Writes `text` as config.json in a fresh folder and returns its path.
std::string write_config(const std::string& text, const std::string& sub = "") {
  const std::string dir = collab::test::temp_dir("collab-run-config");
  const std::string path = dir + (sub.empty() ? "" : "/" + sub) + "/config.json";
  collab::test::write_text(path, text);
  return path;
}

// The message of the collab::Error that load_run_config throws, or "" with a failure.
std::string load_error(const std::string& path, const std::vector<std::string>& overrides = {}) {
  return error_of([&] { collab::load_run_config(path, overrides); },
                  "load_run_config(" + path + ")");
}

}  // namespace

TEST(ApplyOverride, SetsNestedKeysParsingJsonOrFallingBackToString) {
  json config = json::parse(R"({"train": {"lr_max": 0.005, "device": "cpu"}})");
  collab::apply_override(config, "train.lr_max=1e-2");
  EXPECT_TRUE(config["train"]["lr_max"].is_number());
  EXPECT_DOUBLE_EQ(config["train"]["lr_max"].get<double>(), 1e-2);
  collab::apply_override(config, "train.device=cuda");  // not JSON: the string "cuda"
  EXPECT_EQ(config["train"]["device"], "cuda");
  collab::apply_override(config, "train.epochs=3");
  EXPECT_EQ(config["train"]["epochs"], 3);
  collab::apply_override(config, "model.y_range=[1,5]");
  EXPECT_EQ(config["model"]["y_range"], json::array({1, 5}));  // missing objects are created
  collab::apply_override(config, "model.y_range=null");
  EXPECT_TRUE(config["model"]["y_range"].is_null());
  collab::apply_override(config, "data.header=true");
  EXPECT_EQ(config["data"]["header"], true);
  collab::apply_override(config, "data.dir=/tmp/a=b");  // only the first '=' separates
  EXPECT_EQ(config["data"]["dir"], "/tmp/a=b");
  collab::apply_override(config, "train.device=\"cuda:1\"");  // a JSON string
  EXPECT_EQ(config["train"]["device"], "cuda:1");
  // The rest of the config is untouched.
  EXPECT_EQ(config["train"].size(), 3u);
}

TEST(ApplyOverride, RejectsMalformedAssignments) {
  json config = json::parse(R"({"train": {"lr_max": 0.005}})");
  EXPECT_THROW(collab::apply_override(config, "train.lr_max"), std::invalid_argument);
  EXPECT_THROW(collab::apply_override(config, "=3"), std::invalid_argument);
  EXPECT_THROW(collab::apply_override(config, "train..lr_max=3"), std::invalid_argument);
  try {
    collab::apply_override(config, "train.lr_max.x=3");
    ADD_FAILURE() << "no error for a key below a number";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "train.lr_max")) << e.what();
  }
}

// Found by fuzz_run_config: `--set train.lr_max=1e\xd1\xcd...` (not JSON, so kept as a string)
// made the "expected a positive number, got ..." message itself throw nlohmann's type_error 316
// (invalid UTF-8) instead of naming the key; an accepted non-UTF-8 path would have failed later,
// when the resolved config is written into the run folder.
TEST(ApplyOverride, RejectsValuesThatAreNotUtf8) {
  json config = json::parse(R"({"train": {"lr_max": 0.005}})");
  try {
    collab::apply_override(config, "train.lr_max=1e\xd1\xcd\xff");
    ADD_FAILURE() << "a non-UTF-8 --set value was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "--set \"train.lr_max=1e\\xd1\\xcd\\xff\": not valid UTF-8 (config keys and "
              "values are JSON text)");
  }
  EXPECT_EQ(config["train"]["lr_max"], 0.005);
  collab::apply_override(config, "data.ratings=caf\xc3\xa9.tsv");  // UTF-8 is fine
  EXPECT_EQ(config["data"]["ratings"], "caf\xc3\xa9.tsv");
}

TEST(ConfigReader, DescribeSurvivesInvalidUtf8) {
  EXPECT_EQ(collab::describe(json(std::string("1e\xd1"))), "\"1e\xef\xbf\xbd\"");
}

TEST(LoadRunConfig, ReadsSectionsAndAppliesOverrides) {
  const std::string path = write_config(kMinimal);
  const collab::RunConfig run =
      collab::load_run_config(path, {"train.lr_max=1e-2", "train.epochs=4"});
  EXPECT_EQ(run.path, path);
  EXPECT_DOUBLE_EQ(run.train.one_cycle.lr_max, 1e-2);
  EXPECT_EQ(run.train.epochs, 4);
  EXPECT_EQ(run.train.batch_size, 32);
  EXPECT_EQ(run.model["arch"], "DotProductBias");
  EXPECT_EQ(run.model["n_factors"], 8);
  // The resolved config holds the overridden values and every default.
  EXPECT_DOUBLE_EQ(run.resolved["train"]["lr_max"].get<double>(), 1e-2);
  EXPECT_EQ(run.resolved["train"]["epochs"], 4);
  EXPECT_EQ(run.resolved["train"]["seed"], 42);
  EXPECT_DOUBLE_EQ(run.resolved["train"]["weight_decay"].get<double>(), 0.01);
  EXPECT_EQ(run.resolved["model"]["arch"], "DotProductBias");
  EXPECT_EQ(run.resolved["model"]["n_factors"], 8);
  EXPECT_EQ(run.resolved["model"]["y_range"], json::array({0, 5.5}));
  EXPECT_DOUBLE_EQ(run.resolved["data"]["valid_pct"].get<double>(), 0.2);
  EXPECT_EQ(run.resolved["data"]["header"], false);
}

// A model without y_range predicts on data.rating_range when the data has one; an explicit
// value, null included, is kept; without a rating range nothing is added.
TEST(LoadRunConfig, YRangeDefaultsToTheRatingRange) {
  auto resolved_y_range = [](const std::string& model, const std::string& range) {
    const std::string path = write_config(R"({"data": {"ratings": "r.csv", "rating_range": )" +
                                          range + R"(}, "model": )" + model + "}");
    return collab::load_run_config(path, {}).resolved["model"]["y_range"];
  };
  EXPECT_EQ(resolved_y_range(R"({"arch": "DotProductBias"})", "[0.5, 5]"),
            json::array({0.5, 5.0}));
  EXPECT_EQ(resolved_y_range(R"({"arch": "CollabNN"})", "[1, 10]"), json::array({1.0, 10.0}));
  EXPECT_EQ(resolved_y_range(R"({"arch": "DotProductBias", "y_range": [0, 5.5]})", "[0.5, 5]"),
            json::array({0, 5.5}));
  EXPECT_TRUE(
      resolved_y_range(R"({"arch": "DotProductBias", "y_range": null})", "[0.5, 5]").is_null());
  EXPECT_TRUE(resolved_y_range(R"({"arch": "DotProductBias"})", "null").is_null());
}

TEST(LoadRunConfig, UnknownTopLevelSection) {
  json config = json::parse(kMinimal);
  config["trainer"] = json::object();
  const std::string message = load_error(write_config(config.dump()));
  EXPECT_EQ(message.rfind("trainer: unknown key", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "data, model, train")) << message;
}

TEST(LoadRunConfig, UnknownKeyGivenByOverride) {
  const std::string message = load_error(write_config(kMinimal), {"train.lr=0.1"});
  EXPECT_EQ(message.rfind("train.lr: unknown key", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "lr_max")) << message;
}

TEST(LoadRunConfig, UnknownArchitectureListsTheArchitectures) {
  const std::string message = load_error(write_config(kMinimal), {"model.arch=MatrixMagic"});
  EXPECT_EQ(message.rfind("model.arch: ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "MatrixMagic")) << message;
  for (const char* arch : {"\"DotProduct\"", "\"DotProductBias\"", "\"CollabNN\""}) {
    EXPECT_TRUE(contains(message, arch)) << message;
  }
}

TEST(LoadRunConfig, MissingArchitecture) {
  const std::string message =
      load_error(write_config(R"({"data": {"ratings": "r.tsv"}, "model": {}})"));
  EXPECT_EQ(message.rfind("model.arch: missing", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "\"CollabNN\"")) << message;
}

TEST(LoadRunConfig, ModelKeyTypo) {
  json config = json::parse(kMinimal);
  config["model"].erase("n_factors");
  config["model"]["n_factor"] = 8;
  const std::string message = load_error(write_config(config.dump()));
  EXPECT_EQ(message.rfind("model.n_factor: unknown key", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "n_factors")) << message;
}

TEST(LoadRunConfig, ModelValueIsChecked) {
  const std::string message = load_error(write_config(kMinimal), {"model.n_factors=0"});
  EXPECT_EQ(message, "model.n_factors: expected an integer in [1, 65536], got 0");
}

// The model section is checked by building the model on a 1x1 stand-in; a huge size asked for
// hundreds of GB there and aborted (found with fuzz_run_config's input
// {"data":{"ratings":"r"},"model":{"arch":"DotProduct","n_factors":100000000000}}).
TEST(LoadRunConfig, ModelSizesAreBounded) {
  EXPECT_EQ(load_error(write_config(kMinimal), {"model.n_factors=100000000000"}),
            "model.n_factors: expected an integer in [1, 65536], got 100000000000");
  auto with = [&](const std::string& extra) {
    std::vector<std::string> o = {"model.arch=CollabNN", extra};
    return load_error(write_config(R"({"data": {"ratings": "r.tsv"}, "model": {}})"), o);
  };
  EXPECT_EQ(with("model.user_embedding=70000"),
            "model.user_embedding: expected an integer in [0, 65536], got 70000");
  EXPECT_EQ(with("model.layers=[100,70000]"),
            "model.layers: a hidden layer of 70000 units; at most 65536 are allowed");
  EXPECT_EQ(with("model.layers=[65536,65536]"),
            "model.layers: these layers hold more than 134217728 weights (512 MiB), more than "
            "collab allows");
  // The largest sizes allowed still build (on the 1x1 stand-in).
  EXPECT_NO_THROW(collab::load_run_config(write_config(kMinimal), {"model.n_factors=65536"}));
}

TEST(LoadRunConfig, WrongTypeExactMessage) {
  const std::string message = load_error(write_config(kMinimal), {"train.lr_max=fast"});
  EXPECT_EQ(message, "train.lr_max: expected a positive number, got \"fast\"");
}

TEST(LoadRunConfig, RelativePathsResolveAgainstTheConfigFolder) {
  const std::string path = write_config(R"({
    "data": {"train": "splits/a.base", "valid": "../b.test", "items": "u.item"},
    "model": {"arch": "DotProduct"}})",
                                        "configs");
  const fs::path dir = fs::path(path).parent_path();
  const collab::RunConfig run = collab::load_run_config(path, {});
  EXPECT_TRUE(run.data.predefined_split());
  EXPECT_EQ(run.data.train, (dir / "splits" / "a.base").string());
  EXPECT_EQ(run.data.valid, (dir.parent_path() / "b.test").string());  // normalised, no ".."
  EXPECT_EQ(run.data.items, (dir / "u.item").string());
  EXPECT_TRUE(run.data.ratings.empty());
  // The resolved config records the absolute paths.
  EXPECT_EQ(run.resolved["data"]["train"], run.data.train);
  EXPECT_EQ(run.resolved["data"]["valid"], run.data.valid);
}

TEST(LoadRunConfig, DataDirIsRelativeToTheConfigAndFilesToTheDataDir) {
  const std::string path =
      write_config(R"({"data": {"dir": "data", "ratings": "r.csv", "delimiter": ","},
                       "model": {"arch": "DotProduct"}})");
  const fs::path dir = fs::path(path).parent_path();
  const collab::RunConfig run = collab::load_run_config(path, {});
  EXPECT_EQ(run.data.dir, (dir / "data").string());
  EXPECT_EQ(run.data.ratings, (dir / "data" / "r.csv").string());
  EXPECT_EQ(run.data.format.delimiter, ",");
}

TEST(LoadRunConfig, ExpandsCollabDataDir) {
  const std::string root = collab::test::temp_dir("collab-data-root");
  ScopedEnv env("COLLAB_DATA_DIR", root.c_str());
  const std::string path = write_config(R"({"data": {"ratings": "${COLLAB_DATA_DIR}/mine/r.tsv"},
                       "model": {"arch": "DotProduct"}})");
  const collab::RunConfig run = collab::load_run_config(path, {});
  EXPECT_EQ(run.data.ratings, (fs::path(root) / "mine" / "r.tsv").string());
}

TEST(LoadRunConfig, CollabDataDirDefaultsToTheDataRootWhenUnset) {
  const std::string xdg = collab::test::temp_dir("collab-xdg");
  ScopedEnv unset("COLLAB_DATA_DIR", nullptr);
  ScopedEnv env("XDG_DATA_HOME", xdg.c_str());
  const std::string path = write_config(R"({"data": {"ratings": "${COLLAB_DATA_DIR}/r.tsv"},
                       "model": {"arch": "DotProduct"}})");
  const collab::RunConfig run = collab::load_run_config(path, {});
  EXPECT_EQ(run.data.ratings, (fs::path(xdg) / "collab" / "r.tsv").string());
}

TEST(LoadRunConfig, NamedDatasetLivesUnderTheDataRoot) {
  const std::string root = collab::test::temp_dir("collab-data-root");
  ScopedEnv env("COLLAB_DATA_DIR", root.c_str());
  const std::string path =
      write_config(R"({"data": {"dataset": "ml-100k"}, "model": {"arch": "DotProduct"}})");
  const collab::RunConfig run = collab::load_run_config(path, {});
  EXPECT_EQ(run.data.dir, (fs::path(root) / "ml-100k").string());
  EXPECT_EQ(run.data.ratings, (fs::path(root) / "ml-100k" / "u.data").string());
  EXPECT_EQ(run.data.items, (fs::path(root) / "ml-100k" / "u.item").string());
}

TEST(LoadRunConfig, UnsetVariableIsAnError) {
  ScopedEnv unset("COLLAB_TEST_SURELY_UNSET_VAR", nullptr);
  const std::string message = load_error(write_config(
      R"({"data": {"ratings": "${COLLAB_TEST_SURELY_UNSET_VAR}/r.tsv"},
          "model": {"arch": "DotProduct"}})"));
  EXPECT_EQ(message.rfind("data.ratings: ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "COLLAB_TEST_SURELY_UNSET_VAR")) << message;
}

// Found by fuzz_run_config ("777e7777777" as the whole config): a number beyond double's range
// is nlohmann's out_of_range.406, not a parse_error, and escaped read_json_file as is.
TEST(LoadRunConfig, NumberOverflowIsNotValidJson) {
  const std::string bare = write_config("777e7777777");
  EXPECT_EQ(load_error(bare), bare + ": not valid JSON: number overflow parsing '777e7777777'");
  const std::string path = write_config(R"({"train": {"lr_max": 1e400}})");
  EXPECT_EQ(load_error(path), path + ": not valid JSON: number overflow parsing '1e400'");
}

TEST(LoadRunConfig, NotJsonNamesTheFileAndLine) {
  const std::string path = write_config(
      "{\n"
      "  \"data\": {\"ratings\": \"r.tsv\"},\n"
      "  \"model\": {\"arch\": \"DotProduct\",}\n"
      "}\n");
  const std::string message = load_error(path);
  EXPECT_EQ(message.rfind(path + ": not valid JSON", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "line 3")) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(LoadRunConfig, MissingConfigFileNamesIt) {
  const std::string path = collab::test::temp_dir("collab-run-config") + "/absent.json";
  const std::string message = load_error(path);
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
}

TEST(LoadRunConfig, TopLevelMustBeAnObject) {
  const std::string path = write_config("[1, 2]");
  EXPECT_TRUE(contains(load_error(path), path)) << load_error(path);
}

TEST(LoadRunConfig, RatingsAndPredefinedSplitAreExclusive) {
  const std::string message = load_error(write_config(
      R"({"data": {"ratings": "r.tsv", "train": "a", "valid": "b"},
          "model": {"arch": "DotProduct"}})"));
  EXPECT_EQ(message.rfind("data.ratings: ", 0), 0u) << message;
}

TEST(LoadRunConfig, BatchSizeLargerThanTheDataIsNotCheckedHere) {
  // The data is not read when the config is loaded (the file does not even exist); a batch
  // larger than the training set is reported by the trainer instead.
  const collab::RunConfig run =
      collab::load_run_config(write_config(kMinimal), {"train.batch_size=100000000"});
  EXPECT_EQ(run.train.batch_size, 100000000);
}

TEST(LoadRunConfig, GpuDataKeysAreChecked) {
  const std::string path = write_config(kMinimal);
  EXPECT_EQ(load_error(path, {"train.data_placement=gpu"}),
            "train.data_placement: expected one of \"auto\", \"device\", \"staged\", got \"gpu\"");
  EXPECT_TRUE(contains(load_error(path, {"train.sync_every=-1"}), "train.sync_every"));
  const collab::RunConfig run =
      collab::load_run_config(path, {"train.data_placement=staged", "train.sync_every=25"});
  EXPECT_EQ(run.train.data_placement, "staged");
  EXPECT_EQ(run.train.sync_every, 25);
}

}  // namespace test_run_config
