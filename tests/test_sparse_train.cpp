// The sparse fast path (train/sparse_train.h): the block grid and its schedule, the SGD and
// lazy-Adam updates against hand-computed and dense-Adam references, thread-count independence,
// and the config errors a user can hit.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include <torch/torch.h>

#include "collab/common/error.h"
#include "collab/models/collab_nn.h"
#include "collab/models/dot_product.h"
#include "collab/models/dot_product_bias.h"
#include "collab/train/adam.h"
#include "collab/train/one_cycle.h"
#include "collab/train/sparse_train.h"
#include "collab/train/train_config.h"
#include "test_support.h"

namespace collab {
namespace test_sparse_train {

Ratings random_ratings(int64_t users, int64_t items, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Ratings r;
  for (int64_t k = 0; k < n; ++k) {
    r.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(users)),
                static_cast<int64_t>(rng() % static_cast<uint64_t>(items)),
                static_cast<float>(1 + rng() % 5), 0);
  }
  return r;
}

CollabModel make_bias_model(int64_t users, int64_t items, int64_t factors,
                            std::optional<YRange> y_range, uint64_t seed) {
  torch::manual_seed(seed);
  DotProductBiasOptions o;
  o.shape = {users, items};
  o.n_factors = factors;
  o.y_range = y_range;
  return DotProductBias(o).ptr();
}

TrainConfig sparse_config(const std::string& optimizer) {
  TrainConfig c;
  c.optimizer = optimizer;
  c.threads = 1;
  c.epochs = 1;
  return c;
}

using Triple = std::tuple<int32_t, int32_t, float>;

std::multiset<Triple> triples(const Ratings& r) {
  std::multiset<Triple> out;
  for (size_t k = 0; k < r.size(); ++k) out.emplace(r.users[k], r.items[k], r.ratings[k]);
  return out;
}

TEST(BlockGrid, CoversEveryRatingExactlyOnceInItsBlock) {
  Ratings r = random_ratings(97, 61, 3000, 1);
  const auto before = triples(r);
  const BlockGrid grid = partition_into_blocks(r, 97, 61, 5, 42);
  EXPECT_EQ(triples(r), before);  // a permutation: nothing lost, nothing repeated
  ASSERT_EQ(grid.offsets.size(), 26u);
  EXPECT_EQ(grid.offsets.front(), 0);
  EXPECT_EQ(grid.offsets.back(), 3000);
  for (int64_t a = 0; a < 5; ++a) {
    for (int64_t b = 0; b < 5; ++b) {
      for (int64_t k = grid.begin(a, b); k < grid.end(a, b); ++k) {
        EXPECT_EQ(grid.user_range[static_cast<size_t>(r.users[static_cast<size_t>(k)])], a);
        EXPECT_EQ(grid.item_range[static_cast<size_t>(r.items[static_cast<size_t>(k)])], b);
      }
    }
  }
  // Ranges are contiguous runs of rows, in order.
  EXPECT_TRUE(std::is_sorted(grid.user_range.begin(), grid.user_range.end()));
  EXPECT_TRUE(std::is_sorted(grid.item_range.begin(), grid.item_range.end()));
}

TEST(BlockGrid, ConcurrentBlocksShareNoRowAndRoundsCoverEveryBlockOnce) {
  Ratings r = random_ratings(80, 50, 4000, 2);
  const int64_t B = 4;
  const BlockGrid grid = partition_into_blocks(r, 80, 50, B, 7);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t round = 0; round < B; ++round) {
    std::set<int32_t> users, items;  // rows touched by earlier blocks of this round
    for (const auto& [a, b] : blocks_of_round(B, round)) {
      EXPECT_TRUE(seen.emplace(a, b).second) << "block scheduled twice";
      std::set<int32_t> block_users, block_items;
      for (int64_t k = grid.begin(a, b); k < grid.end(a, b); ++k) {
        block_users.insert(r.users[static_cast<size_t>(k)]);
        block_items.insert(r.items[static_cast<size_t>(k)]);
      }
      for (const int32_t u : block_users) EXPECT_EQ(users.count(u), 0u) << "round " << round;
      for (const int32_t i : block_items) EXPECT_EQ(items.count(i), 0u) << "round " << round;
      users.insert(block_users.begin(), block_users.end());
      items.insert(block_items.begin(), block_items.end());
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(B * B));
}

TEST(BlockGrid, BalancedRangesSplitRatingsEvenly) {
  const std::vector<int64_t> counts(100, 3);
  const auto ranges = balanced_ranges(counts, 4);
  std::map<int, int> sizes;
  for (const auto r : ranges) ++sizes[r];
  ASSERT_EQ(sizes.size(), 4u);
  for (const auto& [range, size] : sizes) EXPECT_EQ(size, 25) << "range " << range;
  EXPECT_EQ(default_blocks(1), 4);
  EXPECT_EQ(default_blocks(2), 4);
  EXPECT_EQ(default_blocks(3), 6);
  EXPECT_EQ(default_blocks(8), 8);
}

// One rating, one step, computed by hand (gradient of e^2/2, per-row L2 as decay).
TEST(SparseSgd, OneRatingStepMatchesHandComputation) {
  CollabModel model = make_bias_model(1, 1, 2, std::nullopt, 0);
  auto* m = dynamic_cast<DotProductBiasImpl*>(model.get());
  {
    torch::NoGradGuard no_grad;
    m->user_factors->weight.copy_(torch::tensor({{0.1f, 0.2f}}));
    m->item_factors->weight.copy_(torch::tensor({{0.3f, -0.1f}}));
    m->user_bias->weight.fill_(0.5f);
    m->item_bias->weight.fill_(-0.2f);
  }
  Ratings train;
  train.push_back(0, 0, 3.0f, 0);
  TrainConfig c = sparse_config("sgd");
  c.lr_schedule = "constant";
  c.one_cycle.lr_max = 0.1;
  c.adam.weight_decay = 0.05;
  c.blocks = 1;
  SparseTrainer trainer(*model, train, train, c);
  const EpochMetrics e = *trainer.run_epoch();
  // pred = 0.1*0.3 - 0.2*0.1 + 0.5 - 0.2 = 0.31, e = -2.69, lr*e = -0.269, decay 0.995.
  EXPECT_NEAR(e.train_loss, 2.69 * 2.69, 1e-5);
  const auto U = m->user_factors->weight, I = m->item_factors->weight;
  EXPECT_NEAR(U[0][0].item<double>(), 0.1 * 0.995 + 0.269 * 0.3, 1e-6);
  EXPECT_NEAR(U[0][1].item<double>(), 0.2 * 0.995 - 0.269 * 0.1, 1e-6);
  EXPECT_NEAR(I[0][0].item<double>(), 0.3 * 0.995 + 0.269 * 0.1, 1e-6);
  EXPECT_NEAR(I[0][1].item<double>(), -0.1 * 0.995 + 0.269 * 0.2, 1e-6);
  EXPECT_NEAR(m->user_bias->weight.item<double>(), 0.5 * 0.995 + 0.269, 1e-6);
  EXPECT_NEAR(m->item_bias->weight.item<double>(), -0.2 * 0.995 + 0.269, 1e-6);
}

// With one block and a batch holding every rating of a full user x item grid, every row is
// touched at every step, so each row's own step count is the global one and lazy Adam must be
// fastai's dense Adam (the exact recipe) step for step.
TEST(SparseAdam, EqualsDenseAdamWhenEveryRowIsTouchedEachStep) {
  const int64_t users = 3, items = 4, epochs = 8;
  Ratings all;
  std::vector<int64_t> x;
  std::vector<float> y;
  for (int64_t u = 0; u < users; ++u) {
    for (int64_t i = 0; i < items; ++i) {
      const float rating = static_cast<float>(1 + (u * 7 + i * 3) % 5);
      all.push_back(u, i, rating, 0);
      x.insert(x.end(), {u, i});
      y.push_back(rating);
    }
  }
  const std::optional<YRange> y_range = YRange{0, 5.5};
  CollabModel dense = make_bias_model(users, items, 5, y_range, 3);
  CollabModel lazy = make_bias_model(users, items, 5, y_range, 3);

  TrainConfig c = sparse_config("sparse_adam");
  c.epochs = epochs;
  c.blocks = 1;
  c.batch_size = users * items;
  c.one_cycle.lr_max = 5e-2;
  c.adam.weight_decay = 0.1;
  SparseTrainer trainer(*lazy, all, all, c);

  FastaiAdam adam(fastai_param_groups(*dense), c.adam);
  OneCycle schedule(c.one_cycle, epochs);
  const torch::Tensor bx = torch::tensor(x).view({-1, 2});
  const torch::Tensor by = torch::tensor(y);
  for (int64_t t = 0; t < epochs; ++t) {
    const torch::Tensor loss = torch::mse_loss(dense->forward(bx), by);
    adam.zero_grad();
    loss.backward();
    adam.step(schedule.lr(t), schedule.beta1(t));
    const EpochMetrics e = *trainer.run_epoch();
    EXPECT_NEAR(e.train_loss, loss.item<double>(), 1e-5 * loss.item<double>()) << "step " << t;
  }
  const auto a = dense->named_parameters(), b = lazy->named_parameters();
  for (const auto& item : a) {
    const torch::Tensor ref = item.value(), got = b[item.key()];
    const double scale = ref.abs().max().item<double>();
    EXPECT_LE((ref - got).abs().max().item<double>() / scale, 1e-5) << item.key();
  }
}

// The schedule is fixed by the grid, so threads change only who trains a block, not the result.
TEST(SparseTrainer, OneAndTwoThreadsGiveIdenticalParameters) {
  for (const std::string optimizer : {"sgd", "sparse_adam"}) {
    std::vector<torch::Tensor> results;
    for (const int64_t threads : {1, 2}) {
      CollabModel model = make_bias_model(200, 150, 8, YRange{0, 5.5}, 5);
      const Ratings train = random_ratings(200, 150, 6000, 9);
      TrainConfig c = sparse_config(optimizer);
      c.threads = threads;
      c.epochs = 3;
      c.blocks = 4;
      c.batch_size = 32;
      c.one_cycle.lr_max = optimizer == "sgd" ? 0.05 : 5e-3;
      SparseTrainer trainer(*model, train, train, c);
      trainer.fit();
      std::vector<torch::Tensor> flat;
      for (const auto& p : model->parameters()) flat.push_back(p.detach().flatten());
      results.push_back(torch::cat(flat));
    }
    EXPECT_TRUE(torch::equal(results[0], results[1])) << optimizer;
  }
}

TEST(SparseTrainer, SgdLearnsAPlantedModel) {
  // Ratings from a planted rank-2 model: the sparse path must fit it far better than the mean.
  const int64_t users = 60, items = 40;
  std::mt19937_64 rng(4);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> P(users * 2), Q(items * 2);
  for (auto& v : P) v = normal(rng);
  for (auto& v : Q) v = normal(rng);
  Ratings train, valid;
  for (int64_t u = 0; u < users; ++u) {
    for (int64_t i = 0; i < items; ++i) {
      const float r = 3 + 0.7f * (P[u * 2] * Q[i * 2] + P[u * 2 + 1] * Q[i * 2 + 1]);
      ((u + i) % 5 == 0 ? valid : train).push_back(u, i, r, 0);
    }
  }
  CollabModel model = make_bias_model(users, items, 4, std::nullopt, 1);
  TrainConfig c = sparse_config("sgd");
  c.threads = 2;
  c.epochs = 60;
  c.one_cycle.lr_max = 0.05;
  c.adam.weight_decay = 0.01;
  SparseTrainer trainer(*model, train, valid, c);
  const auto history = trainer.fit();
  double var = 0;
  for (const float r : valid.ratings.to_vector()) var += (r - 3) * (r - 3);
  const double baseline = std::sqrt(var / static_cast<double>(valid.size()));
  EXPECT_LT(history.back().valid.rmse, 0.35 * baseline) << "baseline " << baseline;
}

TEST(SparseTrainer, OtherArchitecturesAreAConfigError) {
  torch::manual_seed(0);
  CollabNNOptions o;
  o.shape = {4, 4};
  CollabModel nn = CollabNN(o).ptr();
  Ratings r = random_ratings(4, 4, 10, 0);
  try {
    SparseTrainer trainer(*nn, r, r, sparse_config("sgd"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.optimizer \"sgd\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CollabNN"), std::string::npos) << e.what();
  }
}

TEST(SparseTrainer, BadOptimizerValuesNameTheKey) {
  for (const json& bad : {json("adamw"), json(3), json("SGD")}) {
    const json section = {{"optimizer", bad}};
    ConfigReader r(section, "train", nullptr);
    try {
      read_train_config(r);
      FAIL() << "expected an error for " << bad.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("train.optimizer"), std::string::npos) << e.what();
    }
  }
  for (const auto& [key, bad] :
       {std::pair{"lr_schedule", json("cosine")}, std::pair{"blocks", json(-1)}}) {
    const json section = {{key, bad}};
    ConfigReader r(section, "train", nullptr);
    EXPECT_THROW(read_train_config(r), Error) << key;
  }
}

// The command line: a sparse run trains, logs and saves a final checkpoint that predict reads;
// resuming it is refused; a bad optimizer or architecture is one line naming train.optimizer.
TEST(SparseTrainCli, TrainsSavesAndRefusesWhatItCannotDo) {
  const std::string dir = test::temp_dir();
  std::string train, valid;
  std::mt19937_64 rng(3);
  for (int k = 0; k < 400; ++k) {
    const std::string line = std::to_string(rng() % 30) + "\t" + std::to_string(rng() % 20) + "\t" +
                             std::to_string(1 + rng() % 5) + "\n";
    (k % 5 == 0 ? valid : train) += line;
  }
  test::write_text(dir + "/train.tsv", train);
  test::write_text(dir + "/valid.tsv", valid);
  test::write_text(dir + "/config.json", R"({
    "data": {"train": "train.tsv", "valid": "valid.tsv"},
    "model": {"arch": "DotProductBias", "n_factors": 4},
    "train": {"optimizer": "sgd", "epochs": 3, "lr_max": 0.05, "weight_decay": 0.1,
              "threads": 2}})");
  const std::string config = "'" + dir + "/config.json'";
  const auto r = test::run_collab("train " + config + " --run-dir '" + dir + "/run'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sgd, 4x4 blocks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rating_updates_per_s"), std::string::npos) << r.out;
  EXPECT_EQ(test::read_text(dir + "/run/metrics.jsonl").find("\"epoch\":2") == std::string::npos,
            false);
  test::write_text(dir + "/pairs.tsv", valid);
  const auto p = test::run_collab("predict '" + dir + "/run' --input '" + dir +
                                  "/pairs.tsv' --delimiter '\t'");
  EXPECT_EQ(p.exit_code, 0) << p.err;

  // A finished sparse run continues for more epochs from its last checkpoint.
  const auto resumed = test::run_collab("train " + config + " --run-dir '" + dir +
                                        "/run' --resume --set train.epochs=5");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(test::read_text(dir + "/run/metrics.jsonl").find("\"epoch\":4"), std::string::npos);

  const auto bad = test::run_collab("train " + config + " --set train.optimizer=adagrad");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("train.optimizer"), std::string::npos) << bad.err;
  test::write_text(dir + "/nn.json", R"({
    "data": {"train": "train.tsv", "valid": "valid.tsv"},
    "model": {"arch": "CollabNN"}, "train": {"optimizer": "sgd"}})");
  const auto nn = test::run_collab("train '" + dir + "/nn.json' --run-dir '" + dir + "/nn'");
  EXPECT_NE(nn.exit_code, 0);
  EXPECT_NE(nn.err.find("train.optimizer \"sgd\" trains DotProduct and DotProductBias only"),
            std::string::npos)
      << nn.err;
}

// Issue 6 P2's accuracy: the shipped SGD config on u1.base -> u1.test (LIBMF: 0.922).
TEST(SparseTrainCli, SgdConfigReachesLibmfAccuracyOnU1) {
  COLLAB_REQUIRE_SHARED_DATA();
  const std::string dir = test::temp_dir();
  const auto r = test::run_collab("train '" COLLAB_SOURCE_DIR
                                  "/configs/sgd_ml100k.json' --quiet --set train.threads=2 "
                                  "--run-dir '" +
                                      dir + "/run'",
                                  "COLLAB_DATA_DIR='" + test::shared_data_dir() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto at = r.out.find("valid_rmse ");
  ASSERT_NE(at, std::string::npos) << r.out;
  // Measured 0.917-0.919 across grid shuffles; the bound leaves room for float rounding only
  // where LIBMF's 0.922 still is beaten.
  EXPECT_LE(std::stod(r.out.substr(at + 11)), 0.921) << r.out;
}

}  // namespace test_sparse_train
}  // namespace collab
