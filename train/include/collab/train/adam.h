// fastai's Adam with decoupled weight decay (optimizer.py's Adam with decouple_wd=True), which
// LibTorch lacks: torch::optim::Adam decays by L2 and fails to learn this task. Per step and
// parameter, with the scheduled lr and beta1:
//   p *= 1 - lr * wd                       (decayed parameters only)
//   m  = beta1 * m + (1 - beta1) * g
//   v  = beta2 * v + (1 - beta2) * g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)
// Updates are dense: rows absent from a batch still decay and move with their momentum.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "collab/train/adam_options.h"

namespace collab {

struct ParamGroup {
  std::vector<torch::Tensor> params;
  bool decay = true;
};

// fastai's split: Linear biases and all BatchNorm parameters are not decayed; everything else
// (embedding tables, the 1-wide bias embeddings, Linear weights) is.
std::vector<ParamGroup> fastai_param_groups(torch::nn::Module& model);

class FastaiAdam {
 public:
  // Per-parameter state, as fastai keeps it.
  struct State {
    torch::Tensor exp_avg;
    torch::Tensor exp_avg_sq;
    int64_t step = 0;
  };

  FastaiAdam(std::vector<ParamGroup> groups, const AdamOptions& options);
  // Drops gradients (set to none), so the next backward writes them afresh.
  void zero_grad();
  void step(double lr, double beta1);

  const std::vector<ParamGroup>& groups() const { return groups_; }
  // State of parameter `index` in group order (groups()[0].params first).
  std::vector<State>& states() { return states_; }
  const AdamOptions& options() const { return options_; }
  // The state and the decay flag of `param`, which must be one of the optimizer's parameters.
  State& state_of(const torch::Tensor& param);
  bool decays(const torch::Tensor& param) const;

 private:
  std::vector<ParamGroup> groups_;
  std::vector<State> states_;
  AdamOptions options_;
};

}  // namespace collab
