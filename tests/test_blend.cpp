// Blends of trained models (infer/blend.h) and compare's "blend" section: the least-squares fit
// recovers known weights, the blended model predicts their weighted sum, and compare adds a Blend
// row whose weights were fitted without the test part.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collab/common/error.h"
#include "collab/infer/blend.h"
#include "collab/models/biases.h"
#include "collab/models/dot_product_bias.h"
#include "test_support.h"

namespace test_blend {

namespace {

using json = nlohmann::json;
using namespace collab::test;  // the shared helpers: test_support.h

}  // namespace

// targets = 0.25 + 0.6 a + 0.3 b exactly: the fit (without ridge) gives those numbers back.
TEST(Blend, FitRecoversKnownWeights) {
  torch::manual_seed(1);
  const torch::Tensor a = torch::rand({200}) * 4 + 1, b = torch::rand({200}) * 4 + 1;
  const torch::Tensor targets = 0.25 + 0.6 * a + 0.3 * b;
  const collab::BlendWeights w = collab::fit_blend({a, b}, targets, /*ridge=*/0);
  ASSERT_EQ(w.weights.size(), 2u);
  // float inputs, solved in double: 1e-5 covers the inputs' rounding.
  EXPECT_NEAR(w.weights[0], 0.6, 1e-5);
  EXPECT_NEAR(w.weights[1], 0.3, 1e-5);
  EXPECT_NEAR(w.intercept, 0.25, 1e-4);
  // Two identical columns are singular without ridge; with it they share the weight.
  const collab::BlendWeights twin = collab::fit_blend({a, a}, 2.0 * a, /*ridge=*/1e-3);
  EXPECT_NEAR(twin.weights[0], twin.weights[1], 1e-9);
  EXPECT_NEAR(twin.weights[0] + twin.weights[1], 2.0, 0.01);
}

TEST(Blend, FitErrorsSayWhatIsWrong) {
  const torch::Tensor a = torch::ones({3});
  expect_one_line_error_thrown([&] { collab::fit_blend({}, a, 0); }, {"at least one model"});
  expect_one_line_error_thrown([&] { collab::fit_blend({a, a, a}, a, 0); },
                               {"3 models", "more than 3 ratings"});
  expect_one_line_error_thrown([&] { collab::fit_blend({torch::ones({4})}, a, 0); },
                               {"differ in length", "4", "3"});
}

TEST(Blend, BlendedModelIsTheWeightedSumOfItsModels) {
  collab::DotProductBiasOptions dpb;
  dpb.shape = {5, 6};
  dpb.n_factors = 3;
  dpb.y_range = collab::YRange{0, 5.5};
  collab::BiasesOptions biases;
  biases.shape = {5, 6};
  biases.y_range = collab::YRange{0, 5.5};
  const collab::CollabModel first = collab::DotProductBias(dpb).ptr();
  const collab::CollabModel second = collab::Biases(biases).ptr();
  collab::BlendedModelImpl blend({first, second}, {{0.7, 0.4}, -0.2, {}, {}});
  blend.eval();
  const torch::Tensor x = torch::tensor({0, 1, 4, 5, 2, 3}, torch::kLong).view({3, 2});
  const torch::Tensor expected = 0.7 * first->forward(x) + 0.4 * second->forward(x) - 0.2;
  EXPECT_TRUE(torch::allclose(blend.forward(x), expected, 1e-6, 1e-6));
  EXPECT_FALSE(first->is_training());  // eval() reached the blended models
  expect_one_line_error_thrown(
      [&] {
        torch::jit::Module m("m");
        blend.script_into(m);
      },
      {"cannot be exported"});
}

// Feature-weighted stacking: targets whose weights move with two features are fitted exactly.
TEST(Blend, FeatureFitRecoversPlantedWeights) {
  torch::manual_seed(2);
  const torch::Tensor a = torch::rand({400}) * 4 + 1, b = torch::rand({400}) * 4 + 1;
  const torch::Tensor f = torch::rand({400, 2}) * 5;
  const torch::Tensor f0 = f.select(1, 0), f1 = f.select(1, 1);
  const torch::Tensor targets =
      0.1 + (0.5 + 0.1 * f0) * a + (0.3 - 0.05 * f1) * b + 0.2 * f0 - 0.1 * f1;
  const collab::BlendWeights w = collab::fit_blend({a, b}, f, targets, /*ridge=*/0);
  ASSERT_EQ(w.feature_weights.size(), 2u);
  ASSERT_EQ(w.feature_intercepts.size(), 2u);
  // float inputs, solved in double: 1e-3 covers the inputs' rounding through 9 unknowns.
  EXPECT_NEAR(w.weights[0], 0.5, 1e-3);
  EXPECT_NEAR(w.weights[1], 0.3, 1e-3);
  EXPECT_NEAR(w.feature_weights[0][0], 0.1, 1e-3);
  EXPECT_NEAR(w.feature_weights[0][1], 0.0, 1e-3);
  EXPECT_NEAR(w.feature_weights[1][0], 0.0, 1e-3);
  EXPECT_NEAR(w.feature_weights[1][1], -0.05, 1e-3);
  EXPECT_NEAR(w.feature_intercepts[0], 0.2, 1e-3);
  EXPECT_NEAR(w.feature_intercepts[1], -0.1, 1e-3);
  EXPECT_NEAR(w.intercept, 0.1, 1e-3);
  EXPECT_TRUE(torch::allclose(collab::apply_blend(w, {a, b}, f), targets, 1e-3, 1e-3));
  // Exact data: the held-out folds are predicted exactly too; the features are needed for it.
  EXPECT_LT(collab::cross_validated_blend_rmse({a, b}, f, targets, 0, 5), 1e-3);
  EXPECT_GT(collab::cross_validated_blend_rmse({a, b}, torch::zeros({400, 0}), targets, 0, 5),
            0.05);
  expect_one_line_error_thrown([&] { collab::fit_blend({a, b}, torch::zeros({3, 2}), targets, 0); },
                               {"features", "400"});
  expect_one_line_error_thrown(
      [&] { collab::fit_blend({a.narrow(0, 0, 5)}, f.narrow(0, 0, 5), targets.narrow(0, 0, 5), 0); },
      {"more than 5 ratings", "got 5"});
  expect_one_line_error_thrown(
      [&] { collab::cross_validated_blend_rmse({a}, f, targets, 0, 1); }, {"2 folds", "1"});
}

// forward() with features: each model's weight is its base weight plus its slopes times
// log(1 + the user's or item's count), as the formula says.
TEST(Blend, FeatureBlendForwardIsTheFormula) {
  collab::BiasesOptions biases;
  biases.shape = {5, 6};
  biases.y_range = collab::YRange{0, 5.5};
  const collab::CollabModel first = collab::Biases(biases).ptr();
  const collab::BlendWeights w{{0.7}, -0.2, {{0.1, -0.05}}, {0.03, 0.02}};
  const collab::BlendSupport support{torch::tensor({0.f, 1.f, 2.f, 3.f, 4.f}),
                                     torch::tensor({5.f, 6.f, 7.f, 8.f, 9.f, 10.f})};
  collab::BlendedModelImpl blend(
      {first}, w, {collab::BlendFeature::kUserSupport, collab::BlendFeature::kItemSupport},
      support);
  blend.eval();
  const torch::Tensor x = torch::tensor({0, 1, 4, 5, 2, 3}, torch::kLong).view({3, 2});
  const torch::Tensor p = first->forward(x);
  const torch::Tensor fu = torch::log1p(torch::tensor({0.f, 4.f, 2.f}));
  const torch::Tensor fi = torch::log1p(torch::tensor({6.f, 10.f, 8.f}));
  const torch::Tensor expected = (0.7 + 0.1 * fu - 0.05 * fi) * p - 0.2 + 0.03 * fu + 0.02 * fi;
  EXPECT_TRUE(torch::allclose(blend.forward(x), expected, 1e-5, 1e-5));
  expect_one_line_error_thrown(
      [&] { collab::BlendedModelImpl({first}, {{0.7}, 0.0, {}, {}}, {collab::BlendFeature::kUserSupport},
                                     support); },
      {"1 features", "weights for 0"});
  expect_one_line_error_thrown([&] { collab::blend_feature("age", "blend.features[0]"); },
                               {"blend.features[0]", "\"age\"", "user_support"});
}

// compare with a blend section: a Blend row after the candidates, with one weight per
// candidate on every split and a finite RMSE; a bad blend key is refused before training.
// Two informative models with independent errors, a model of pure noise and an exact copy of
// the first: selection takes the two, leaves the noise (it earns no cross-validated gain) and the
// copy (it adds weights, not information), and its RMSE falls with each choice.
TEST(Blend, SelectionTakesWhatLowersCrossValidatedError) {
  torch::manual_seed(3);
  const int64_t n = 4000;
  const torch::Tensor y = torch::randint(1, 6, {n}).to(torch::kFloat);
  const torch::Tensor a = y + 0.8 * torch::randn({n}), b = y + 0.8 * torch::randn({n});
  const torch::Tensor noise = 3 + torch::randn({n});
  const torch::Tensor none = torch::zeros({n, 0});
  const std::vector<torch::Tensor> candidates = {noise, a, b, a.clone()};
  const collab::BlendSelection s = collab::select_blend(candidates, none, y, /*ridge=*/1e-4,
                                                        /*folds=*/5, /*max_models=*/4,
                                                        /*min_gain=*/1e-4);
  ASSERT_EQ(s.chosen.size(), 2u);
  EXPECT_EQ(std::set<size_t>(s.chosen.begin(), s.chosen.end()), (std::set<size_t>{1, 2}));
  ASSERT_EQ(s.cv_rmse.size(), 2u);
  // Averaging two errors of sd 0.8 leaves about 0.8 / sqrt(2) (with the ratings' own shrinkage
  // toward the mean a little less); one model alone about 0.8 or less.
  EXPECT_LT(s.cv_rmse[1], s.cv_rmse[0]);
  EXPECT_NEAR(s.cv_rmse[1], 0.8 / std::sqrt(2.0), 0.06);
  // What a fit of the two chosen gives.
  EXPECT_EQ(s.cv_rmse[1],
            collab::cross_validated_blend_rmse(
                {candidates[s.chosen[0]], candidates[s.chosen[1]]}, none, y, 1e-4, 5));
  // max_models caps it; the first choice is the best model alone.
  const collab::BlendSelection one =
      collab::select_blend({noise, a, b}, none, y, 1e-4, 5, /*max_models=*/1, 1e-4);
  ASSERT_EQ(one.chosen.size(), 1u);
  EXPECT_NE(one.chosen[0], 0u);
  expect_one_line_error_thrown([&] { collab::select_blend({}, none, y, 1e-4, 5, 3, 0); },
                               {"at least one model"});
}

TEST(Blend, CompareAddsABlendRow) {
  const std::string dir = temp_dir("collab-blend");
  write_small_catalogue(dir);
  const json config = {
      {"data", {{"dir", dir}}},
      {"eval", {{"protocol", "predefined_kfold"}, {"folds", 1},
                {"train_pattern", "train.tsv"}, {"test_pattern", "valid.tsv"}, {"k", 3}}},
      {"train", {{"epochs", 2}, {"batch_size", 16}, {"threads", 1}}},
      {"blend", {{"inner_valid_pct", 0.2}, {"seed", 1}}},
      {"candidates",
       {{{"name", "DPB"},
         {"model", {{"arch", "DotProductBias"}, {"n_factors", 4}, {"y_range", {0, 5.5}}}}},
        {{"name", "Biases"}, {"model", {{"arch", "Biases"}, {"y_range", {0, 5.5}}}}}}}};
  write_text(dir + "/compare.json", config.dump());
  const auto r = run_collab("compare '" + dir + "/compare.json' --run-dir '" + dir + "/out'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Blend train: inner cv rmse"), std::string::npos) << r.out;
  const json results = json::parse(read_text(dir + "/out/compare.json"));
  ASSERT_EQ(results["candidates"].size(), 3u);
  const json& blend = results["candidates"][2];
  EXPECT_EQ(blend["name"], "Blend");
  const json& fold = blend["folds"][0];
  EXPECT_EQ(fold["blend"]["weights"].size(), 2u);
  EXPECT_TRUE(fold["blend"]["weights"].contains("DPB"));
  EXPECT_EQ(fold["blend"]["inner_ratings"], 40);  // 20% of the 200 training ratings
  EXPECT_TRUE(std::isfinite(fold["final"]["rmse"].get<double>()));
  EXPECT_TRUE(std::isfinite(fold["blend"]["inner_cv_rmse"].get<double>()));
  EXPECT_EQ(fold["blend"]["inner_cv_rmse"], fold["blend"]["inner_cv_rmse_without_features"]);

  json bad = config;
  bad["blend"]["inner_valid_pct"] = 1.5;
  write_text(dir + "/bad.json", bad.dump());
  expect_refused("compare '" + dir + "/bad.json'", "blend.inner_valid_pct");
  bad = config;
  bad["blend"]["features"] = {"user_support", "age"};
  write_text(dir + "/bad.json", bad.dump());
  expect_refused("compare '" + dir + "/bad.json'", "blend.features[1]");
  bad["blend"]["features"] = {"user_support", 3};
  write_text(dir + "/bad.json", bad.dump());
  expect_refused("compare '" + dir + "/bad.json'", "blend.features[1]: expected a blend feature name");
  bad["blend"]["features"] = "user_support";
  write_text(dir + "/bad.json", bad.dump());
  expect_refused("compare '" + dir + "/bad.json'", "blend.features");
}

}  // namespace test_blend
