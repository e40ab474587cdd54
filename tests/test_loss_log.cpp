// Reading training losses back in groups (train/loss_log.h, train.sync_every) and where training
// data is placed on a GPU (train.data_placement): reading every 7th step must train and report
// exactly what reading every step does, and a loss that stops being finite is still reported at
// the step it happened.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/models/collab_nn.h"
#include "collab/models/dot_product_bias.h"
#include "collab/train/device.h"
#include "collab/train/loss_log.h"
#include "collab/train/trainer.h"

namespace collab {
namespace test_loss_log {

TEST(LossLog, ReadsDeviceLossesBackInOrder) {
  LossLog log(/*capacity=*/3, torch::kCPU);
  std::vector<double> out{42};
  log.add(torch::tensor(1.5f));
  log.add(torch::tensor({2.25f}));
  EXPECT_FALSE(log.full());
  log.add(torch::tensor(-0.125f));
  EXPECT_TRUE(log.full());
  log.take(out);
  EXPECT_EQ(out, (std::vector<double>{1.5, 2.25, -0.125}));
  EXPECT_EQ(log.size(), 0);
  log.add(torch::tensor(7.0f));
  log.take(out);
  EXPECT_EQ(out, std::vector<double>{7.0});
  log.take(out);
  EXPECT_TRUE(out.empty());
}

TEST(LossLog, HoldsHostLossesToo) {
  LossLog log(/*capacity=*/2, torch::kCPU);
  std::vector<double> out;
  log.add(0.5);
  log.add(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(log.full());
  log.take(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], 0.5);
  EXPECT_TRUE(std::isinf(out[1]));
}

TEST(DataPlacement, UploadsWhatFitsAndStagesTheRest) {
  const torch::Device gpu(torch::kCUDA, 0);
  EXPECT_EQ(training_data_device("auto", gpu, 80000 * 20), gpu);
  EXPECT_EQ(training_data_device("auto", gpu, kDeviceDataLimitBytes), gpu);
  EXPECT_EQ(training_data_device("auto", gpu, kDeviceDataLimitBytes + 1),
            torch::Device(torch::kCPU));
  EXPECT_EQ(training_data_device("staged", gpu, 1), torch::Device(torch::kCPU));
  EXPECT_EQ(training_data_device("device", gpu, 10 * kDeviceDataLimitBytes), gpu);
  // On the CPU there is nothing to stage.
  EXPECT_EQ(training_data_device("staged", torch::kCPU, 1), torch::Device(torch::kCPU));
  EXPECT_EQ(loss_sync_interval(0, torch::kCPU), 1);
  EXPECT_EQ(loss_sync_interval(0, gpu), 100);
  EXPECT_EQ(loss_sync_interval(7, gpu), 7);
}

// 30 users x 40 items, 400 ratings: 320 to train on, 80 to validate.
Dataset synthetic_dataset() {
  Dataset d;
  for (int u = 0; u < 30; ++u) d.users.add(std::to_string(u));
  for (int i = 0; i < 40; ++i) d.items.add(std::to_string(i));
  for (int k = 0; k < 400; ++k) {
    Ratings& part = k % 5 == 0 ? d.valid : d.train;
    part.users.push_back(k % 30);
    part.items.push_back((k * 13) % 40);
    part.ratings.push_back(static_cast<float>(1 + (k * 7) % 5));
  }
  return d;
}

CollabModel make_model(bool neural, std::optional<YRange> y_range) {
  torch::manual_seed(5);
  if (neural) {
    CollabNNOptions o;
    o.shape = {30, 40};
    o.user_embedding = 5;
    o.item_embedding = 6;
    o.layers = {8};
    return CollabNN(o).ptr();
  }
  DotProductBiasOptions o;
  o.shape = {30, 40};
  o.n_factors = 4;
  o.y_range = y_range;
  return DotProductBias(o).ptr();
}

std::vector<EpochMetrics> train(bool neural, int64_t sync_every, double lr_max = 1e-2,
                                std::optional<YRange> y_range = YRange{0, 5.5}) {
  TrainConfig config;
  config.epochs = 3;
  config.batch_size = 16;
  config.sync_every = sync_every;
  config.one_cycle.lr_max = lr_max;
  Trainer trainer(make_model(neural, y_range), synthetic_dataset(), config, torch::kCPU);
  return trainer.fit();
}

// Every loss is accounted for, in order, whatever the interval: the smoothed train loss (which
// depends on the order) and the epoch means are bit-identical. 20 steps an epoch: 7 does not
// divide it, so groups straddle epoch ends and are cut there.
TEST(LossSync, ReadingEverySeventhStepReportsWhatEveryStepDoes) {
  for (const bool neural : {false, true}) {
    const std::vector<EpochMetrics> every = train(neural, 1), seventh = train(neural, 7);
    ASSERT_EQ(every.size(), seventh.size());
    for (size_t e = 0; e < every.size(); ++e) {
      EXPECT_EQ(every[e].train_loss, seventh[e].train_loss)
          << "neural " << neural << " epoch " << e;
      EXPECT_EQ(every[e].train_loss_mean, seventh[e].train_loss_mean);
      EXPECT_EQ(every[e].valid.mse, seventh[e].valid.mse);
    }
  }
}

// lr_max 1e30 without a y_range: the first step's update makes the weights ~4e28, so the second
// step's predictions overflow float. Read back every 5 steps, the error still names step 2.
TEST(LossSync, ADivergedLossNamesItsStepWhenReadLater) {
  for (const bool neural : {false, true}) {
    try {
      train(neural, /*sync_every=*/5, /*lr_max=*/1e30, /*y_range=*/std::nullopt);
      ADD_FAILURE() << "training with lr_max 1e30 did not diverge (neural " << neural << ")";
    } catch (const Error& e) {
      const std::string message = e.what();
      // Overflow gives inf or, through inf - inf in the loss, NaN: either is the divergence.
      const bool named = message.find("the loss became inf at") != std::string::npos ||
                         message.find("the loss became NaN at") != std::string::npos;
      EXPECT_TRUE(named) << message;
      EXPECT_NE(message.find("training diverged: "), std::string::npos) << message;
      EXPECT_NE(message.find(" at epoch 0, step 2 "), std::string::npos) << message;
      EXPECT_NE(message.find("train.lr_max"), std::string::npos) << message;
    }
  }
}

// A small model trained by autograd on the CPU steps on one intra-op thread (the pool's wake-ups
// cost more than its ops); a train.threads the user set is kept, and so is the count after fit().
TEST(StepThreads, SmallAutogradModelsStepOnOneThread) {
  const int saved = at::get_num_threads();
  at::set_num_threads(2);
  for (const int64_t threads : {0, 2}) {
    TrainConfig config;
    config.epochs = 1;
    config.batch_size = 16;
    config.fused = false;  // the autograd path
    config.threads = threads;
    Trainer trainer(make_model(/*neural=*/false, YRange{0, 5.5}), synthetic_dataset(), config,
                    torch::kCPU);
    int during = -1;
    trainer.fit([&](const EpochMetrics&) { during = at::get_num_threads(); });
    EXPECT_EQ(during, threads == 0 ? 1 : 2) << "train.threads " << threads;
    EXPECT_EQ(at::get_num_threads(), 2);
  }
  at::set_num_threads(saved);
}

}  // namespace test_loss_log
}  // namespace collab
