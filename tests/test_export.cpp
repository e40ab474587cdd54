// TorchScript export: for every architecture (CollabNN also with batchnorm and dropout), the
// module written by export_torchscript and loaded back with torch::jit::load predicts what the
// eager model predicts in eval mode, scores all items for a user, maps raw ids, and carries its
// vocabularies, y_range, arch and config; Python's torch.jit.load reads the same file; and
// `collab export` turns a training run's checkpoint into such a file.
//
// Tolerance: the scripted forward runs the same ATen ops as the eager one, so outputs normally
// agree bit for bit; but a graph executor may fuse the elementwise tail (sigmoid_range) and a
// Python process may take another vectorised kernel path, either of which may round float32
// differently in the last bits. 1e-6 absolute is two ulps at the largest ratings (5.5), far below
// anything a wrong weight, a missing bias or training-mode BatchNorm would produce.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/script.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collab/train/run_checkpoints.h"
#include "collab/common/error.h"
#include "collab/models/export.h"
#include "collab/models/layers.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"
#include "test_support.h"

namespace test_export {

namespace fs = std::filesystem;
using collab::json;

namespace {

constexpr double kTolerance = 1e-6;  // see the file comment

struct Case {
  std::string name;
  json model;  // the config's model section
};

std::vector<Case> cases() {
  return {
      {"DotProduct", {{"arch", "DotProduct"}, {"n_factors", 5}}},  // no y_range
      {"DotProductBias", {{"arch", "DotProductBias"}, {"n_factors", 5}, {"y_range", {0, 5.5}}}},
      {"CollabNN", {{"arch", "CollabNN"}, {"layers", {8}}, {"y_range", {0, 5.5}}}},
      {"CollabNN_bn_dropout",
       {{"arch", "CollabNN"},
        {"layers", {12, 6}},
        {"batchnorm", true},
        {"dropout", {0.3, 0.2}},
        {"embedding_dropout", 0.1},
        {"y_range", {0.5, 5.5}}}},
      {"Biases", {{"arch", "Biases"}, {"y_range", {0, 5.5}}}},
      {"ContentBased", {{"arch", "ContentBased"}, {"item_bias", true}, {"y_range", {0, 5.5}}}},
      {"ContentBased_profile_only", {{"arch", "ContentBased"}, {"user_bias", false}}},
      {"HybridDotProductBias",
       {{"arch", "HybridDotProductBias"},
        {"n_factors", 5},
        {"item_bias", true},
        {"y_range", {0, 5.5}}}},
      {"HybridDotProductBias_no_item_biases",
       {{"arch", "HybridDotProductBias"},
        {"n_factors", 3},
        {"item_bias", false},
        {"feature_bias", false}}},
      {"SVDpp", {{"arch", "SVDpp"}, {"n_factors", 4}, {"y_range", {0, 5.5}}}},
      {"FeatureBiases", {{"arch", "FeatureBiases"}, {"y_range", {0, 5.5}}}},
      {"FeatureBiases_no_item_bias", {{"arch", "FeatureBiases"}, {"item_bias", false}}},
  };
}

// 11 users (one non-ASCII raw id) and 17 items with titles (some non-ASCII).
struct Vocabs {
  collab::Vocabulary users, items;
  Vocabs() {
    for (int u = 0; u < 11; ++u)
      users.add(u == 7 ? std::string("\xc3\xbc") + "7" : "u" + std::to_string(u));
    for (int i = 0; i < 17; ++i) {
      items.add("i" + std::to_string(i * 3));
      items.set_title(i, "Film \xc3\xa9" + std::to_string(i) + " (1995)");
    }
  }
};

// The model of `c`, with every parameter and buffer drawn at random at a scale where the
// outputs vary (fastai's 0.01-scale init gives near-constant predictions) and BatchNorm's
// running statistics are far from their 0/1 start, so eval-mode BatchNorm is really exercised.
collab::CollabModel random_model(const Case& c, const Vocabs& v, uint64_t seed) {
  torch::manual_seed(seed);
  collab::ConfigReader reader(c.model, "model", nullptr);
  // Training ratings for SVDpp's implicit feedback: user u rated u % 5 items (user 0 none).
  collab::Ratings train;
  for (int64_t u = 0; u < v.users.size(); ++u) {
    for (int64_t j = 0; j < u % 5; ++j) train.push_back(u, (u * 7 + j * 3) % v.items.size(), 3, 0);
  }
  collab::ModelShape shape(v.users.size(), v.items.size());
  shape.train = &train;
  collab::CollabModel model = collab::build_model(reader, shape);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.4);
  for (auto& b : model->named_buffers()) {
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2.0);
    if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0.0, 0.5);
    // Content features are 0/1 flags; a zero table would hide a scripted model ignoring them.
    if (b.key() == "item_features") b.value().bernoulli_(0.3);
  }
  model->eval();
  return model;
}

torch::Tensor random_pairs(const Vocabs& v, int64_t n) {
  return torch::stack({torch::randint(v.users.size(), {n}, torch::kLong),
                       torch::randint(v.items.size(), {n}, torch::kLong)},
                      1);
}

torch::Tensor all_items_of(int64_t user, int64_t n_items) {
  const torch::Tensor items = torch::arange(n_items, torch::kLong);
  return torch::stack({torch::full_like(items, user), items}, 1);
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

std::vector<std::string> strings(const c10::IValue& list) {
  std::vector<std::string> out;
  for (const c10::IValue& s : list.toListRef()) out.push_back(s.toStringRef());
  return out;
}

std::vector<std::string> titles(const collab::Vocabulary& v) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < v.size(); ++i) out.push_back(v.title(i));
  return out;
}

std::string export_to_temp(const collab::CollabModelImpl& model, const Vocabs& v,
                           const json& config) {
  const std::string path = collab::test::temp_dir("collab-export") + "/model.pt";
  collab::export_torchscript(model, v.users, v.items, config.dump(), path);
  return path;
}

}  // namespace

TEST(Export, ScriptedForwardMatchesEager) {
  const Vocabs v;
  uint64_t seed = 10;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const collab::CollabModel model = random_model(c, v, ++seed);
    const json config = {{"model", c.model}};
    torch::jit::Module loaded = torch::jit::load(export_to_temp(*model, v, config));

    torch::NoGradGuard no_grad;
    const torch::Tensor x = random_pairs(v, 200);
    const torch::Tensor eager = model->forward(x);
    const torch::Tensor scripted = loaded.forward({x}).toTensor();
    ASSERT_EQ(scripted.sizes(), eager.sizes());
    EXPECT_EQ(scripted.scalar_type(), torch::kFloat);
    EXPECT_LE(max_abs_diff(scripted, eager), kTolerance);
    // The outputs vary, so agreement is not that of two constants.
    EXPECT_GT((eager.max() - eager.min()).item<float>(), 0.05f);

    // score_all(u) is forward on every (u, item) pair, and the eager model's scores.
    for (const int64_t u : {int64_t{0}, int64_t{7}, v.users.size() - 1}) {
      const torch::Tensor pairs = all_items_of(u, v.items.size());
      const torch::Tensor all = loaded.run_method("score_all", u).toTensor();
      ASSERT_EQ(all.sizes(), (std::vector<int64_t>{v.items.size()}));
      EXPECT_TRUE(torch::equal(all, loaded.forward({pairs}).toTensor())) << "user " << u;
      EXPECT_LE(max_abs_diff(all, model->forward(pairs)), kTolerance) << "user " << u;
    }
    EXPECT_THROW(loaded.run_method("score_all", v.users.size()), std::exception);
    EXPECT_THROW(loaded.run_method("score_all", int64_t{-1}), std::exception);
  }
}

TEST(Export, ScriptedModuleIsEvalModeWhateverTheEagerMode) {
  // Exporting a model left in training mode still gives eval semantics: BatchNorm on running
  // statistics, no dropout (the outputs are deterministic and equal the eval-mode ones).
  const Vocabs v;
  const Case c = cases().back();
  const collab::CollabModel model = random_model(c, v, 3);
  model->train();
  torch::jit::Module loaded = torch::jit::load(export_to_temp(*model, v, {{"model", c.model}}));
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = random_pairs(v, 50);
  EXPECT_LE(max_abs_diff(loaded.forward({x}).toTensor(), model->forward(x)), kTolerance);
  EXPECT_FALSE(loaded.is_training());
  loaded.train();  // the `training` attribute exists, so train()/eval() work
  loaded.eval();
}

TEST(Export, RawIdLookupsAndAttributes) {
  const Vocabs v;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const collab::CollabModel model = random_model(c, v, 5);
    const json config = {{"model", c.model}, {"train", {{"epochs", 3}}}};
    torch::jit::Module loaded = torch::jit::load(export_to_temp(*model, v, config));

    for (int64_t u = 0; u < v.users.size(); ++u) {
      EXPECT_EQ(loaded.run_method("user_index", v.users.raw(u)).toInt(), u);
    }
    for (int64_t i = 0; i < v.items.size(); ++i) {
      EXPECT_EQ(loaded.run_method("item_index", v.items.raw(i)).toInt(), i);
    }
    EXPECT_EQ(loaded.run_method("user_index", std::string("nobody")).toInt(), -1);
    EXPECT_EQ(loaded.run_method("item_index", std::string("i1")).toInt(), -1);  // ids are i0, i3
    EXPECT_EQ(loaded.run_method("item_index", std::string("")).toInt(), -1);

    EXPECT_EQ(strings(loaded.attr("user_ids")), v.users.raws());
    EXPECT_EQ(strings(loaded.attr("item_ids")), v.items.raws());
    EXPECT_EQ(strings(loaded.attr("item_titles")), titles(v.items));
    EXPECT_EQ(loaded.attr("arch").toStringRef(), model->arch());
    EXPECT_EQ(json::parse(loaded.attr("config").toStringRef()), config);
    EXPECT_EQ(loaded.attr("format_version").toInt(), collab::kExportFormatVersion);
    EXPECT_EQ(loaded.type()->name()->qualifiedName(), "__torch__.collab." + model->arch());
    std::vector<double> y_range;
    for (const c10::IValue& d : loaded.attr("y_range").toListRef()) y_range.push_back(d.toDouble());
    if (const auto r = model->y_range()) {
      EXPECT_EQ(y_range, (std::vector<double>{r->lo, r->hi}));
    } else {
      EXPECT_TRUE(y_range.empty());
    }

    // The parameters and buffers mirror the eager ones name for name ('.' -> '_'), as copies.
    size_t n_params = 0;
    for (const auto& p : model->named_parameters()) {
      ++n_params;
      EXPECT_TRUE(torch::equal(loaded.attr(collab::script_name(p.key())).toTensor(), p.value()))
          << p.key();
    }
    EXPECT_EQ(loaded.parameters().size(), n_params);
    size_t n_buffers = 0;
    for (const auto& b : model->named_buffers()) {
      ++n_buffers;
      EXPECT_TRUE(torch::equal(loaded.attr(collab::script_name(b.key())).toTensor(), b.value()))
          << b.key();
    }
    EXPECT_EQ(loaded.buffers().size(), n_buffers);
  }
}

TEST(Export, ItemsWithoutTitlesCarryTheirRawIds) {
  Vocabs v;
  collab::Vocabulary items;
  for (int64_t i = 0; i < v.items.size(); ++i) items.add(v.items.raw(i));
  v.items = items;
  const Case c = cases()[1];
  const collab::CollabModel model = random_model(c, v, 6);
  const torch::jit::Module loaded = torch::jit::load(export_to_temp(*model, v, {}));
  EXPECT_EQ(strings(loaded.attr("item_titles")), v.items.raws());
}

TEST(Export, VocabularyOfAnotherSizeIsRefused) {
  const Vocabs v;
  const collab::CollabModel model = random_model(cases()[1], v, 7);
  collab::Vocabulary fewer;
  fewer.add("u0");
  try {
    collab::to_torchscript(*model, fewer, v.items, "{}");
    ADD_FAILURE() << "no error";
  } catch (const collab::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("user vocabulary has 1 entries"), std::string::npos) << what;
    EXPECT_NE(what.find("user_factors.weight has 11 rows"), std::string::npos) << what;
  }
  EXPECT_THROW(collab::to_torchscript(*model, v.users, fewer, "{}"), collab::Error);
}

TEST(Export, WritesAtomically) {
  const Vocabs v;
  const collab::CollabModel model = random_model(cases()[0], v, 8);
  const std::string dir = collab::test::temp_dir("collab-export");
  const std::string path = dir + "/model.pt";
  collab::test::write_text(path, "old");
  collab::export_torchscript(*model, v.users, v.items, "{}", path);  // replaces the old file
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"model.pt"});  // no temporary file left
  EXPECT_NO_THROW(torch::jit::load(path));

  // An unwritable place: a one-line collab::Error naming the file.
  const std::string bad = dir + "/no/such/dir/model.pt";
  try {
    collab::export_torchscript(*model, v.users, v.items, "{}", bad);
    ADD_FAILURE() << "no error";
  } catch (const collab::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(bad), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

// Python's torch.jit.load reads each exported file; its forward, score_all, lookups and
// attributes agree with C++. Skipped when /usr/bin/python3 has no torch (Debian python3-torch).
TEST(Export, PythonLoadsEveryArchitecture) {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch (install python3-torch); skipping";
  }
  const Vocabs v;
  const std::string dir = collab::test::temp_dir("collab-export-py");
  const int64_t user = 7;  // the non-ASCII raw id
  torch::manual_seed(99);
  const torch::Tensor x = random_pairs(v, 100);
  std::string pairs_csv;
  for (int64_t r = 0; r < x.size(0); ++r) {
    pairs_csv += std::to_string(x[r][0].item<int64_t>()) + "," +
                 std::to_string(x[r][1].item<int64_t>()) + "\n";
  }
  collab::test::write_text(dir + "/pairs.csv", pairs_csv);

  json jobs = json::array();
  std::vector<torch::Tensor> forward, score_all;
  std::vector<std::vector<std::string>> tensor_names;  // the eager model's, as exported
  uint64_t seed = 20;
  for (const Case& c : cases()) {
    const collab::CollabModel model = random_model(c, v, ++seed);
    tensor_names.emplace_back();
    for (const auto& p : model->named_parameters()) {
      tensor_names.back().push_back(collab::script_name(p.key()));
    }
    for (const auto& b : model->named_buffers()) {
      tensor_names.back().push_back(collab::script_name(b.key()));
    }
    const std::string path = dir + "/" + c.name + ".pt";
    collab::export_torchscript(*model, v.users, v.items, json{{"model", c.model}}.dump(), path);
    jobs.push_back({{"name", c.name}, {"path", path}});
    torch::NoGradGuard no_grad;
    forward.push_back(model->forward(x));
    score_all.push_back(model->forward(all_items_of(user, v.items.size())));
  }
  // The raw id travels in JSON, not argv, so no locale can re-encode it on the way.
  collab::test::write_text(dir + "/jobs.json",
                           json{{"user_raw", v.users.raw(user)}, {"models", jobs}}.dump());
  // Everything a consumer without collab does: load, predict, score, map raw ids, read attrs.
  collab::test::write_text(dir + "/check.py", R"PY(
import json, sys, torch
spec = json.load(open(sys.argv[1], encoding="utf-8"))
pairs = [[int(v) for v in line.split(",")] for line in open(sys.argv[2])]
user_raw = spec["user_raw"]
results = {}
for job in spec["models"]:
    m = torch.jit.load(job["path"])
    m.eval()
    x = torch.tensor(pairs, dtype=torch.long)
    with torch.no_grad():
        u = m.user_index(user_raw)
        results[job["name"]] = {
            "forward": m(x).tolist(),
            "score_all": m.score_all(u).tolist(),
            "user_index": u,
            "unknown": m.item_index("no such item"),
            "user_ids": list(m.user_ids),
            "item_ids": list(m.item_ids),
            "item_titles": list(m.item_titles),
            "y_range": list(m.y_range),
            "arch": m.arch,
            "config": json.loads(m.config),
            "training": m.training,
            "state": sorted(m.state_dict().keys()),
        }
json.dump(results, open(sys.argv[3], "w", encoding="utf-8"))
)PY");
  const std::string cmd = "/usr/bin/python3 '" + dir + "/check.py' '" + dir + "/jobs.json' '" +
                          dir + "/pairs.csv' '" + dir + "/out.json' >'" + dir + "/log' 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "python failed:\n"
      << collab::test::read_text(dir + "/log");
  const json out = json::parse(collab::test::read_text(dir + "/out.json"));

  const auto cs = cases();
  for (size_t k = 0; k < cs.size(); ++k) {
    SCOPED_TRACE(cs[k].name);
    const json& r = out.at(cs[k].name);
    const torch::Tensor py_forward = torch::tensor(r["forward"].get<std::vector<double>>());
    const torch::Tensor py_scores = torch::tensor(r["score_all"].get<std::vector<double>>());
    ASSERT_EQ(py_forward.numel(), forward[k].numel());
    ASSERT_EQ(py_scores.numel(), v.items.size());
    EXPECT_LE(max_abs_diff(py_forward, forward[k]), kTolerance);
    EXPECT_LE(max_abs_diff(py_scores, score_all[k]), kTolerance);
    EXPECT_EQ(r["user_index"], user);
    EXPECT_EQ(r["unknown"], -1);
    EXPECT_EQ(r["user_ids"].get<std::vector<std::string>>(), v.users.raws());
    EXPECT_EQ(r["item_ids"].get<std::vector<std::string>>(), v.items.raws());
    EXPECT_EQ(r["item_titles"].get<std::vector<std::string>>(), titles(v.items));
    EXPECT_EQ(r["y_range"], cs[k].model.value("y_range", json::array()));
    EXPECT_EQ(r["arch"], cs[k].model["arch"]);
    EXPECT_EQ(r["config"], (json{{"model", cs[k].model}}));
    EXPECT_EQ(r["training"], false);
    // Python's state_dict holds every eager parameter and buffer (item_features included).
    for (const std::string& name : tensor_names[k]) {
      EXPECT_NE(std::find(r["state"].begin(), r["state"].end(), name), r["state"].end()) << name;
    }
  }
}

// `collab export` on a real run: train a tiny CollabNN with checkpoints, export the run dir's
// latest checkpoint, and compare the module with the checkpoint's model.
TEST(Export, CommandExportsARunsLatestCheckpoint) {
  const std::string dir = collab::test::temp_dir("collab-export-cli");
  std::string ratings;
  for (int i = 0; i < 200; ++i) {
    ratings += std::to_string(i % 20 + 1) + "\t" + std::to_string((i * 7) % 30 + 1) + "\t" +
               std::to_string(i % 5 + 1) + "\t" + std::to_string(880000000 + i) + "\n";
  }
  collab::test::write_text(dir + "/ratings.tsv", ratings);
  collab::test::write_text(dir + "/config.json", R"({
    "data": {"ratings": "ratings.tsv"},
    "model": {"arch": "CollabNN", "layers": [8], "batchnorm": true, "dropout": 0.1,
              "y_range": [0, 5.5]},
    "train": {"epochs": 1, "batch_size": 16, "threads": 1}
  })");
  const std::string run_dir = dir + "/run";
  const auto trained = collab::test::run_collab("train '" + dir + "/config.json' --run-dir '" +
                                                run_dir + "' --quiet");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;

  const std::string out = dir + "/out/model.pt";
  fs::create_directories(dir + "/out");
  const auto r = collab::test::run_collab("export '" + run_dir + "' -o '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, out + "\n");
  EXPECT_NE(r.err.find("exported CollabNN (20 users, 30 items)"), std::string::npos) << r.err;

  const collab::Checkpoint checkpoint = collab::read_checkpoint(collab::latest_checkpoint(run_dir));
  collab::ConfigReader section(checkpoint.config["model"], "model", nullptr);
  collab::CollabModel model =
      collab::build_model(section, {checkpoint.users.size(), checkpoint.items.size()});
  collab::load_model_state(*model, checkpoint.state);
  model->eval();
  torch::jit::Module loaded = torch::jit::load(out);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::stack({torch::arange(20, torch::kLong).repeat(30),
                                        torch::arange(30, torch::kLong).repeat_interleave(20)},
                                       1);  // every (user, item) pair
  EXPECT_LE(max_abs_diff(loaded.forward({x}).toTensor(), model->forward(x)), kTolerance);
  EXPECT_EQ(json::parse(loaded.attr("config").toStringRef()), checkpoint.config);
  EXPECT_EQ(strings(loaded.attr("user_ids")), checkpoint.users.raws());
  EXPECT_EQ(loaded.run_method("user_index", checkpoint.users.raw(3)).toInt(), 3);
}

TEST(Export, CommandErrors) {
  const std::string dir = collab::test::temp_dir("collab-export-cli");
  // -o missing.
  auto r = collab::test::run_collab("export '" + dir + "/a.ckpt'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("-o"), std::string::npos) << r.err;
  // A missing checkpoint: one line naming it.
  r = collab::test::run_collab("export '" + dir + "/a.ckpt' -o '" + dir + "/m.pt'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("collab export: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(dir + "/a.ckpt"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // Not a checkpoint.
  collab::test::write_text(dir + "/b.ckpt", "hello");
  r = collab::test::run_collab("export '" + dir + "/b.ckpt' -o '" + dir + "/m.pt'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(dir + "/b.ckpt"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/m.pt"));
}

}  // namespace test_export
