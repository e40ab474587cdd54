// The item side of issue 18's cold start: the item metadata model's ridge fit against a planted
// linear map, item fold-in against a planted item vector, and `collab cold-start --side items` on
// the small hand-made catalogue (table shape, strategies that cannot read revealed ratings stay
// put, fold-in with none is its prior's centre) with its error paths.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/infer/fold_in.h"
#include "collab/infer/item_metadata_model.h"
#include "collab/models/dot_product_bias.h"
#include "test_support.h"

namespace test_item_cold_start {

namespace {

using collab::test::error_of;
using json = nlohmann::json;

// No y_range: predictions are linear in the item vector, so fold-in solves exactly.
collab::DotProductBias linear_model(int64_t users, int64_t items) {
  torch::manual_seed(5);
  collab::DotProductBiasOptions options;
  options.shape = {users, items};
  options.n_factors = 3;
  collab::DotProductBias model(options);
  model->eval();
  return model;
}

// One suite, one process (LibTorch's start-up costs a second a process): the unit tests share
// the CLI test's fixture, whose set-up only writes a few small files.
class ItemColdStart : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(collab::test::temp_dir("collab-item-cold"));
    collab::test::write_small_catalogue(*dir_);
    write_config("dpb.json", R"({"arch": "DotProductBias", "n_factors": 3, "y_range": [0, 5.5]})",
                 true);
    write_config("nocat.json", R"({"arch": "DotProductBias", "n_factors": 3})", false);
    write_config("nn.json", R"({"arch": "CollabNN", "layers": [4]})", true);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static void write_config(const std::string& name, const std::string& model, bool items) {
    collab::test::write_text(
        *dir_ + "/" + name,
        std::string(R"({"data": {"train": "train.tsv", "valid": "valid.tsv")") +
            (items ? R"(, "items": "u.item")" : "") + R"(}, "model": )" + model +
            R"(, "train": {"epochs": 2, "batch_size": 16, "lr_max": 0.03, "threads": 1}})");
  }
  static std::string command(const std::string& config) {
    return "cold-start '" + *dir_ + "/" + config + "' --side items --seeds 3 --reveal 0,1,3";
  }
  static std::string* dir_;
};
std::string* ItemColdStart::dir_ = nullptr;

// 30 items whose vectors (3 factors and the bias) are exactly features @ W + b: the fit must give
// them back, and choose the smallest ridge strength (noise-free targets).
TEST_F(ItemColdStart, RidgeFitRecoversAPlantedLinearMap) {
  torch::NoGradGuard no_grad;
  auto model = linear_model(40, 30);
  torch::manual_seed(11);
  const torch::Tensor x = (torch::rand({30, 6}) < 0.4).to(torch::kFloat);
  const torch::Tensor w = torch::randn({6, 4}) * 0.3, b = torch::randn({4}) * 0.1;
  const torch::Tensor planted = x.matmul(w) + b;
  model->item_factors->weight.copy_(planted.slice(1, 0, 3));
  model->item_bias->weight.copy_(planted.slice(1, 3, 4));
  collab::ItemMetadataData data;
  data.features = x;
  for (int64_t i = 0; i < 30; ++i) {
    data.items.push_back(i);
    std::vector<int64_t> users;
    for (int64_t u = i % 4; u < 40; u += 4) users.push_back(u);
    const torch::Tensor r =
        model->score_users(planted[i], torch::tensor(users, torch::kLong)).contiguous();
    data.users.push_back(users);
    data.ratings.emplace_back(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
  }
  collab::MetadataOptions options;
  options.ridges = {1e-6, 1, 100};
  const std::vector<std::string> columns = {"a", "b", "c", "d", "e", "f"};
  const auto fit = collab::fit_item_metadata_model(*model, columns, data, options);
  EXPECT_EQ(fit.report["ridge"].get<double>(), 1e-6);
  EXPECT_EQ(fit.report["fit_items"], 30);
  EXPECT_EQ(fit.columns, columns);
  // Double-precision solve of float targets, ridge 1e-6: float rounding dominates.
  EXPECT_LT((fit.predict(x) - planted).abs().max().item<double>(), 1e-4);
  EXPECT_LT(fit.report["rmse_metadata"].get<double>(), 1e-4);
  EXPECT_GT(fit.report["rmse_mean_item"].get<double>(), 1e-3);

  // Fewer than 10 items is an error naming the count.
  collab::ItemMetadataData few = data;
  few.items.resize(9);
  few.users.resize(9);
  few.ratings.resize(9);
  few.features = x.slice(0, 0, 9);
  const std::string err =
      error_of([&] { collab::fit_item_metadata_model(*model, columns, few, options); });
  EXPECT_TRUE(collab::test::contains(err, "at least 10 trained items")) << err;
  EXPECT_TRUE(collab::test::contains(err, "9 have any")) << err;
}

// Item fold-in is user fold-in's mirror: all 40 users' exact ratings of a planted item vector
// give it back, none gives the mean of the trained items' vectors.
TEST_F(ItemColdStart, FoldInItemSolvesThePlantedVector) {
  torch::NoGradGuard no_grad;
  auto model = linear_model(40, 30);
  // Unit-scale user factors: fastai's 0.01-scale start would leave the factor coordinates barely
  // determined by float ratings.
  model->user_factors->weight.normal_();
  const torch::Tensor planted = torch::tensor({0.4f, -0.2f, 0.3f, 0.5f});
  std::vector<int64_t> users;
  for (int64_t u = 0; u < 40; ++u) users.push_back(u);
  const torch::Tensor r = (model->score_users(planted) + 3.0).contiguous();
  // The ratings are planted + an offset of 3 on the bias coordinate: rating = p_u.q + b_u + b_i.
  const std::vector<float> ratings(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
  collab::FoldInOptions options;
  options.prior_weight = 1e-9;
  const torch::Tensor solved = collab::fold_in_item(*model, users, ratings, options);
  const torch::Tensor expected = torch::tensor({0.4f, -0.2f, 0.3f, 3.5f});
  // 40 equations, 4 unknowns, a negligible prior: exact to float rounding.
  EXPECT_LT((solved - expected).abs().max().item<double>(), 1e-3) << solved;

  const torch::Tensor trained = torch::tensor(std::vector<int64_t>{2, 5, 7}, torch::kLong);
  const torch::Tensor none = collab::fold_in_item(*model, {}, {}, options, trained);
  const torch::Tensor mean = model->item_vectors().index_select(0, trained).mean(0);
  EXPECT_LT((none - mean).abs().max().item<double>(), 1e-6);
  const std::string err = error_of([&] { collab::fold_in_item(*model, {40}, {3.0f}, options); });
  EXPECT_TRUE(collab::test::contains(err, "user index 40 is outside the 40 users")) << err;
}

TEST_F(ItemColdStart, ProtocolTableAndErrors) {
  auto r =
      collab::test::run_collab(command("dpb.json") + " --json --plot '" + *dir_ + "/items.svg'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  const std::vector<std::string> strategies = {"mean item", "metadata", "fold-in", "fold-in+meta"};
  EXPECT_EQ(out["strategies"].get<std::vector<std::string>>(), strategies);
  EXPECT_EQ(out["side"], "items");
  // 20% of 30 items is 6, each rated by about 7 users: those with more than 3 are scored.
  const int64_t items = out["held_out_items"][0].get<int64_t>();
  EXPECT_GE(items, 1);
  EXPECT_LE(items, 6);
  const auto& rmse = out["rmse"][0];
  ASSERT_EQ(rmse.size(), 4u);
  for (size_t k = 0; k < 4; ++k) {
    ASSERT_EQ(rmse[k].size(), 3u);
    for (size_t n = 0; n < 3; ++n) {
      const double v = rmse[k][n].get<double>();
      EXPECT_TRUE(v > 0 && v < 5) << strategies[k] << " " << v;  // ratings are 1..5
      const double ndcg = out["ndcg"][0][k][n].get<double>();
      EXPECT_TRUE(ndcg >= 0 && ndcg <= 1) << strategies[k] << " " << ndcg;
    }
    // Mean item and metadata do not read the revealed ratings.
    if (k < 2) {
      EXPECT_EQ(rmse[k][0], rmse[k][2]) << strategies[k];
    }
  }
  // Fold-in with nothing revealed is its prior's centre: the same vector, the same float
  // predictions, equal up to the tally's summation order.
  EXPECT_NEAR(rmse[2][0].get<double>(), rmse[0][0].get<double>(), 1e-9);
  EXPECT_NEAR(rmse[3][0].get<double>(), rmse[1][0].get<double>(), 1e-9);
  const std::string svg = collab::test::read_text(*dir_ + "/items.svg");
  EXPECT_TRUE(collab::test::contains(svg, "Item cold start"));
  for (const auto& name : strategies) {
    EXPECT_TRUE(collab::test::contains(svg, "data-name=\"" + name + "\"")) << name;
  }

  // The table: three tables of a header, a rule and a row per strategy.
  r = collab::test::run_collab(command("dpb.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(collab::test::contains(r.out, "Held-out items' unrevealed ratings")) << r.out;
  EXPECT_TRUE(collab::test::contains(r.out, "RMSE minus the mean item's")) << r.out;
  size_t headers = 0, rows = 0;
  for (size_t at = 0; (at = r.out.find("| strategy | 0 revealed | 1 revealed | 3 revealed |\n",
                                       at)) != std::string::npos;
       ++at)
    ++headers;
  for (const auto& name : strategies) {
    for (size_t at = 0; (at = r.out.find("\n| " + name + " |", at)) != std::string::npos; ++at)
      ++rows;
  }
  EXPECT_EQ(headers, 3u);
  EXPECT_EQ(rows, 12u);

  collab::test::expect_one_line_error(
      collab::test::run_collab("cold-start '" + *dir_ + "/dpb.json' --side sideways"), "cold-start",
      {"--side: \"sideways\" is neither users nor items"});
  collab::test::expect_one_line_error(
      collab::test::run_collab(command("dpb.json") + " --user-file u.user"), "cold-start",
      {"--user-file describes users", "--side items"});
  collab::test::expect_one_line_error(collab::test::run_collab(command("nocat.json")), "cold-start",
                                      {"names no item catalogue", "data.items"});
  collab::test::expect_one_line_error(collab::test::run_collab(command("nn.json")), "cold-start",
                                      {"\"CollabNN\" has no item vectors"});
}

}  // namespace

}  // namespace test_item_cold_start
