// The new-item metadata model as a saved artefact (collab fit-items): fitted to a small
// DotProductBias run, saved beside its checkpoint and read back, carried by export as
// item_from_features (checked in Python against the C++ prediction), and used by
// `similar --features`; and the refusals: an export, an architecture without item views, a
// config without an item catalogue.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "collab/data/item_features.h"
#include "collab/models/export.h"
#include "collab/models/user_feature_model.h"
#include "collab/train/run_checkpoints.h"
#include "test_support.h"

namespace test_item_metadata_cli {

namespace {

using collab::test::error_of;
using json = nlohmann::json;

// 40 items with two genres each out of six and release years 1960..1999, rated by 30 users; a
// DotProductBias (4 factors), a CollabNN, and a DotProductBias without the catalogue trained on
// them for two epochs.
class ItemMetadataCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(collab::test::temp_dir("collab-item-metadata"));
    std::string items;
    for (int i = 1; i <= 40; ++i) {
      items += collab::test::item_line(std::to_string(i), "Film " + std::to_string(i),
                                       "01-Jan-" + std::to_string(1960 + i - 1),
                                       {1 + i % 6, 1 + (i / 6) % 6 + 6});
    }
    collab::test::write_text(*dir_ + "/u.item", items);
    collab::test::write_text(*dir_ + "/train.tsv",
                             collab::test::synthetic_ratings(1500, 30, 40, 7));
    collab::test::write_text(*dir_ + "/valid.tsv", collab::test::synthetic_ratings(150, 30, 40, 8));
    const std::string train = R"("train": {"epochs": 2, "batch_size": 64, "threads": 1})";
    const std::string with_items =
        R"("data": {"train": "train.tsv", "valid": "valid.tsv", "items": "u.item"})";
    const std::vector<std::pair<std::string, std::string>> runs = {
        {"dpb", with_items + R"(, "model": {"arch": "DotProductBias", "n_factors": 4,
                                            "y_range": [0, 5.5]})"},
        {"nn", with_items + R"(, "model": {"arch": "CollabNN", "layers": [8],
                                           "y_range": [0, 5.5]})"},
        {"bare", R"("data": {"train": "train.tsv", "valid": "valid.tsv"},
                    "model": {"arch": "DotProductBias", "n_factors": 4, "y_range": [0, 5.5]})"}};
    for (const auto& [name, body] : runs) {
      collab::test::write_text(*dir_ + "/" + name + ".json", "{" + body + ", " + train + "}");
      const auto r = collab::test::run_collab(
          "train '" + *dir_ + "/" + name + ".json' --run-dir '" + *dir_ + "/" + name + "' --quiet");
      ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string run(const std::string& name) { return "'" + *dir_ + "/" + name + "'"; }
  static std::string* dir_;
};
std::string* ItemMetadataCli::dir_ = nullptr;

// One-hot over `names` for the genres and decade in `wanted`.
torch::Tensor one_hot(const std::vector<std::string>& names,
                      const std::vector<std::string>& wanted) {
  torch::Tensor x = torch::zeros({static_cast<int64_t>(names.size())});
  for (size_t c = 0; c < names.size(); ++c) {
    for (const auto& w : wanted) {
      if (names[c] == w) x[static_cast<int64_t>(c)] = 1.0;
    }
  }
  return x;
}

TEST_F(ItemMetadataCli, FitSaveSimilarAndExport) {
  const std::string features = "Action,Drama,1990s";
  // Before fitting: a DotProductBias builds no item from features, and the error says what to do.
  collab::test::expect_one_line_error(
      collab::test::run_collab("similar " + run("dpb") + " --features " + features), "similar",
      {"DotProductBias and has neither", "collab fit-items"});

  auto r = collab::test::run_collab("fit-items " + run("dpb") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json fit = json::parse(r.out);
  const std::string path = fit["path"];
  EXPECT_EQ(path, collab::latest_checkpoint(*dir_ + "/dpb") + ".items.json");
  EXPECT_EQ(fit["report"]["fit_items"], 40);
  EXPECT_EQ(fit["report"]["items_without_ratings"], 0);
  EXPECT_GT(fit["report"]["rmse_mean_item"].get<double>(), 0.0);

  // The file reads back: the catalogue's schema for columns, 4 factors + the bias per vector.
  const collab::ItemFeatureModel meta = collab::read_feature_model(collab::kItemFeatureSide, path);
  EXPECT_EQ(meta.columns.size(), 19u + 9u);  // u.item's genres, decades 1920s..2000s
  EXPECT_EQ(meta.columns.front(), "unknown");
  EXPECT_EQ(meta.columns.back(), "2000s");
  EXPECT_EQ(meta.bias.size(0), 5);
  EXPECT_EQ(meta.report["ridge"], fit["report"]["ridge"]);
  // Sides do not mix: the item file is no user feature model.
  EXPECT_NE(error_of([&] {
              collab::read_user_feature_model(path);
            }).find("not a collab user feature model"),
            std::string::npos);

  // The text form prints the held-out check.
  r = collab::test::run_collab("fit-items " + run("dpb"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("for the mean item"), std::string::npos) << r.out;

  // similar --features now works through the fitted model.
  const json near = collab::test::run_collab_json("similar " + run("dpb") + " --features " +
                                                  features + " -k 5 --min-ratings 0 --json");
  EXPECT_EQ(near["features"], features);
  ASSERT_EQ(near["neighbours"].size(), 5u);

  // The export carries it: model.pt reads it back and answers the same.
  const std::string pt = *dir_ + "/dpb.pt";
  r = collab::test::run_collab("export " + run("dpb") + " -o '" + pt + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("with its item feature model"), std::string::npos) << r.err;
  const collab::ImportedModel imported = collab::import_torchscript(pt);
  ASSERT_TRUE(imported.item_features.has_value());
  EXPECT_FALSE(imported.user_features.has_value());
  EXPECT_EQ(imported.item_features->columns, meta.columns);
  EXPECT_TRUE(torch::equal(imported.item_features->weight, meta.weight));
  EXPECT_TRUE(torch::equal(imported.item_features->bias, meta.bias));
  EXPECT_EQ(collab::test::run_collab_json("similar '" + pt + "' --features " + features +
                                          " -k 5 --min-ratings 0 --json")["neighbours"],
            near["neighbours"]);
  collab::test::expect_one_line_error(collab::test::run_collab("fit-items '" + pt + "'"),
                                      "fit-items", {"fit-items needs the checkpoint"});

  // Python: one-hot over m.item_metadata_names, then item_from_features, equals C++'s predict.
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch (install python3-torch); skipping";
  }
  const torch::Tensor expected = meta.predict(one_hot(meta.columns, {"Action", "Drama", "1990s"}));
  collab::test::write_text(*dir_ + "/check.py", R"PY(
import json, sys, torch
m = torch.jit.load(sys.argv[1])
wanted = {"Action", "Drama", "1990s"}
x = torch.tensor([1.0 if n in wanted else 0.0 for n in m.item_metadata_names])
json.dump({"single": m.item_from_features(x).tolist(),
           "batch": m.item_from_features(torch.stack([x, x])).tolist()}, open(sys.argv[2], "w"))
)PY");
  const std::string cmd = "/usr/bin/python3 '" + *dir_ + "/check.py' '" + pt + "' '" + *dir_ +
                          "/out.json' >'" + *dir_ + "/log' 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "python failed:\n"
      << collab::test::read_text(*dir_ + "/log");
  const json out = json::parse(collab::test::read_text(*dir_ + "/out.json"));
  const auto single = out["single"].get<std::vector<double>>();
  ASSERT_EQ(static_cast<int64_t>(single.size()), expected.size(0));
  for (size_t j = 0; j < single.size(); ++j) {
    EXPECT_NEAR(single[j], expected[static_cast<int64_t>(j)].item<double>(), 1e-5) << j;
    EXPECT_NEAR(out["batch"][1][j].get<double>(), single[j], 1e-6) << j;
  }
}

TEST_F(ItemMetadataCli, RefusesWhatItCannotFit) {
  collab::test::expect_one_line_error(collab::test::run_collab("fit-items " + run("nn")),
                                      "fit-items", {"this one is CollabNN"});
  collab::test::expect_one_line_error(collab::test::run_collab("fit-items " + run("bare")),
                                      "fit-items", {"names none (data.items"});
  collab::test::expect_one_line_error(
      collab::test::run_collab("fit-items " + run("dpb") + " --holdout 0"), "fit-items",
      {"--holdout must be between 0 and 1"});
  collab::test::expect_one_line_error(
      collab::test::run_collab("similar " + run("nn") + " --features Action"), "similar",
      {"CollabNN and has neither", "fit-items"});
}

}  // namespace

}  // namespace test_item_metadata_cli
