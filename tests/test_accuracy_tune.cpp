// Accuracy of `collab tune`'s blend on MovieLens 100k's u1 split, through the command as a user
// runs it: a small search over the fast architectures and optimizers (DotProductBias with Adam,
// sgd and sparse_adam, CollabNN, Biases), its trials blended, the blend scored once on u1.test.
// The bounds are the point of blending: it beats fastai's recipe (DotProductBias, u1.test 0.9133)
// and the tune's own best trial. Measured (AVX-512 CPU, 2 threads): a blend of 8 of the 15 trials,
// u1.test 0.9032, the best trial 0.9127. The bounds leave 0.005 to each of those, twice the
// spread seeds give a model on this split (about 0.002) and far above what another CPU's
// rounding changes in these deterministic runs.
#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace collab::test {
namespace test_accuracy_tune {

using nlohmann::json;

// The search: one alternative per optimizer or architecture, each with its own ranges.
json fast_space() {
  const json adam = {{"model.n_factors", {{"int", {16, 120}}}},
                     {"train.lr_max", {{"log_uniform", {2e-3, 1.5e-2}}}},
                     {"train.weight_decay", {{"log_uniform", {0.02, 0.3}}}},
                     {"train.epochs", {{"int", {3, 7}}}}};
  const json sgd = {{"train.optimizer", {{"choice", {"sgd"}}}},
                    {"model.n_factors", {{"int", {16, 120}}}},
                    {"model.y_range", {{"choice", {json::array({0, 5.5}), nullptr}}}},
                    {"train.lr_max", {{"log_uniform", {2e-2, 8e-2}}}},
                    {"train.weight_decay", {{"log_uniform", {0.03, 0.15}}}},
                    {"train.epochs", {{"int", {10, 25}}}}};
  const json sparse_adam = {{"train.optimizer", {{"choice", {"sparse_adam"}}}},
                            {"model.n_factors", {{"int", {16, 120}}}},
                            {"train.lr_max", {{"log_uniform", {2e-3, 8e-3}}}},
                            {"train.weight_decay", {{"log_uniform", {0.1, 0.8}}}},
                            {"train.epochs", {{"int", {5, 12}}}}};
  const json nn = {
      {"model", {{"choice", {{{"arch", "CollabNN"}, {"layers", {100}}, {"y_range", {0, 5.5}}}}}}},
      {"train.lr_max", {{"log_uniform", {1e-3, 5e-3}}}},
      {"train.weight_decay", {{"log_uniform", {0.01, 0.1}}}},
      {"train.epochs", {{"int", {3, 5}}}}};
  const json biases = {{"model", {{"choice", {{{"arch", "Biases"}, {"y_range", {0, 5.5}}}}}}}};
  return json::array({adam, sgd, sparse_adam, nn, biases});
}

double last_valid_rmse(const std::string& run_dir) {
  std::istringstream lines(read_text(run_dir + "/metrics.jsonl"));
  std::string line, last;
  while (std::getline(lines, line)) last = line;
  return last.empty() ? 1e9 : json::parse(last)["valid_rmse"].get<double>();
}

TEST(AccuracyTune, BlendOfTrialsBeatsTheRecipeAndTheBestTrial) {
  COLLAB_REQUIRE_SHARED_DATA();
  const std::string dir = temp_dir("collab-accuracy-tune");
  write_text(dir + "/base.json",
             json({{"data", {{"dataset", "ml-100k"}, {"train", "u1.base"}, {"valid", "u1.test"}}},
                   {"model", {{"arch", "DotProductBias"}, {"n_factors", 50},
                              {"y_range", {0, 5.5}}}},
                   {"train", {{"epochs", 5}, {"batch_size", 64}, {"lr_max", 5e-3},
                              {"weight_decay", 0.1}, {"seed", 42}, {"threads", 2}}}})
                 .dump());
  write_text(dir + "/tune.json",
             json({{"base", "base.json"},
                   {"trials", 15},
                   {"seed", 1},
                   {"blend", {{"features", {"user_support", "item_support"}}}},
                   {"space", fast_space()}})
                 .dump());
  const CommandResult r = run_collab("tune '" + dir + "/tune.json' --dir '" + dir + "/out'",
                                     "COLLAB_DATA_DIR='" + shared_data_dir() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::cout << r.out;
  const json blend = json::parse(read_text(dir + "/out/blend.json"));
  const double blend_test = blend["final_test"]["rmse"].get<double>();
  const double best_trial_test = last_valid_rmse(dir + "/out/final");
  RecordProperty("blend_u1_test_rmse", std::to_string(blend_test));
  RecordProperty("best_trial_u1_test_rmse", std::to_string(best_trial_test));
  EXPECT_GE(blend["members"].size(), 3u) << blend.dump();
  // Chosen on the inner split: the blend's cross-validated RMSE is below the best trial's.
  EXPECT_LT(blend["inner_cv_rmse"].get<double>(), blend["best_trial_inner_rmse"].get<double>());
  EXPECT_LT(blend_test, best_trial_test - 0.005);
  EXPECT_LT(blend_test, 0.908) << "fastai's recipe: 0.9133";
}

}  // namespace test_accuracy_tune
}  // namespace collab::test
