// Data parallelism in one process: the torchrun environment is read strictly, the bucketed
// collectives sum and broadcast across two ranks (two threads on loopback Gloo), and two ranks
// training on halves of each global batch keep bit-identical parameters that match one process
// training on the whole batch.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/common/error.h"
#include "collab/models/registry.h"
#include "collab/train/distributed.h"
#include "collab/train/sparse_train.h"
#include "collab/train/trainer.h"
#include "test_support.h"

namespace test_distributed {

using collab::Collective;
using collab::DistributedConfig;
using collab::DistributedEnv;
using namespace collab::test;  // the shared helpers: test_support.h

namespace {

const std::map<std::string, std::optional<std::string>> kRank1Of2 = {
    {"WORLD_SIZE", "2"},      {"RANK", "1"},
    {"LOCAL_RANK", "1"},      {"MASTER_ADDR", "10.0.0.7"},
    {"MASTER_PORT", "29511"}, {"LOCAL_WORLD_SIZE", "2"}};

std::string env_error(std::map<std::string, std::optional<std::string>> values) {
  ScopedEnv env(values);
  try {
    collab::distributed_env_from_environment();
  } catch (const collab::Error& e) {
    return e.what();
  }
  return "";
}

// Runs `body(collective)` on `world` ranks, one thread each, joined through a loopback TCPStore.
void on_ranks(int world, const std::function<void(Collective&)>& body, int64_t timeout_s = 20) {
  const int port = free_port();
  DistributedConfig config;
  config.timeout_s = timeout_s;
  std::vector<std::string> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        DistributedEnv env;
        env.master_addr = "127.0.0.1";
        env.port = port;
        env.world_size = world;
        env.rank = rank;
        auto collective = Collective::connect(env, config, torch::kCPU);
        // Every rank's pairs are up before any body runs: a body that throws at once would
        // otherwise close rank 0's group while another rank is still connecting to it.
        std::vector<torch::Tensor> barrier = {torch::zeros({1})};
        collective->allreduce_sum(barrier);
        body(*collective);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(rank)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int rank = 0; rank < world; ++rank) EXPECT_EQ(errors[static_cast<size_t>(rank)], "") << rank;
}

void on_two_ranks(const std::function<void(Collective&)>& body, int64_t timeout_s = 20) {
  on_ranks(2, body, timeout_s);
}

}  // namespace

TEST(DistributedEnv, PlainRunWithoutWorldSizeOrWithOne) {
  {
    ScopedEnv env({{"WORLD_SIZE", std::nullopt}, {"RANK", "3"}});
    EXPECT_FALSE(collab::distributed_env_from_environment().has_value());
  }
  ScopedEnv env({{"WORLD_SIZE", "1"}, {"RANK", "0"}});
  EXPECT_FALSE(collab::distributed_env_from_environment().has_value());
}

TEST(DistributedEnv, ReadsTorchrunVariables) {
  ScopedEnv env(kRank1Of2);
  const auto d = collab::distributed_env_from_environment();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->world_size, 2);
  EXPECT_EQ(d->rank, 1);
  EXPECT_EQ(d->local_rank, 1);
  EXPECT_EQ(d->local_world_size, 2);
  EXPECT_EQ(d->master_addr, "10.0.0.7");
  EXPECT_EQ(d->port, 29511);
}

TEST(DistributedEnv, NamesTheMissingOrMalformedVariable) {
  auto without = [](const std::string& name) {
    auto values = kRank1Of2;
    values[name] = std::nullopt;
    return values;
  };
  EXPECT_NE(env_error(without("RANK")).find("RANK is missing"), std::string::npos);
  EXPECT_NE(env_error(without("MASTER_ADDR")).find("MASTER_ADDR is missing"), std::string::npos);
  EXPECT_NE(env_error(without("MASTER_PORT")).find("MASTER_PORT is missing"), std::string::npos);
  auto values = kRank1Of2;
  values["RANK"] = "2";  // ranks are 0 and 1
  EXPECT_NE(env_error(values).find("RANK=\"2\": expected an integer in [0, 1]"), std::string::npos);
  values = kRank1Of2;
  values["MASTER_PORT"] = "80x";
  EXPECT_NE(env_error(values).find("MASTER_PORT=\"80x\""), std::string::npos);
}

TEST(DistributedConfig, ReadsBackendAndTimeoutStrictly) {
  collab::json section = {{"distributed", {{"backend", "nccl"}, {"timeout_s", 7}}}};
  collab::ConfigReader reader(section, "train", nullptr);
  const collab::TrainConfig c = collab::read_train_config(reader);
  EXPECT_EQ(c.distributed.backend, "nccl");
  EXPECT_EQ(c.distributed.timeout_s, 7);

  auto error_of = [](const collab::json& distributed) {
    collab::json s = {{"distributed", distributed}};
    collab::ConfigReader r(s, "train", nullptr);
    try {
      collab::read_train_config(r);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of({{"backend", "mpi"}}).find("train.distributed.backend"), std::string::npos);
  EXPECT_NE(error_of({{"timeout_s", 0}}).find("train.distributed.timeout_s"), std::string::npos);
  EXPECT_NE(error_of({{"port", 1}}).find("train.distributed.port"), std::string::npos);
}

TEST(Collective, BackendMustFitTheDevice) {
  DistributedEnv env;
  env.master_addr = "127.0.0.1";
  env.world_size = 2;
  DistributedConfig nccl;
  nccl.backend = "nccl";
  try {
    Collective::connect(env, nccl, torch::kCPU);
    ADD_FAILURE() << "nccl on the CPU was accepted";
  } catch (const collab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs train.device on CUDA"), std::string::npos)
        << e.what();
  }
}

TEST(Collective, BucketedAllreduceSumsAndBroadcastCopiesRankZero) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  on_two_ranks([](Collective& c) {
    const float r = static_cast<float>(c.rank());
    // Three float tensors and a double one, with 64-byte buckets: several buffers and a dtype
    // change, each tensor back in its own shape.
    std::vector<torch::Tensor> t = {
        torch::full({3, 2}, r + 1), torch::arange(5).to(torch::kFloat) * (r + 1),
        torch::full({20}, 10 * r), torch::full({2}, r + 0.5, torch::kDouble)};
    c.allreduce_sum(t, /*bucket_bytes=*/64);
    EXPECT_TRUE(torch::equal(t[0], torch::full({3, 2}, 3.0f)));
    EXPECT_TRUE(torch::equal(t[1], torch::arange(5).to(torch::kFloat) * 3));
    EXPECT_TRUE(torch::equal(t[2], torch::full({20}, 10.0f)));
    EXPECT_TRUE(torch::equal(t[3], torch::full({2}, 2.0, torch::kDouble)));

    std::vector<torch::Tensor> b = {torch::full({4}, r), torch::full({2, 2}, r * 7)};
    c.broadcast(b, 0);
    EXPECT_TRUE(torch::equal(b[0], torch::zeros({4})));
    EXPECT_TRUE(torch::equal(b[1], torch::zeros({2, 2})));
  });
}

namespace {

// 2000 ratings of 60 users and 80 items from a fixed generator; 1600 train, 400 valid.
collab::Dataset synthetic_dataset() {
  collab::Dataset d;
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    const int64_t u = d.users.add("u" + std::to_string(rng() % 60));
    const int64_t it = d.items.add("i" + std::to_string(rng() % 80));
    (i % 5 ? d.train : d.valid).push_back(u, it, static_cast<float>(1 + rng() % 5), 0);
  }
  return d;
}

collab::TrainConfig train_config() {
  collab::TrainConfig config;
  config.epochs = 3;
  config.batch_size = 33;  // odd: the ranks' slices are 16 and 17 ratings
  config.fused = false;
  config.one_cycle.lr_max = 1e-2;
  return config;
}

collab::CollabModel make_model(const collab::Dataset& d, uint64_t seed) {
  torch::manual_seed(seed);
  collab::json section = {{"arch", "DotProductBias"}, {"n_factors", 8}, {"y_range", {0, 5.5}}};
  collab::ConfigReader reader(section, "model", nullptr);
  return collab::build_model(reader, {d.users.size(), d.items.size()});
}

}  // namespace

TEST(DistributedTrainer, RanksStayIdenticalAndMatchOneProcess) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  torch::set_num_threads(1);
  const collab::Dataset data = synthetic_dataset();

  collab::CollabModel alone = make_model(data, 5);
  collab::Trainer single(alone, data, train_config(), torch::kCPU);
  const auto single_history = single.fit();

  // Rank 1 starts from other weights: fit() must broadcast rank 0's.
  std::vector<collab::CollabModel> models = {make_model(data, 5), make_model(data, 99)};
  std::vector<std::vector<collab::EpochMetrics>> histories(2);
  on_two_ranks([&](Collective& c) {
    collab::Trainer trainer(models[static_cast<size_t>(c.rank())], data, train_config(),
                            torch::kCPU);
    trainer.set_collective(&c);
    histories[static_cast<size_t>(c.rank())] = trainer.fit();
  });
  ASSERT_EQ(histories[0].size(), 3u);

  const auto p0 = models[0]->named_parameters(), p1 = models[1]->named_parameters();
  const auto pa = alone->named_parameters();
  for (const auto& item : p0) {
    // The same reduced gradients and the same optimizer arithmetic on every rank.
    EXPECT_TRUE(torch::equal(item.value(), *p1.find(item.key()))) << item.key();
    // One process sums the same gradients in another order: float rounding only.
    EXPECT_TRUE(torch::allclose(item.value(), *pa.find(item.key()), 1e-3, 1e-4)) << item.key();
  }
  for (size_t e = 0; e < 3; ++e) {
    // The logged loss is the global batch's (rank shares summed), as one process reports it.
    EXPECT_NEAR(histories[0][e].train_loss, single_history[e].train_loss, 1e-4);
    EXPECT_NEAR(histories[1][e].train_loss, single_history[e].train_loss, 1e-4);
    EXPECT_NEAR(histories[0][e].valid.mse, single_history[e].valid.mse, 1e-4);
  }
  EXPECT_EQ(histories[1][2].valid.mse, 0.0) << "only rank 0 evaluates";
}

TEST(DistributedTrainer, FusedRanksSumTouchedRowsOnlyAndMatchOneProcess) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  torch::set_num_threads(1);
  const collab::Dataset data = synthetic_dataset();
  collab::TrainConfig config = train_config();
  config.fused = true;

  collab::CollabModel alone = make_model(data, 5);
  collab::Trainer single(alone, data, config, torch::kCPU);
  const auto single_history = single.fit();

  std::vector<collab::CollabModel> models = {make_model(data, 5), make_model(data, 99)};
  std::vector<std::vector<collab::EpochMetrics>> histories(2);
  std::vector<int64_t> bytes(2);
  on_two_ranks([&](Collective& c) {
    collab::Trainer trainer(models[static_cast<size_t>(c.rank())], data, config, torch::kCPU);
    trainer.set_collective(&c);
    histories[static_cast<size_t>(c.rank())] = trainer.fit();
    bytes[static_cast<size_t>(c.rank())] = c.bytes_sent();
  });
  const auto p0 = models[0]->named_parameters(), p1 = models[1]->named_parameters();
  const auto pa = alone->named_parameters();
  int64_t parameters = 0;
  for (const auto& item : p0) {
    EXPECT_TRUE(torch::equal(item.value(), *p1.find(item.key()))) << item.key();
    // The same fused arithmetic as one process; the gradient rows are summed in another order.
    EXPECT_TRUE(torch::allclose(item.value(), *pa.find(item.key()), 1e-3, 1e-4)) << item.key();
    parameters += item.value().numel();
  }
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_NEAR(histories[0][e].train_loss, single_history[e].train_loss, 1e-4);
    EXPECT_NEAR(histories[0][e].valid.mse, single_history[e].valid.mse, 1e-4);
  }
  // A batch of 33 ratings touches at most 33 user and 33 item rows of (8 + 1) floats: the
  // reduction of every gradient would send all parameters each step.
  const int64_t steps = 3 * single.steps_per_epoch();
  const int64_t touched_bound = steps * (2 * 33 * 9 + 2) * 4;
  EXPECT_LE(bytes[0], touched_bound + steps * 64) << "parameters " << parameters;
  EXPECT_LT(bytes[0], steps * parameters * 4 / 2);
}

TEST(DistributedTrainer, RefusesAGlobalBatchSmallerThanTheRanks) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  const collab::Dataset data = synthetic_dataset();
  on_two_ranks([&](Collective& c) {
    collab::TrainConfig config = train_config();
    config.batch_size = 1;
    collab::Trainer trainer(make_model(data, 5), data, config, torch::kCPU);
    trainer.set_collective(&c);
    try {
      trainer.fit();
      ADD_FAILURE() << "batch_size 1 on 2 ranks was accepted";
    } catch (const collab::Error& e) {
      EXPECT_NE(std::string(e.what()).find("train.batch_size 1 is smaller than the 2 ranks"),
                std::string::npos)
          << e.what();
    }
  });
}


namespace {

collab::TrainConfig sparse_config(const std::string& optimizer, int64_t blocks) {
  collab::TrainConfig config;
  config.optimizer = optimizer;
  config.blocks = blocks;
  config.threads = 1;
  config.epochs = 3;
  config.batch_size = 4;  // sparse_adam's mini-batches
  config.one_cycle.lr_max = optimizer == "sgd" ? 0.05 : 0.01;
  config.adam.weight_decay = 0.1;
  return config;
}

// The state a stop request after `stop_after` rounds checkpoints (the first one only), and the
// model's parameters at the end; nullptr collective for one process.
struct SparseOutcome {
  std::vector<std::pair<std::string, torch::Tensor>> stopped_state, final_parameters;
  std::vector<collab::EpochMetrics> history;
  int64_t bytes_sent = 0;
};

SparseOutcome train_sparse(collab::CollabModel model, const collab::Dataset& data,
                           const collab::TrainConfig& config, Collective* collective,
                           int64_t stop_after) {
  collab::SparseTrainer trainer(*model, data.train, data.valid, config);
  if (collective) trainer.set_collective(collective);
  SparseOutcome out;
  collab::FitHooks hooks;
  int64_t asked = 0;
  // Only rank 1 (or the lone process) asks: the vote must stop every rank at the same round.
  const bool asks = collective == nullptr || collective->rank() == 1;
  hooks.stop_requested = [&] { return asks && ++asked == stop_after; };
  hooks.on_checkpoint = [&](const collab::TrainerState& s) {
    if (out.stopped_state.empty()) out.stopped_state = s.parameters;
    for (auto& [name, value] : out.stopped_state) value = value.clone();
  };
  trainer.fit(hooks);  // stops after stop_after rounds, with a checkpoint
  EXPECT_TRUE(trainer.stopped());
  out.history = trainer.fit(collab::FitHooks{});  // and goes on to the end
  for (const auto& p : model->named_parameters()) {
    out.final_parameters.emplace_back(p.key(), p.value().detach().clone());
  }
  if (collective) out.bytes_sent = collective->bytes_sent();
  return out;
}

void expect_bit_identical(const std::vector<std::pair<std::string, torch::Tensor>>& a,
                          const std::vector<std::pair<std::string, torch::Tensor>>& b,
                          const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].first, b[k].first) << what;
    EXPECT_TRUE(torch::equal(a[k].second, b[k].second)) << what << ": " << a[k].first;
  }
}

void expect_ranks_match_one_process(int world, const std::string& optimizer, int64_t blocks) {
  const collab::Dataset data = synthetic_dataset();
  const collab::TrainConfig config = sparse_config(optimizer, blocks);
  // A stop in the middle of the second pass: its checkpoint assembles the tables mid-rotation.
  const int64_t stop_after = blocks + blocks / 2;
  const SparseOutcome alone = train_sparse(make_model(data, 5), data, config, nullptr, stop_after);
  // Made here, one after the other (torch's generator is global); the other ranks start from
  // other weights: set_collective must give them rank 0's.
  std::vector<collab::CollabModel> models;
  for (int r = 0; r < world; ++r) models.push_back(make_model(data, r == 0 ? 5 : 99 + r));
  std::vector<SparseOutcome> ranks(static_cast<size_t>(world));
  on_ranks(world, [&](Collective& c) {
    const auto r = static_cast<size_t>(c.rank());
    ranks[r] = train_sparse(models[r], data, config, &c, stop_after);
  });
  for (int r = 0; r < world; ++r) {
    const SparseOutcome& rank = ranks[static_cast<size_t>(r)];
    const std::string where = optimizer + ", rank " + std::to_string(r) + " of " +
                              std::to_string(world);
    // The same arithmetic on the same blocks in the same order: equal bit for bit.
    expect_bit_identical(rank.stopped_state, alone.stopped_state, where + ", stopped mid-pass");
    expect_bit_identical(rank.final_parameters, alone.final_parameters, where + ", at the end");
    EXPECT_GT(rank.bytes_sent, 0) << where;
  }
  ASSERT_EQ(ranks[0].history.size(), alone.history.size());
  for (size_t e = 0; e < alone.history.size(); ++e) {
    EXPECT_EQ(ranks[0].history[e].train_loss, alone.history[e].train_loss) << e;
    EXPECT_EQ(ranks[0].history[e].valid.mse, alone.history[e].valid.mse) << e;
  }
}

}  // namespace

TEST(DistributedSparse, TwoRanksOfSgdEqualOneProcessBitForBit) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  expect_ranks_match_one_process(2, "sgd", 4);
}

TEST(DistributedSparse, FourRanksOfLazyAdamEqualOneProcessBitForBit) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  expect_ranks_match_one_process(4, "sparse_adam", 8);
}

TEST(DistributedSparse, RefusesAGridThatTheRanksDoNotDivide) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  const collab::Dataset data = synthetic_dataset();
  on_two_ranks([&](Collective& c) {
    collab::CollabModel model = make_model(data, 5);
    collab::SparseTrainer trainer(*model, data.train, data.valid, sparse_config("sgd", 5));
    expect_one_line_error_thrown([&] { trainer.set_collective(&c); },
                                 {"train.blocks 5", "multiple of the 2 ranks"});
  });
}

}  // namespace test_distributed
