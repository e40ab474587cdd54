// `collab compare` end to end on a tiny synthetic dataset (2 candidates x 2 predefined folds,
// 2 epochs): the outputs exist and hold every fold, and a candidate's numbers on a fold equal,
// bit for bit, those of `collab train` with the same config on that split.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace test_compare {

namespace {

using json = nlohmann::json;

// 12 users x 10 items, two thirds of the pairs rated; rows alternate between the folds' tests.
std::string make_data() {
  const std::string dir = collab::test::temp_dir("collab-compare");
  std::string fold_rows[2];
  int row = 0;
  for (int u = 1; u <= 12; ++u) {
    for (int i = 1; i <= 10; ++i) {
      if ((u + i) % 3 == 0) continue;
      const int rating = 1 + (u * 3 + i * 7) % 5;
      fold_rows[row % 2] += std::to_string(u) + "\t" + std::to_string(100 + i) + "\t" +
                            std::to_string(rating) + "\t" + std::to_string(1000 + row) + "\n";
      ++row;
    }
  }
  collab::test::write_text(dir + "/f1.base", fold_rows[1]);
  collab::test::write_text(dir + "/f1.test", fold_rows[0]);
  collab::test::write_text(dir + "/f2.base", fold_rows[0]);
  collab::test::write_text(dir + "/f2.test", fold_rows[1]);
  return dir;
}

const json kDpbModel = {{"arch", "DotProductBias"}, {"n_factors", 4}, {"y_range", {0, 5.5}}};
const json kBiasesModel = {{"arch", "Biases"}, {"y_range", {0, 5.5}}};
const json kTrain = {{"epochs", 2}, {"batch_size", 8}, {"threads", 1}, {"seed", 3}};

std::string write_compare_config(const std::string& dir) {
  collab::test::write_text(dir + "/biases.json",
                           json{{"model", kBiasesModel}, {"train", {{"lr_max", 1e-2}}}}.dump());
  const json config = {
      {"data", {{"dir", dir}}},
      {"eval",
       {{"folds", 2},
        {"train_pattern", "f{fold}.base"},
        {"test_pattern", "f{fold}.test"},
        {"k", 3}}},
      {"train", kTrain},
      {"candidates",
       {{{"name", "DPB"}, {"model", kDpbModel}, {"train", {{"weight_decay", 0.1}}}},
        {{"config", "biases.json"}}}}};
  collab::test::write_text(dir + "/compare.json", config.dump(2));
  return dir + "/compare.json";
}

// Final validation MSE of `collab train` on one fold, from its metrics.jsonl.
// `tag` tells apart runs of the same model and fold.
double train_valid_mse(const std::string& dir, const json& model, json train, int fold,
                       const std::string& tag = "") {
  const std::string name = "train" + std::to_string(fold) + model["arch"].get<std::string>() + tag;
  const json config = {{"data",
                        {{"dir", dir},
                         {"train", "f" + std::to_string(fold) + ".base"},
                         {"valid", "f" + std::to_string(fold) + ".test"}}},
                       {"model", model},
                       {"train", train}};
  collab::test::write_text(dir + "/" + name + ".json", config.dump());
  const auto r = collab::test::run_collab("train '" + dir + "/" + name +
                                          ".json' --quiet --run-dir '" + dir + "/" + name + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir + "/" + name + "/metrics.jsonl");
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return json::parse(last).at("valid_mse").get<double>();
}

}  // namespace

TEST(Compare, WritesEveryFoldAndMatchesCollabTrain) {
  const std::string dir = make_data();
  const std::string config = write_compare_config(dir);
  const std::string out = dir + "/out";
  const auto r = collab::test::run_collab("compare '" + config + "' --run-dir '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  // Not a terminal: plain progress lines, then the table.
  EXPECT_NE(r.out.find("DPB f1 epoch 1/2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("candidate"), std::string::npos);
  EXPECT_NE(r.out.find("NDCG@3"), std::string::npos);
  EXPECT_NE(r.out.find("biases"), std::string::npos);  // named after its config file

  const json results = json::parse(collab::test::read_text(out + "/compare.json"));
  ASSERT_EQ(results["candidates"].size(), 2u);
  for (const auto& c : results["candidates"]) {
    ASSERT_EQ(c["folds"].size(), 2u);
    for (const auto& f : c["folds"]) {
      EXPECT_EQ(f["epochs"].size(), 2u);
      EXPECT_TRUE(f["final"].contains("precision_at_3"));
      EXPECT_TRUE(f["final"].contains("coverage_at_3"));
    }
    EXPECT_TRUE(c["summary"]["rmse"].contains("sd"));
  }
  EXPECT_EQ(results["candidates"][1]["folds"][1]["fold"], "f2");
  // The file candidate: its lr, the shared train section's epochs.
  const json& biases_train = results["config"]["candidates"][1]["config"]["train"];
  EXPECT_EQ(biases_train["lr_max"], 1e-2);
  EXPECT_EQ(biases_train["epochs"], 2);

  // Same candidate, same seed, same split: identical numbers in compare and in collab train.
  json dpb_train = kTrain;
  dpb_train["weight_decay"] = 0.1;
  const double compare_dpb = results["candidates"][0]["folds"][0]["final"]["mse"].get<double>();
  EXPECT_EQ(compare_dpb,
            results["candidates"][0]["folds"][0]["epochs"][1]["valid_mse"].get<double>());
  EXPECT_EQ(train_valid_mse(dir, kDpbModel, dpb_train, 1), compare_dpb);
  json biases_run = kTrain;
  biases_run["lr_max"] = 1e-2;
  EXPECT_EQ(train_valid_mse(dir, kBiasesModel, biases_run, 2),
            results["candidates"][1]["folds"][1]["final"]["mse"].get<double>());

  // compare.csv: a header and one row per candidate x fold; compare.md and both plots.
  std::istringstream csv(collab::test::read_text(out + "/compare.csv"));
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 1 + 2 * 2);
  EXPECT_NE(collab::test::read_text(out + "/compare.md").find("| DPB |"), std::string::npos);
  for (const char* plot : {"learning_curves.svg", "final_metrics.svg"}) {
    const std::string svg = collab::test::read_text(out + "/" + plot);
    size_t series = 0;
    for (size_t p = svg.find("<g class=\"series\""); p != std::string::npos;
         p = svg.find("<g class=\"series\"", p + 1)) {
      ++series;
    }
    EXPECT_EQ(series, 2u) << plot;
  }
}

// A candidate's train.optimizer picks its path as in `collab train`: "sgd" trains on the sparse
// path (it once trained with Adam in compare while compare.json said "sgd").
TEST(Compare, SgdCandidateTrainsAsCollabTrainDoes) {
  const std::string dir = make_data();
  json sgd_train = kTrain;
  sgd_train["optimizer"] = "sgd";
  sgd_train["lr_max"] = 0.05;
  const json config = {
      {"data", {{"dir", dir}}},
      {"eval", {{"folds", 2}, {"train_pattern", "f{fold}.base"}, {"test_pattern", "f{fold}.test"}}},
      {"train", kTrain},
      {"candidates",
       {{{"name", "adam"}, {"model", kDpbModel}},
        {{"name", "sgd"}, {"model", kDpbModel}, {"train", {{"optimizer", "sgd"}, {"lr_max", 0.05}}}}}}};
  collab::test::write_text(dir + "/sgd_compare.json", config.dump(2));
  const auto r = collab::test::run_collab("compare '" + dir + "/sgd_compare.json' --quiet --run-dir '" +
                                          dir + "/sgd_out'");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const json results = json::parse(collab::test::read_text(dir + "/sgd_out/compare.json"));
  const double adam = results["candidates"][0]["folds"][0]["final"]["mse"].get<double>();
  const double sgd = results["candidates"][1]["folds"][0]["final"]["mse"].get<double>();
  EXPECT_NE(adam, sgd);
  // Bit for bit what `collab train` gives with that config on that split.
  EXPECT_EQ(train_valid_mse(dir, kDpbModel, sgd_train, 1, "sgd"), sgd);
  EXPECT_EQ(train_valid_mse(dir, kDpbModel, kTrain, 1, "adam"), adam);
}

TEST(Compare, QuietPrintsOnlyTheTable) {
  const std::string dir = make_data();
  const auto r =
      collab::test::run_collab("compare '" + write_compare_config(dir) +
                               "' --quiet --set train.epochs=1 --run-dir '" + dir + "/q'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("epoch 1/1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.rfind("candidate", 0), 0u) << r.out;  // the table's header comes first
}

TEST(Compare, ConfigErrorsNameTheJsonPath) {
  const std::string dir = make_data();
  const std::string config = write_compare_config(dir);
  auto error = [&](const std::string& set) {
    return collab::test::run_collab("compare '" + config + "' --set " + set).err;
  };
  EXPECT_NE(error("eval.bogus=1").find("eval.bogus: unknown key"), std::string::npos);
  EXPECT_NE(error("bogus=1").find("bogus: unknown key"), std::string::npos);
  EXPECT_NE(error("eval.protocol=random").find("eval.folds: not used by protocol"),
            std::string::npos);
  EXPECT_NE(error("train.epochs=0").find("candidates[0] \"DPB\": train.epochs"), std::string::npos);
  EXPECT_NE(error("data.split_seed=3").find("data.split_seed"), std::string::npos);
}

}  // namespace test_compare
