// Kernel-level timing of one training step of DotProductBias at MovieLens 100k's size
// (943 users, 1682 items, 50 factors): the fused CPU step against the autograd reference
// (forward, MSE, backward, FastaiAdam); and the fused step at the size of gen_synth.py's 20M-rating
// set (150000 users, 50000 items, 32 factors), whose time per step times the steps of an epoch
// estimates the exact path's epoch there. Run: build/bench/bench_train_step
#include <benchmark/benchmark.h>

#include <torch/torch.h>

#include "collab/models/dot_product_bias.h"
#include "collab/train/adam.h"
#include "collab/train/fused_dot.h"
#include "collab/train/trainer.h"

namespace collab {
namespace {

struct Setup {
  CollabModel model;
  FastaiAdam optimizer;
  std::vector<Batch> batches;

  explicit Setup(int64_t batch_size, int64_t users = 943, int64_t items = 1682,
                 int64_t factors = 50)
      : model(make_model(users, items, factors)),
        optimizer(fastai_param_groups(*model), AdamOptions{0.99, 1e-5, 0.1}) {
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
    benchmark::DoNotOptimize(fused->step(s.batches[b++ % s.batches.size()], 1e-3, 0.9));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// The exact recipe's step on gen_synth.py's tables: the dense Adam pass covers 6.4M parameters.
void BM_FusedStepSynthSize(benchmark::State& state) {
  configure(state);
  Setup s(state.range(0), 150000, 50000, 32);
  auto fused = FusedDotStep::create(*s.model, s.optimizer, state.range(0));
  size_t b = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(fused->step(s.batches[b++ % s.batches.size()], 1e-3, 0.9));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_AutogradStep(benchmark::State& state) {
  configure(state);
  Setup s(state.range(0));
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

// Arguments: batch size, threads.
BENCHMARK(BM_FusedStep)->ArgsProduct({{64, 1024}, {1, 2}})->UseRealTime();
BENCHMARK(BM_AutogradStep)->ArgsProduct({{64, 1024}, {1, 2}})->UseRealTime();
BENCHMARK(BM_FusedStepSynthSize)->ArgsProduct({{64, 1024}, {2}})->UseRealTime();

}  // namespace
}  // namespace collab

BENCHMARK_MAIN();
