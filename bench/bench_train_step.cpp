// Kernel-level timing of one training step of DotProductBias at MovieLens 100k's size
// (943 users, 1682 items, 50 factors): the fused CPU step against the autograd reference
// (forward, MSE, backward, FastaiAdam). Run: build/bench/bench_train_step
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

  explicit Setup(int64_t batch_size)
      : model(make_model()), optimizer(fastai_param_groups(*model), AdamOptions{0.99, 1e-5, 0.1}) {
    for (int b = 0; b < 64; ++b) {
      batches.push_back({torch::stack({torch::randint(943, {batch_size}, torch::kLong),
                                       torch::randint(1682, {batch_size}, torch::kLong)},
                                      1),
                         torch::randint(1, 6, {batch_size}, torch::kFloat)});
    }
  }
  static CollabModel make_model() {
    DotProductBiasOptions o;
    o.shape = {943, 1682};
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

}  // namespace
}  // namespace collab

BENCHMARK_MAIN();
