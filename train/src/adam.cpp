#include "collab/train/adam.h"

#include <cmath>
#include <unordered_set>

namespace collab {

std::vector<ParamGroup> fastai_param_groups(torch::nn::Module& model) {
  std::unordered_set<const void*> no_decay;
  for (const auto& module : model.modules(/*include_self=*/true)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      if (linear->bias.defined()) no_decay.insert(linear->bias.unsafeGetTensorImpl());
    } else if (module->as<torch::nn::BatchNorm1d>()) {
      for (const auto& p : module->parameters(/*recurse=*/false)) {
        no_decay.insert(p.unsafeGetTensorImpl());
      }
    }
  }
  ParamGroup decayed{{}, true}, plain{{}, false};
  for (const auto& p : model.parameters()) {
    (no_decay.count(p.unsafeGetTensorImpl()) ? plain : decayed).params.push_back(p);
  }
  std::vector<ParamGroup> groups;
  if (!decayed.params.empty()) groups.push_back(std::move(decayed));
  if (!plain.params.empty()) groups.push_back(std::move(plain));
  return groups;
}

FastaiAdam::FastaiAdam(std::vector<ParamGroup> groups, const AdamOptions& options)
    : groups_(std::move(groups)), options_(options) {
  for (const auto& g : groups_) {
    for (const auto& p : g.params) {
      states_.push_back({torch::zeros_like(p), torch::zeros_like(p), 0});
    }
  }
}

FastaiAdam::State& FastaiAdam::state_of(const torch::Tensor& param) {
  size_t index = 0;
  for (const auto& g : groups_) {
    for (const auto& p : g.params) {
      if (p.is_same(param)) return states_[index];
      ++index;
    }
  }
  throw std::logic_error("FastaiAdam::state_of: not a parameter of this optimizer");
}

bool FastaiAdam::decays(const torch::Tensor& param) const {
  for (const auto& g : groups_) {
    for (const auto& p : g.params) {
      if (p.is_same(param)) return g.decay;
    }
  }
  throw std::logic_error("FastaiAdam::decays: not a parameter of this optimizer");
}

void FastaiAdam::zero_grad() {
  for (auto& g : groups_) {
    for (auto& p : g.params) p.mutable_grad().reset();
  }
}

void FastaiAdam::step(double lr, double beta1) {
  torch::NoGradGuard no_grad;
  const double beta2 = options_.beta2;
  size_t index = 0;
  for (auto& g : groups_) {
    for (auto& p : g.params) {
      State& s = states_[index++];
      const torch::Tensor& grad = p.grad();
      if (!grad.defined()) continue;  // as fastai: parameters without a gradient are skipped
      ++s.step;
      if (g.decay && options_.weight_decay != 0) p.mul_(1.0 - lr * options_.weight_decay);
      s.exp_avg.mul_(beta1).add_(grad, 1.0 - beta1);
      s.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
      const double debias1 = 1.0 - std::pow(beta1, static_cast<double>(s.step));
      const double debias2 = 1.0 - std::pow(beta2, static_cast<double>(s.step));
      const torch::Tensor denom = (s.exp_avg_sq / debias2).sqrt_().add_(options_.eps);
      p.addcdiv_(s.exp_avg, denom, -lr / debias1);
    }
  }
}

}  // namespace collab
