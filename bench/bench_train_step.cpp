// Kernel-level timing of one training step of DotProductBias at MovieLens 100k's size
// (943 users, 1682 items, 50 factors): the fused CPU step against the autograd reference
// (forward, MSE, backward, FastaiAdam); and the fused step at the size of gen_synth.py's 20M-rating
// set (150000 users, 50000 items, 32 factors), whose time per step times the steps of an epoch
// estimates the exact path's epoch there. And one step of CollabNN at MovieLens 100k's size
// (embeddings of 74 and 102 by fastai's rule, one hidden layer of 100, configs/collab_nn.json):
// the fused step (train/fused_nn.h) against autograd. Run: build/bench/bench_train_step
#include <benchmark/benchmark.h>

#include <torch/torch.h>

#include "collab/models/collab_nn.h"
#include "collab/models/dot_product_bias.h"
#include "collab/train/adam.h"
#include "collab/train/fused_dot.h"
#include "collab/train/fused_nn.h"
#include "collab/train/trainer.h"

namespace collab {
namespace {

struct Setup {
  CollabModel model;
  FastaiAdam optimizer;
  std::vector<Batch> batches;

  explicit Setup(int64_t batch_size, int64_t users = 943, int64_t items = 1682,
                 int64_t factors = 50)
      : Setup(batch_size, users, items, make_model(users, items, factors), 0.1) {}
  Setup(int64_t batch_size, int64_t users, int64_t items, CollabModel m, double weight_decay)
      : model(std::move(m)),
        optimizer(fastai_param_groups(*model), AdamOptions{0.99, 1e-5, weight_decay}) {
    for (int b = 0; b < 64; ++b) {
      batches.push_back({torch::stack({torch::randint(users, {batch_size}, torch::kLong),
                                       torch::randint(items, {batch_size}, torch::kLong)},
                                      1),
                         torch::randint(1, 6, {batch_size}, torch::kFloat)});
    }
  }
  static CollabModel make_model(int64_t users, int64_t items, int64_t factors) {
    DotProductBiasOptions o;
    o.shape = {users, items};
    o.n_factors = factors;
    o.y_range = YRange{0, 5.5};
    return DotProductBias(o).ptr();
  }
  // configs/collab_nn.json's model and weight decay.
  static Setup collab_nn(int64_t batch_size) {
    CollabNNOptions o;
    o.shape = {943, 1682};
    o.layers = {100};
    o.y_range = YRange{0, 5.5};
    return Setup(batch_size, 943, 1682, CollabNN(o).ptr(), 0.01);
  }
};

void configure(benchmark::State& state) {
  torch::set_num_threads(static_cast<int>(state.range(1)));
  flush_denormals_on_all_threads();
}

void BM_FusedStep(benchmark::State& state) {
  configure(state);
  Setup s(state.range(0));
  auto fused = FusedDotStep::create(*s.model, s.optimizer, state.range(0));
  size_t b = 0;
  for (auto _ : state) {
    // As Trainer does: the step is told of the batch after it.
    fused->prepare(s.batches[(b + 1) % s.batches.size()]);
    benchmark::DoNotOptimize(fused->step(s.batches[b++ % s.batches.size()], 1e-3, 0.9));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// The exact recipe's step on gen_synth.py's tables (6.4M parameters).
void BM_FusedStepSynthSize(benchmark::State& state) {
  configure(state);
  Setup s(state.range(0), 150000, 50000, 32);
  auto fused = FusedDotStep::create(*s.model, s.optimizer, state.range(0));
  size_t b = 0;
  for (auto _ : state) {
    // As Trainer does: the step is told of the batch after it.
    fused->prepare(s.batches[(b + 1) % s.batches.size()]);
    benchmark::DoNotOptimize(fused->step(s.batches[b++ % s.batches.size()], 1e-3, 0.9));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void autograd_steps(benchmark::State& state, Setup& s) {
  size_t b = 0;
  for (auto _ : state) {
    const Batch& batch = s.batches[b++ % s.batches.size()];
    const torch::Tensor loss = torch::mse_loss(s.model->forward(batch.x), batch.y);
    s.optimizer.zero_grad();
    loss.backward();
    s.optimizer.step(1e-3, 0.9);
    benchmark::DoNotOptimize(loss.item<double>());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_AutogradStep(benchmark::State& state) {
  configure(state);
  Setup s(state.range(0));
  autograd_steps(state, s);
}

void BM_FusedNNStep(benchmark::State& state) {
  configure(state);
  Setup s = Setup::collab_nn(state.range(0));
  auto fused = FusedNNStep::create(*s.model, s.optimizer, state.range(0));
  size_t b = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(fused->step(s.batches[b++ % s.batches.size()], 5e-3, 0.9));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_AutogradNNStep(benchmark::State& state) {
  configure(state);
  Setup s = Setup::collab_nn(state.range(0));
  autograd_steps(state, s);
}

// Arguments: batch size, threads.
BENCHMARK(BM_FusedStep)->ArgsProduct({{64, 1024}, {1, 2}})->UseRealTime();
BENCHMARK(BM_AutogradStep)->ArgsProduct({{64, 1024}, {1, 2}})->UseRealTime();
BENCHMARK(BM_FusedNNStep)->ArgsProduct({{64, 1024}, {1, 2}})->UseRealTime();
BENCHMARK(BM_AutogradNNStep)->ArgsProduct({{64, 1024}, {1, 2}})->UseRealTime();
BENCHMARK(BM_FusedStepSynthSize)->ArgsProduct({{64, 1024}, {2}})->UseRealTime();

}  // namespace
}  // namespace collab

BENCHMARK_MAIN();
