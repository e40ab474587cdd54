// The three architectures, their shared layers and the registry: shapes, y_range, fastai's
// embedding init and size rule, and a forward pass computed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/models/biases.h"
#include "collab/models/collab_nn.h"
#include "collab/models/dot_product.h"
#include "collab/models/dot_product_bias.h"
#include "collab/models/layers.h"
#include "collab/models/registry.h"
#include "test_support.h"

namespace test_models {

namespace {

using collab::json;
using namespace collab::test;  // the shared helpers: test_support.h

std::vector<collab::CollabModel> all_models(const collab::ModelShape& shape,
                                            std::optional<collab::YRange> y_range) {
  collab::DotProductOptions dp;
  dp.shape = shape;
  dp.n_factors = 6;
  dp.y_range = y_range;
  collab::DotProductBiasOptions dpb;
  dpb.shape = shape;
  dpb.n_factors = 6;
  dpb.y_range = y_range;
  collab::CollabNNOptions nn;
  nn.shape = shape;
  nn.layers = {16, 8};
  nn.batchnorm = true;
  nn.dropout = {0.1, 0.1};
  nn.y_range = y_range;
  return {collab::DotProduct(dp).ptr(), collab::DotProductBias(dpb).ptr(),
          collab::CollabNN(nn).ptr()};
}

void set_weight(torch::nn::Embedding& e, const std::vector<std::vector<float>>& rows) {
  torch::NoGradGuard no_grad;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      e->weight[static_cast<int64_t>(r)][static_cast<int64_t>(c)] = rows[r][c];
    }
  }
}

std::vector<float> values(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().contiguous().to(torch::kFloat);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

TEST(Models, OutputShapeIsN) {
  torch::manual_seed(1);
  const torch::Tensor x = user_item_pairs({{0, 0}, {1, 2}, {4, 6}, {2, 3}, {3, 1}});
  for (const auto& model : all_models({5, 7}, std::nullopt)) {
    for (const bool training : {true, false}) {
      model->train(training);
      const torch::Tensor y = model->forward(x);
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{5})) << model->arch();
      EXPECT_EQ(y.scalar_type(), torch::kFloat) << model->arch();
    }
  }
}

TEST(Models, YRangeBoundsOutputs) {
  torch::manual_seed(2);
  const collab::YRange range{1.0, 5.5};
  const torch::Tensor x = user_item_pairs({{0, 0}, {1, 2}, {4, 6}, {2, 3}, {3, 1}, {4, 4}});
  for (const auto& model : all_models({5, 7}, range)) {
    ASSERT_TRUE(model->y_range().has_value());
    EXPECT_EQ(model->y_range()->hi, 5.5);
    // Large weights push the raw outputs far beyond the range; sigmoid_range must squash them
    // (inclusive bounds: in float, sigmoid saturates to exactly 0 or 1).
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.normal_(0.0, 10.0);
    }
    model->eval();
    const torch::Tensor y = model->forward(x);
    EXPECT_GE(y.min().item<float>(), 1.0f) << model->arch();
    EXPECT_LE(y.max().item<float>(), 5.5f) << model->arch();
  }
  // Without a range the raw values come through, beyond [1, 5.5] here.
  torch::manual_seed(2);
  auto model = all_models({5, 7}, std::nullopt)[0];
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.normal_(0.0, 10.0);
  }
  const torch::Tensor y = model->forward(x);
  EXPECT_TRUE(y.max().item<float>() > 5.5f || y.min().item<float>() < 1.0f);
  EXPECT_FALSE(model->y_range().has_value());
}

TEST(Layers, SigmoidRange) {
  const torch::Tensor x = torch::tensor({-1.0f, 0.0f, 2.0f});
  const std::vector<float> y = values(collab::sigmoid_range(x, collab::YRange{0.0, 5.5}));
  // float arithmetic: 1e-6 absolute is a few ulps at these magnitudes.
  EXPECT_NEAR(y[0], 5.5 * sigmoid(-1.0), 1e-6);
  EXPECT_NEAR(y[1], 2.75, 1e-6);
  EXPECT_NEAR(y[2], 5.5 * sigmoid(2.0), 1e-6);
  EXPECT_TRUE(collab::sigmoid_range(x, std::nullopt).equal(x));
}

TEST(Layers, EmbeddingInitIsFastaiTruncNormal) {
  torch::manual_seed(3);
  torch::nn::Embedding e = collab::make_embedding(1000, 50);
  EXPECT_EQ(e->weight.sizes(), (std::vector<int64_t>{1000, 50}));
  const torch::Tensor w = e->weight.detach();
  // normal(0, 1).fmod(2) * 0.01 lies strictly inside (-0.02, 0.02).
  EXPECT_LT(w.abs().max().item<float>(), 0.02f);
  EXPECT_GT(w.abs().max().item<float>(), 0.015f);  // but is not squeezed into a smaller range
  // fmod wraps the 4.6% of draws beyond +-2 back towards 0, so the std is not exactly 0.01:
  // E[fmod(z, 2)^2] for z ~ N(0, 1), integrated numerically here, gives std ~= 0.0087.
  double var = 0;
  const double dz = 1e-4;
  for (double z = -10; z < 10; z += dz) {
    const double wrapped = std::fmod(z, 2.0);
    var += wrapped * wrapped * std::exp(-z * z / 2) / std::sqrt(2 * M_PI) * dz;
  }
  const double expected_std = 0.01 * std::sqrt(var);
  const double std = w.to(torch::kDouble).std().item<double>();
  const double mean = w.to(torch::kDouble).mean().item<double>();
  // 50,000 draws: the sample std's relative standard error is ~0.3%, the mean's ~4e-5; 3% and
  // 3e-4 are ten standard errors, so this never flakes yet catches a different init.
  EXPECT_NEAR(std, expected_std, 0.03 * expected_std);
  EXPECT_NEAR(std, 0.01, 0.0015);  // "about 0.01", as fastai's trunc_normal_(std=0.01)
  EXPECT_NEAR(mean, 0.0, 3e-4);
}

TEST(Layers, ModelEmbeddingsUseTheFastaiInit) {
  torch::manual_seed(4);
  for (const auto& model : all_models({300, 400}, std::nullopt)) {
    for (const auto& item : model->named_parameters()) {
      if (item.key().find("factors") == std::string::npos &&
          item.key().find("_bias") == std::string::npos) {
        continue;
      }
      EXPECT_LT(item.value().abs().max().item<float>(), 0.02f) << model->arch() << item.key();
    }
  }
}

TEST(Layers, EmbeddingSizeRule) {
  EXPECT_EQ(collab::embedding_size_rule(944), 74);    // MovieLens 100k users (+ #na#)
  EXPECT_EQ(collab::embedding_size_rule(1665), 102);  // its titles (+ #na#)
  EXPECT_EQ(collab::embedding_size_rule(1), 2);
  EXPECT_EQ(collab::embedding_size_rule(10000000), 600);  // capped
}

TEST(CollabNN, EmbeddingSizesAndLayers) {
  collab::CollabNNOptions o;
  o.shape = {944, 1665};
  o.layers = {100};
  collab::CollabNN model(o);
  EXPECT_EQ(model->user_factors->weight.sizes(), (std::vector<int64_t>{944, 74}));
  EXPECT_EQ(model->item_factors->weight.sizes(), (std::vector<int64_t>{1665, 102}));
  auto* first = model->layers->ptr(0)->as<torch::nn::Linear>();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->weight.sizes(), (std::vector<int64_t>{100, 176}));
  EXPECT_TRUE(first->bias.defined());  // no batchnorm: Linear with bias

  o.user_embedding = 10;
  o.item_embedding = 20;
  collab::CollabNN given(o);
  EXPECT_EQ(given->user_factors->weight.size(1), 10);
  EXPECT_EQ(given->item_factors->weight.size(1), 20);
}

TEST(CollabNN, BatchNormLayersHaveLinearWithoutBias) {
  collab::CollabNNOptions o;
  o.shape = {10, 20};
  o.layers = {8, 4};
  o.batchnorm = true;
  collab::CollabNN model(o);
  // Linear(no bias) -> ReLU -> BatchNorm1d per hidden layer, then Linear(.., 1) with a bias.
  int hidden_linears = 0, batchnorms = 0;
  const auto children = model->layers->children();
  for (size_t k = 0; k < children.size(); ++k) {
    if (auto* linear = children[k]->as<torch::nn::Linear>()) {
      const bool last = k + 1 == children.size();
      EXPECT_EQ(linear->bias.defined(), last) << "layer " << k;
      if (!last) {
        ++hidden_linears;
        ASSERT_LT(k + 2, children.size());
        EXPECT_NE(children[k + 1]->as<torch::nn::ReLU>(), nullptr) << "layer " << k + 1;
        EXPECT_NE(children[k + 2]->as<torch::nn::BatchNorm1d>(), nullptr) << "layer " << k + 2;
      }
    }
    if (auto* bn = children[k]->as<torch::nn::BatchNorm1d>()) {
      ++batchnorms;
      EXPECT_TRUE(bn->weight.eq(1.0).all().item<bool>());  // fastai's BatchNorm init
      EXPECT_TRUE(bn->bias.eq(1e-3f).all().item<bool>());
    }
  }
  EXPECT_EQ(hidden_linears, 2);
  EXPECT_EQ(batchnorms, 2);
  EXPECT_NE(children.back()->as<torch::nn::Linear>(), nullptr);
}

// The block scorer (first layer split into user and item halves) against forward() over every
// pair, in eval mode: with and without BatchNorm (running statistics moved off their start so
// they matter) and a bias on the first layer. Tolerance 1e-5: only the order of float additions
// differs between the two.
TEST(CollabNN, BlockScoresEqualForwardOverEveryPair) {
  for (const bool batchnorm : {false, true}) {
    collab::CollabNNOptions o;
    o.shape = {7, 11};
    o.layers = {16, 8};
    o.batchnorm = batchnorm;
    o.dropout = {0.3, 0.3};
    o.y_range = collab::YRange{0, 5.5};
    collab::CollabNN model(o);
    torch::manual_seed(3);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.normal_(0, 0.5);
      for (auto& b : model->buffers()) {
        if (b.is_floating_point()) b.uniform_(0.5, 1.5);
      }
    }
    model->eval();
    const auto items = model->block_items();
    ASSERT_TRUE(items.has_value());
    const torch::Tensor users = torch::tensor({4, 0, 6, 4}, torch::kLong);
    const torch::Tensor block = model->score_user_block(users, *items);
    ASSERT_EQ(block.sizes(), (std::vector<int64_t>{4, 11}));
    const torch::Tensor pairs =
        torch::stack({users.repeat_interleave(11), torch::arange(11).repeat({4})}, 1);
    const torch::Tensor expected = model->forward(pairs).view({4, 11});
    EXPECT_TRUE(torch::allclose(block, expected, /*rtol=*/1e-5, /*atol=*/1e-5))
        << "batchnorm " << batchnorm << ": max difference "
        << (block - expected).abs().max().item<float>();
  }
  // Architectures without one say so, and the scorer falls back to forward().
  collab::DotProductBiasOptions dpb;
  dpb.shape = {3, 4};
  EXPECT_FALSE(collab::DotProductBias(dpb)->block_items().has_value());
}

TEST(DotProductBias, ForwardEqualsHandComputation) {
  collab::DotProductBiasOptions o;
  o.shape = {2, 2};
  o.n_factors = 2;
  collab::DotProductBias model(o);
  set_weight(model->user_factors, {{1.0f, 2.0f}, {3.0f, 4.0f}});
  set_weight(model->item_factors, {{0.5f, -1.0f}, {2.0f, 0.0f}});
  set_weight(model->user_bias, {{0.1f}, {0.2f}});
  set_weight(model->item_bias, {{-0.3f}, {0.4f}});
  const torch::Tensor x = user_item_pairs({{0, 0}, {1, 1}, {0, 1}, {1, 0}});
  // u.i + bu + bi:  (1*0.5 + 2*-1) + 0.1 - 0.3 = -1.7;  (3*2 + 4*0) + 0.2 + 0.4 = 6.6;
  //                 (1*2 + 2*0) + 0.1 + 0.4 = 2.5;     (3*0.5 + 4*-1) + 0.2 - 0.3 = -2.6.
  const std::vector<double> expected = {-1.7, 6.6, 2.5, -2.6};
  const std::vector<float> y = values(model->forward(x));
  // float32 sums of a few terms of size <= 6: 1e-5 absolute is a few ulps.
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_NEAR(y[k], expected[k], 1e-5) << k;

  // With y_range the same sums go through sigmoid(.) * (hi - lo) + lo.
  o.y_range = collab::YRange{0.0, 5.5};
  collab::DotProductBias ranged(o);
  set_weight(ranged->user_factors, {{1.0f, 2.0f}, {3.0f, 4.0f}});
  set_weight(ranged->item_factors, {{0.5f, -1.0f}, {2.0f, 0.0f}});
  set_weight(ranged->user_bias, {{0.1f}, {0.2f}});
  set_weight(ranged->item_bias, {{-0.3f}, {0.4f}});
  const std::vector<float> yr = values(ranged->forward(x));
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_NEAR(yr[k], 5.5 * sigmoid(expected[k]), 1e-5) << k;
  }
}

TEST(Biases, ForwardEqualsHandComputation) {
  collab::BiasesOptions o;
  o.shape = {2, 2};
  collab::Biases model(o);
  {
    torch::NoGradGuard no_grad;
    model->global_bias.fill_(3.5);
  }
  set_weight(model->user_bias, {{0.1f}, {-0.2f}});
  set_weight(model->item_bias, {{0.5f}, {-1.0f}});
  // b + bu + bi: 3.5 + 0.1 + 0.5 = 4.1; 3.5 - 0.2 - 1.0 = 2.3; 3.5 + 0.1 - 1.0 = 2.6.
  const std::vector<float> y = values(model->forward(user_item_pairs({{0, 0}, {1, 1}, {0, 1}})));
  const std::vector<double> expected = {4.1, 2.3, 2.6};
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_NEAR(y[k], expected[k], 1e-5) << k;
  EXPECT_EQ(model->parameters().size(), 3u);  // no factors
}

TEST(DotProduct, ForwardEqualsHandComputation) {
  collab::DotProductOptions o;
  o.shape = {2, 3};
  o.n_factors = 3;
  collab::DotProduct model(o);
  set_weight(model->user_factors, {{1.0f, 0.0f, -1.0f}, {0.5f, 0.5f, 0.5f}});
  set_weight(model->item_factors, {{2.0f, 1.0f, 1.0f}, {0.0f, 0.0f, 4.0f}, {1.0f, 1.0f, 1.0f}});
  const std::vector<float> y =
      values(model->forward(user_item_pairs({{0, 0}, {0, 1}, {1, 2}, {1, 1}})));
  const std::vector<double> expected = {1.0, -4.0, 1.5, 2.0};
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_NEAR(y[k], expected[k], 1e-6) << k;
}

TEST(Registry, BuildsEachArchitectureByName) {
  EXPECT_EQ(collab::architectures(),
            (std::vector<std::string>{"DotProduct", "DotProductBias", "CollabNN", "Biases",
                                      "ContentBased", "HybridDotProductBias", "FeatureBiases",
                                      "SVDpp"}));
  for (const std::string& arch : collab::architectures()) {
    const json config = {{"arch", arch}};
    json resolved;
    collab::ConfigReader reader(config, "model", &resolved);
    const collab::CollabModel model = collab::build_model(reader, {3, 4});
    ASSERT_NE(model, nullptr) << arch;
    EXPECT_EQ(model->arch(), arch);
    EXPECT_EQ(model->forward(user_item_pairs({{2, 3}})).sizes(), (std::vector<int64_t>{1})) << arch;
    EXPECT_EQ(resolved["arch"], arch);
    EXPECT_TRUE(resolved.contains("y_range")) << resolved.dump();  // defaults are recorded
  }
}

TEST(Registry, ReadsArchitectureKeys) {
  const json config = json::parse(R"({"arch": "DotProductBias", "n_factors": 7,
                                      "y_range": [0, 5.5]})");
  collab::ConfigReader reader(config, "model", nullptr);
  const collab::CollabModel model = collab::build_model(reader, {3, 4});
  auto* dpb = dynamic_cast<collab::DotProductBiasImpl*>(model.get());
  ASSERT_NE(dpb, nullptr);
  EXPECT_EQ(dpb->user_factors->weight.sizes(), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(dpb->item_bias->weight.sizes(), (std::vector<int64_t>{4, 1}));
  ASSERT_TRUE(model->y_range().has_value());
  EXPECT_EQ(model->y_range()->hi, 5.5);
}

TEST(Registry, RejectsUnknownArchitectureAndKeys) {
  const std::string unknown = build_model_error({{"arch", "Transformer"}}, {3, 4});
  EXPECT_EQ(unknown.rfind("model.arch: ", 0), 0u) << unknown;
  EXPECT_NE(unknown.find("\"Transformer\""), std::string::npos) << unknown;
  for (const char* arch : {"\"DotProduct\"", "\"DotProductBias\"", "\"CollabNN\""}) {
    EXPECT_NE(unknown.find(arch), std::string::npos) << unknown;
  }
  const std::string missing = build_model_error(json::object(), {3, 4});
  EXPECT_EQ(missing.rfind("model.arch: missing", 0), 0u) << missing;
  const std::string typo = build_model_error({{"arch", "DotProduct"}, {"n_factor", 3}}, {3, 4});
  EXPECT_EQ(typo.rfind("model.n_factor: unknown key", 0), 0u) << typo;
  // A key of another architecture is unknown to this one.
  const std::string foreign =
      build_model_error({{"arch", "DotProduct"}, {"layers", json::array({10})}}, {3, 4});
  EXPECT_EQ(foreign.rfind("model.layers: unknown key", 0), 0u) << foreign;
  const std::string dropout = build_model_error(
      {{"arch", "CollabNN"}, {"layers", json::array({10, 5})}, {"dropout", json::array({0.1})}},
      {3, 4});
  EXPECT_EQ(dropout.rfind("model.dropout: ", 0), 0u) << dropout;
}

}  // namespace test_models
