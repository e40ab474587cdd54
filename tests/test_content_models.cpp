// The feature-based architectures, ContentBased and HybridDotProductBias: forward computed by
// hand, the item-feature buffer (saved with the state, copied not aliased, zero when rebuilt
// without data, shape checked), gradients reaching the projection, the trainer's fused step
// leaving them to autograd, their user-side view (fold-in design, a new item from its features)
// and registry errors for bad keys.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/data/item_features.h"
#include "collab/models/content_based.h"
#include "collab/models/hybrid_dot_product_bias.h"
#include "collab/models/registry.h"
#include "collab/train/adam.h"
#include "collab/train/fused_step.h"
#include "test_support.h"

namespace test_content_models {

namespace {

using collab::json;
using namespace collab::test;  // the shared helpers: test_support.h
constexpr int64_t kUsers = 3, kItems = 4;

// Item 0: Action + 1990s; item 1: Comedy, Drama; item 2: nothing (an item seen only in
// ratings); item 3: Action, Comedy + 1920s.
torch::Tensor features() {
  torch::Tensor f = torch::zeros({kItems, collab::kItemFeatures});
  const int action = 1, comedy = 5, drama = 8;
  const int d1990 = collab::decade_feature(1995), d1920 = collab::decade_feature(1922);
  f[0][action] = 1;
  f[0][d1990] = 1;
  f[1][comedy] = 1;
  f[1][drama] = 1;
  f[3][action] = 1;
  f[3][comedy] = 1;
  f[3][d1920] = 1;
  return f;
}

collab::ModelShape shape() {
  return collab::ModelShape(kUsers, kItems, features());
}

collab::CollabModel build(const json& config, const collab::ModelShape& s = shape()) {
  collab::ConfigReader reader(config, "model", nullptr);
  return collab::build_model(reader, s);
}

TEST(ContentBased, ForwardIsProfileDotFeaturesPlusBiases) {
  collab::ContentBasedOptions o;
  o.shape = shape();
  o.item_bias = true;
  o.y_range = collab::YRange{0, 5};
  collab::ContentBased model(o);
  torch::NoGradGuard no_grad;
  model->user_profile->weight.normal_();
  model->user_bias->weight.normal_();
  model->item_bias->weight.normal_();
  const torch::Tensor y = model->forward(user_item_pairs({{0, 0}, {1, 1}, {2, 2}, {2, 3}}));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{4}));
  const auto f = features();
  for (int64_t r = 0; r < 4; ++r) {
    const int64_t u = std::min<int64_t>(r, 2), i = r;
    const double raw = model->user_profile->weight[u].dot(f[i]).item<double>() +
                       model->user_bias->weight[u][0].item<double>() +
                       model->item_bias->weight[i][0].item<double>();
    EXPECT_NEAR(y[r].item<double>(), 5 * sigmoid(raw), 1e-5) << r;
  }
  EXPECT_TRUE(model->uses_item_features());
}

TEST(ContentBased, DefaultsAndParameters) {
  const auto model = build({{"arch", "ContentBased"}});
  const auto* cb = dynamic_cast<collab::ContentBasedImpl*>(model.get());
  ASSERT_NE(cb, nullptr);
  EXPECT_EQ(cb->user_profile->weight.sizes(),
            (std::vector<int64_t>{kUsers, collab::kItemFeatures}));
  EXPECT_TRUE(cb->user_bias);   // default on
  EXPECT_FALSE(cb->item_bias);  // default off: purely content-based
  EXPECT_FALSE(model->y_range().has_value());
  // The features are a buffer (saved with the state), not a parameter (never trained).
  EXPECT_NE(model->named_buffers().find("item_features"), nullptr);
  EXPECT_EQ(model->named_parameters().find("item_features"), nullptr);
  EXPECT_TRUE(torch::equal(cb->item_features, features()));
}

TEST(HybridDotProductBias, ForwardAddsProjectionAndFeatureBias) {
  collab::HybridDotProductBiasOptions o;
  o.shape = shape();
  o.n_factors = 3;
  o.item_bias = true;
  collab::HybridDotProductBias model(o);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_();
  const torch::Tensor y = model->forward(user_item_pairs({{0, 0}, {1, 2}, {2, 3}}));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3}));
  const auto f = features();
  const std::vector<std::pair<int64_t, int64_t>> rows = {{0, 0}, {1, 2}, {2, 3}};
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto [u, i] = rows[r];
    const torch::Tensor item_vec =
        model->item_factors->weight[i] + model->feature_projection->weight.matmul(f[i]);
    const double expected = model->user_factors->weight[u].dot(item_vec).item<double>() +
                            model->user_bias->weight[u][0].item<double>() +
                            model->item_bias->weight[i][0].item<double>() +
                            model->feature_bias->weight[0].dot(f[i]).item<double>();
    EXPECT_NEAR(y[static_cast<int64_t>(r)].item<double>(), expected, 1e-4) << r;
  }
  EXPECT_EQ(model->feature_projection->weight.sizes(),
            (std::vector<int64_t>{3, collab::kItemFeatures}));
  EXPECT_FALSE(model->feature_projection->bias.defined());
}

TEST(HybridDotProductBias, GradientReachesTheProjectionAndNotTheFeatures) {
  const auto model = build({{"arch", "HybridDotProductBias"}, {"n_factors", 4}});
  auto* h = dynamic_cast<collab::HybridDotProductBiasImpl*>(model.get());
  ASSERT_NE(h, nullptr);
  const torch::Tensor x = user_item_pairs({{0, 0}, {1, 1}, {2, 3}});
  (model->forward(x) - torch::tensor({4.0f, 1.0f, 3.0f})).square().mean().backward();
  const torch::Tensor g = h->feature_projection->weight.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(g.abs().sum().item<double>(), 0.0);
  // Columns of features no rated item has (e.g. Horror, 11) get no gradient.
  EXPECT_EQ(g.select(1, 11).abs().sum().item<double>(), 0.0);
  ASSERT_TRUE(h->feature_bias->weight.grad().defined());
  EXPECT_FALSE(h->item_features.requires_grad());
}

TEST(HybridDotProductBias, DefaultsAndOptionalBiases) {
  const auto defaults = build({{"arch", "HybridDotProductBias"}});
  const auto* d = dynamic_cast<collab::HybridDotProductBiasImpl*>(defaults.get());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->user_factors->weight.size(1), 50);
  EXPECT_FALSE(d->item_bias);  // off by default (README: it fits rare items' noise)
  EXPECT_TRUE(d->feature_bias);
}

TEST(HybridDotProductBias, OptionalBiasesAndItemVectors) {
  const auto model = build({{"arch", "HybridDotProductBias"},
                            {"n_factors", 2},
                            {"item_bias", false},
                            {"feature_bias", false}});
  auto* h = dynamic_cast<collab::HybridDotProductBiasImpl*>(model.get());
  ASSERT_NE(h, nullptr);
  EXPECT_FALSE(h->item_bias);
  EXPECT_FALSE(h->feature_bias);
  EXPECT_FALSE(model->learned_item_bias().has_value());
  // Item 2 has no features: its vector is its free embedding alone.
  const torch::Tensor v = model->item_factor_table();
  EXPECT_TRUE(torch::allclose(v[2], h->item_factors->weight[2].detach()));
}

TEST(FeatureModels, BufferIsCopiedZeroWithoutDataAndShapeChecked) {
  torch::Tensor f = features();
  const auto model = build({{"arch", "ContentBased"}}, collab::ModelShape(kUsers, kItems, f));
  f.fill_(7);  // the caller's tensor is not the model's buffer
  EXPECT_EQ(model->named_buffers()["item_features"].max().item<float>(), 1.0f);
  // Rebuilt for a saved state (no features, no width): zeros of MovieLens 100k's width.
  const auto rebuilt =
      build({{"arch", "HybridDotProductBias"}}, collab::ModelShape(kUsers, kItems));
  const torch::Tensor zeros = rebuilt->named_buffers()["item_features"];
  EXPECT_EQ(zeros.sizes(), (std::vector<int64_t>{kItems, collab::kItemFeatures}));
  EXPECT_EQ(zeros.abs().sum().item<float>(), 0.0f);
  // The width is the data's (its feature schema): 5 columns build a 5-column profile, and a
  // model rebuilt for a saved state takes the width the state was saved with.
  const auto narrow = build({{"arch", "ContentBased"}},
                            collab::ModelShape(kUsers, kItems, torch::zeros({kItems, 5})));
  EXPECT_EQ(narrow->named_parameters()["user_profile.weight"].size(1), 5);
  collab::ModelShape saved(kUsers, kItems);
  saved.n_item_features = 5;
  EXPECT_EQ(build({{"arch", "FeatureBiases"}}, saved)->named_buffers()["item_features"].sizes(),
            (std::vector<int64_t>{kItems, 5}));
  const std::string wrong = build_model_error(
      {{"arch", "ContentBased"}}, collab::ModelShape(kUsers, kItems, torch::zeros({kItems, 0})));
  EXPECT_NE(wrong.find("item features: expected [4, F]"), std::string::npos) << wrong;
  const std::string rows = build_model_error({{"arch", "HybridDotProductBias"}},
                                             collab::ModelShape(kUsers, kItems + 1, features()));
  EXPECT_NE(rows.find("one row per item"), std::string::npos) << rows;
}

TEST(FeatureModels, FusedStepLeavesThemToAutograd) {
  for (const char* arch : {"ContentBased", "HybridDotProductBias"}) {
    const auto model = build({{"arch", arch}});
    collab::FastaiAdam adam(collab::fastai_param_groups(*model), collab::AdamOptions{});
    EXPECT_EQ(collab::make_fused_step(*model, adam, 64), nullptr) << arch;
  }
}

TEST(FeatureModels, UserSideMatchesForward) {
  for (const json& config :
       {json{{"arch", "ContentBased"}, {"item_bias", true}, {"y_range", {0, 5.5}}},
        json{{"arch", "ContentBased"}, {"user_bias", false}},
        json{{"arch", "HybridDotProductBias"},
             {"n_factors", 3},
             {"item_bias", true},
             {"y_range", {0, 5.5}}}}) {
    SCOPED_TRACE(config.dump());
    const auto model = build(config);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.normal_(0, 0.5);
    }
    model->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor users = model->user_vectors();
    for (int64_t u = 0; u < kUsers; ++u) {
      const torch::Tensor items = torch::arange(kItems, torch::kLong);
      const torch::Tensor x = torch::stack({torch::full_like(items, u), items}, 1);
      EXPECT_TRUE(torch::allclose(model->score_items(users[u]), model->forward(x), 1e-5, 1e-5));
    }
    // An item given only its features is rated like a trained item with the same features
    // whose free embedding and item bias are zero.
    const auto fresh = model->item_from_features(features()[0]);
    ASSERT_TRUE(fresh.has_value());
    const auto linear = model->linear_user_model();
    ASSERT_TRUE(linear.has_value());
    EXPECT_EQ(fresh->design.size(0), linear->design.size(1));
    EXPECT_EQ(fresh->factors.size(0), model->item_factor_table().size(1));
    for (auto& p : model->named_parameters()) {
      if (p.key() == "item_factors.weight" || p.key() == "item_bias.weight") p.value()[0].zero_();
    }
    const torch::Tensor trained0 = model->linear_user_model()->design[0];
    EXPECT_TRUE(torch::allclose(fresh->design, trained0, 1e-6, 1e-6));
    EXPECT_NEAR(fresh->offset, model->linear_user_model()->offset[0].item<double>(), 1e-6);
  }
  const auto plain = build({{"arch", "DotProductBias"}});
  EXPECT_FALSE(plain->item_from_features(features()[0]).has_value());
}

TEST(FeatureModels, RegistryRejectsBadKeys) {
  const std::string typo = build_model_error({{"arch", "ContentBased"}, {"n_factors", 3}}, shape());
  EXPECT_EQ(typo.rfind("model.n_factors: unknown key", 0), 0u) << typo;
  const std::string type =
      build_model_error({{"arch", "ContentBased"}, {"item_bias", "yes"}}, shape());
  EXPECT_EQ(type.rfind("model.item_bias: ", 0), 0u) << type;
  const std::string hybrid =
      build_model_error({{"arch", "HybridDotProductBias"}, {"user_bias", false}}, shape());
  EXPECT_EQ(hybrid.rfind("model.user_bias: unknown key", 0), 0u) << hybrid;
  const std::string factors =
      build_model_error({{"arch", "HybridDotProductBias"}, {"n_factors", 0}}, shape());
  EXPECT_EQ(factors.rfind("model.n_factors: ", 0), 0u) << factors;
  const std::string fb =
      build_model_error({{"arch", "HybridDotProductBias"}, {"feature_bias", 1}}, shape());
  EXPECT_EQ(fb.rfind("model.feature_bias: ", 0), 0u) << fb;
}

}  // namespace

}  // namespace test_content_models
