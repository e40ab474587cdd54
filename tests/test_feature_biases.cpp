// FeatureBiases, the architecture added through the model-owned views: forward computed by hand,
// its TorchScript twin equal to the eager forward (and read back by import_torchscript), its
// views (user vector = the user bias, no item factors, the item bias and the linear form that
// fold-in and the bias fallback read) agreeing with forward, and registry errors for bad keys.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/data/item_features.h"
#include "collab/models/export.h"
#include "collab/models/feature_biases.h"
#include "collab/models/layers.h"
#include "collab/models/registry.h"
#include "collab/train/adam.h"
#include "collab/train/fused_step.h"

namespace test_feature_biases {

namespace {

namespace fs = std::filesystem;
using collab::json;
constexpr int64_t kUsers = 3, kItems = 4;

// Item 0: Action + 1990s; item 1: Comedy; item 2: nothing; item 3: Action, Comedy + 1920s.
torch::Tensor features() {
  torch::Tensor f = torch::zeros({kItems, collab::kItemFeatures});
  const int action = 1, comedy = 5;
  f[0][action] = 1;
  f[0][collab::decade_feature(1995)] = 1;
  f[1][comedy] = 1;
  f[3][action] = 1;
  f[3][comedy] = 1;
  f[3][collab::decade_feature(1922)] = 1;
  return f;
}

collab::CollabModel build(const json& config) {
  collab::ConfigReader reader(config, "model", nullptr);
  return collab::build_model(reader, collab::ModelShape(kUsers, kItems, features()));
}

// A FeatureBiases model of `config` with every parameter drawn at a scale where ratings vary.
collab::CollabModel random_model(const json& config) {
  torch::manual_seed(3);
  collab::CollabModel model = build(config);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.5);
  model->eval();
  return model;
}

torch::Tensor every_pair() {
  const torch::Tensor users = torch::arange(kUsers, torch::kLong).repeat_interleave(kItems);
  const torch::Tensor items = torch::arange(kItems, torch::kLong).repeat({kUsers});
  return torch::stack({users, items}, 1);
}

std::string build_error(const json& config) {
  try {
    build(config);
  } catch (const collab::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "build_model(" << config.dump() << ") did not throw";
  return "";
}

const json kWithRange = {{"arch", "FeatureBiases"}, {"y_range", {0, 5.5}}};
const json kNoItemBias = {{"arch", "FeatureBiases"}, {"item_bias", false}};

}  // namespace

TEST(FeatureBiases, ForwardIsBiasesPlusFeatureTerm) {
  for (const json& config : {kWithRange, kNoItemBias}) {
    SCOPED_TRACE(config.dump());
    const auto model = random_model(config);
    const auto& m = dynamic_cast<collab::FeatureBiasesImpl&>(*model);
    EXPECT_TRUE(model->uses_item_features());
    EXPECT_EQ(model->arch(), "FeatureBiases");
    EXPECT_EQ(m.item_bias.is_empty(), config == kNoItemBias);
    const torch::Tensor f = features();
    const torch::Tensor w = m.feature_bias->weight.squeeze(0);
    const torch::Tensor got = model->forward(every_pair());
    for (int64_t u = 0; u < kUsers; ++u) {
      for (int64_t i = 0; i < kItems; ++i) {
        double r = m.global_bias.item<double>() + m.user_bias->weight[u][0].item<double>() +
                   f[i].dot(w).item<double>();
        if (!m.item_bias.is_empty()) r += m.item_bias->weight[i][0].item<double>();
        if (config.contains("y_range")) r = 5.5 / (1.0 + std::exp(-r));
        EXPECT_NEAR(got[u * kItems + i].item<double>(), r, 1e-5) << u << ", " << i;
      }
    }
  }
}

TEST(FeatureBiases, TorchScriptTwinEqualsForwardAndImportsBack) {
  collab::Vocabulary users, items;
  for (int64_t u = 0; u < kUsers; ++u) users.add("u" + std::to_string(u));
  for (int64_t i = 0; i < kItems; ++i) items.add("i" + std::to_string(i));
  for (const json& config : {kWithRange, kNoItemBias}) {
    SCOPED_TRACE(config.dump());
    const auto model = random_model(config);
    const json run = {{"model", config}};
    torch::jit::Module scripted = collab::to_torchscript(*model, users, items, run.dump());
    torch::NoGradGuard no_grad;
    const torch::Tensor x = every_pair();
    const torch::Tensor eager = model->forward(x);
    EXPECT_TRUE(torch::allclose(scripted.forward({x}).toTensor(), eager, 0, 1e-6));

    const fs::path file =
        fs::temp_directory_path() / ("collab_feature_biases_" + std::to_string(::getpid()) + ".pt");
    collab::export_torchscript(*model, users, items, run.dump(), file.string());
    const collab::ImportedModel imported = collab::import_torchscript(file.string());
    fs::remove(file);
    EXPECT_EQ(imported.model->arch(), "FeatureBiases");
    EXPECT_EQ(imported.users.size(), kUsers);
    imported.model->eval();
    EXPECT_TRUE(torch::equal(imported.model->forward(x), eager));
  }
  // The model names its user and item tables, so export checks them against the vocabularies.
  collab::Vocabulary one_user;
  one_user.add("u0");
  try {
    collab::to_torchscript(*random_model(kWithRange), one_user, items, "{}");
    ADD_FAILURE() << "a vocabulary of another size was accepted";
  } catch (const collab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("user_bias.weight has 3 rows"), std::string::npos)
        << e.what();
  }
}

TEST(FeatureBiases, ViewsAgreeWithForward) {
  for (const json& config : {kWithRange, kNoItemBias}) {
    SCOPED_TRACE(config.dump());
    const auto model = random_model(config);
    torch::NoGradGuard no_grad;
    const auto& m = dynamic_cast<collab::FeatureBiasesImpl&>(*model);
    const torch::Tensor users = model->user_vectors();
    EXPECT_TRUE(torch::equal(users, m.user_bias->weight));
    const torch::Tensor x = every_pair();
    const torch::Tensor eager = model->forward(x).reshape({kUsers, kItems});
    for (int64_t u = 0; u < kUsers; ++u) {
      EXPECT_TRUE(torch::allclose(model->score_items(users[u]), eager[u], 1e-5, 1e-5)) << u;
    }
    const auto bias = model->learned_item_bias();
    ASSERT_TRUE(bias.has_value());
    EXPECT_TRUE(torch::equal(*bias, m.item_biases(torch::arange(kItems, torch::kLong))));
    // The biases alone for a user are the model's ratings before sigmoid_range: no factors.
    const auto raw = model->bias_ratings(users[1]);
    ASSERT_TRUE(raw.has_value());
    const torch::Tensor expected = collab::sigmoid_range(*raw, model->y_range());
    EXPECT_TRUE(torch::allclose(expected, eager[1], 1e-5, 1e-5));
    EXPECT_FALSE(model->item_from_features(features()[0]).has_value());
    try {
      model->item_factor_table();
      ADD_FAILURE() << "FeatureBiases gave item factors";
    } catch (const collab::Error& e) {
      EXPECT_NE(std::string(e.what()).find("\"FeatureBiases\" has no item factors"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(FeatureBiases, TrainsByAutograd) {
  const auto model = build(kWithRange);
  collab::FastaiAdam adam(collab::fastai_param_groups(*model), collab::AdamOptions{});
  EXPECT_EQ(collab::make_fused_step(*model, adam, 64), nullptr);
  EXPECT_FALSE(model->dot_tables().has_value());
}

TEST(FeatureBiases, RegistryRejectsBadKeys) {
  const std::string typo = build_error({{"arch", "FeatureBiases"}, {"n_factors", 3}});
  EXPECT_EQ(typo.rfind("model.n_factors: unknown key", 0), 0u) << typo;
  const std::string type = build_error({{"arch", "FeatureBiases"}, {"item_bias", "yes"}});
  EXPECT_EQ(type.rfind("model.item_bias: ", 0), 0u) << type;
  const std::string range = build_error({{"arch", "FeatureBiases"}, {"y_range", {5, 1}}});
  EXPECT_EQ(range.rfind("model.y_range: ", 0), 0u) << range;
  const std::vector<std::string> archs = collab::architectures();
  EXPECT_NE(std::find(archs.begin(), archs.end(), "FeatureBiases"), archs.end());
}

}  // namespace test_feature_biases
