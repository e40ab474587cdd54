// FastaiAdam (fastai's Adam with decoupled weight decay) against the update computed by hand, and
// fastai_param_groups' split into decayed and non-decayed parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "collab/models/collab_nn.h"
#include "collab/models/dot_product_bias.h"
#include "collab/train/adam.h"

namespace test_adam {

namespace {

// A double tensor that requires grad, so the optimizer's arithmetic is compared in double.
torch::Tensor param(const std::vector<double>& values) {
  return torch::tensor(values, torch::kDouble).requires_grad_(true);
}

// Gives `p` the gradient `g` through autograd: d/dp sum(p * g) = g.
void set_grad(torch::Tensor& p, const std::vector<double>& g) {
  (p * torch::tensor(g, torch::kDouble)).sum().backward();
}

std::vector<double> values(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// The update as adam.h documents it, written out per element.
struct HandAdam {
  std::vector<double> p, m, v;
  int step = 0;
  double beta2, eps, wd;
  void update(const std::vector<double>& g, double lr, double beta1, bool decay) {
    ++step;
    for (size_t k = 0; k < p.size(); ++k) {
      if (decay) p[k] *= 1 - lr * wd;
      m[k] = beta1 * m[k] + (1 - beta1) * g[k];
      v[k] = beta2 * v[k] + (1 - beta2) * g[k] * g[k];
      const double debias1 = 1 - std::pow(beta1, step), debias2 = 1 - std::pow(beta2, step);
      p[k] -= lr / debias1 * m[k] / (std::sqrt(v[k] / debias2) + eps);
    }
  }
};

// Both sides compute in double with the same formula in a slightly different order of
// operations, so they agree to a few ulps; 1e-12 relative leaves room for that and nothing else.
void expect_close(const std::vector<double>& actual, const std::vector<double>& expected,
                  const char* what) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t k = 0; k < actual.size(); ++k) {
    EXPECT_NEAR(actual[k], expected[k], 1e-12 * std::max(1.0, std::fabs(expected[k])))
        << what << " element " << k;
  }
}

const void* id(const torch::Tensor& t) {
  return t.unsafeGetTensorImpl();
}

}  // namespace

TEST(FastaiAdam, TwoStepsMatchTheFormulaByHand) {
  collab::AdamOptions options;
  options.beta2 = 0.99;
  options.eps = 1e-5;
  options.weight_decay = 0.1;
  torch::Tensor p = param({1.0, -2.0, 0.5, 0.0});
  collab::FastaiAdam adam({{{p}, /*decay=*/true}}, options);
  HandAdam hand{
      values(p),   std::vector<double>(4, 0.0), std::vector<double>(4, 0.0), 0, options.beta2,
      options.eps, options.weight_decay};

  // Step 1 and step 2 use different lr and beta1 (as the one-cycle schedule does), so a wrong
  // step counter or a bias correction with a stale beta1 would show.
  const std::vector<double> g1 = {0.1, -0.3, 2.0, 0.0};
  set_grad(p, g1);
  adam.step(/*lr=*/0.01, /*beta1=*/0.9);
  hand.update(g1, 0.01, 0.9, true);
  expect_close(values(p), hand.p, "after step 1: p");
  expect_close(values(adam.states()[0].exp_avg), hand.m, "after step 1: exp_avg");
  expect_close(values(adam.states()[0].exp_avg_sq), hand.v, "after step 1: exp_avg_sq");
  EXPECT_EQ(adam.states()[0].step, 1);

  adam.zero_grad();
  EXPECT_FALSE(p.grad().defined());  // zero_grad sets gradients to none
  const std::vector<double> g2 = {-0.5, 0.2, 1.0, 3.0};
  set_grad(p, g2);
  adam.step(/*lr=*/0.02, /*beta1=*/0.8);
  hand.update(g2, 0.02, 0.8, true);
  expect_close(values(p), hand.p, "after step 2: p");
  expect_close(values(adam.states()[0].exp_avg), hand.m, "after step 2: exp_avg");
  expect_close(values(adam.states()[0].exp_avg_sq), hand.v, "after step 2: exp_avg_sq");
  EXPECT_EQ(adam.states()[0].step, 2);
}

TEST(FastaiAdam, NonDecayedGroupIsNotDecayed) {
  collab::AdamOptions options;
  options.weight_decay = 0.5;  // large, so decaying by mistake would be obvious
  torch::Tensor decayed = param({1.0, -1.0, 2.0});
  torch::Tensor plain = param({1.0, -1.0, 2.0});
  collab::FastaiAdam adam({{{decayed}, true}, {{plain}, false}}, options);
  ASSERT_EQ(adam.groups().size(), 2u);
  ASSERT_EQ(adam.states().size(), 2u);

  const std::vector<double> g = {0.3, 0.0, -1.0};
  HandAdam hand_decayed{
      values(decayed), std::vector<double>(3, 0.0), std::vector<double>(3, 0.0), 0, options.beta2,
      options.eps,     options.weight_decay};
  HandAdam hand_plain = hand_decayed;
  set_grad(decayed, g);
  set_grad(plain, g);
  adam.step(0.1, 0.9);
  hand_decayed.update(g, 0.1, 0.9, /*decay=*/true);
  hand_plain.update(g, 0.1, 0.9, /*decay=*/false);
  expect_close(values(decayed), hand_decayed.p, "decayed group");
  expect_close(values(plain), hand_plain.p, "non-decayed group");
  // A zero gradient leaves a non-decayed parameter exactly where it was.
  EXPECT_EQ(values(plain)[1], -1.0);
  EXPECT_NE(values(decayed)[1], -1.0);
}

TEST(FastaiAdam, ParameterWithoutGradientIsSkipped) {
  collab::AdamOptions options;
  torch::Tensor with_grad = param({1.0, 2.0});
  torch::Tensor without_grad = param({3.0, 4.0});
  collab::FastaiAdam adam({{{with_grad, without_grad}, true}}, options);
  set_grad(with_grad, {1.0, 1.0});
  adam.step(0.01, 0.9);
  EXPECT_EQ(values(without_grad), (std::vector<double>{3.0, 4.0}));
  EXPECT_EQ(adam.states()[1].step, 0);
  EXPECT_EQ(adam.states()[0].step, 1);
}

TEST(FastaiParamGroups, CollabNNWithBatchNormSplitsAsFastai) {
  torch::manual_seed(0);
  collab::CollabNNOptions o;
  o.shape = {10, 20};
  o.layers = {8, 4};
  o.batchnorm = true;
  collab::CollabNN model(o);
  const std::vector<collab::ParamGroup> groups = collab::fastai_param_groups(*model);
  ASSERT_EQ(groups.size(), 2u);
  ASSERT_TRUE(groups[0].decay);
  ASSERT_FALSE(groups[1].decay);

  std::map<const void*, bool> decay_of;
  for (const auto& g : groups) {
    for (const auto& p : g.params) decay_of[id(p)] = g.decay;
  }
  size_t n_decayed = 0, n_plain = 0;
  for (const auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    ASSERT_TRUE(decay_of.count(id(item.value()))) << name << " is in no group";
    const bool decay = decay_of[id(item.value())];
    (decay ? n_decayed : n_plain)++;
    // Embedding tables and Linear weights are decayed; BatchNorm weights and biases and Linear
    // biases are not. With batchnorm, only the final Linear has a bias.
    const bool is_embedding =
        name.rfind("user_factors.", 0) == 0 || name.rfind("item_factors.", 0) == 0;
    const bool is_batchnorm = name == "layers.2.weight" || name == "layers.2.bias" ||
                              name == "layers.5.weight" || name == "layers.5.bias";
    const bool is_linear_weight =
        name == "layers.0.weight" || name == "layers.3.weight" || name == "layers.6.weight";
    const bool is_linear_bias = name == "layers.6.bias";
    ASSERT_TRUE(is_embedding || is_batchnorm || is_linear_weight || is_linear_bias)
        << "unexpected parameter " << name;
    EXPECT_EQ(decay, is_embedding || is_linear_weight) << name;
  }
  EXPECT_EQ(n_decayed, 5u);  // 2 embeddings + 3 Linear weights
  EXPECT_EQ(n_plain, 5u);    // 2 BatchNorm x (weight, bias) + final Linear bias
  EXPECT_EQ(groups[0].params.size() + groups[1].params.size(), model->parameters().size());
}

TEST(FastaiParamGroups, DotProductBiasDecaysEverything) {
  collab::DotProductBiasOptions o;
  o.shape = {5, 7};
  o.n_factors = 3;
  collab::DotProductBias model(o);
  const std::vector<collab::ParamGroup> groups = collab::fastai_param_groups(*model);
  ASSERT_EQ(groups.size(), 1u);  // the 1-wide bias embeddings are decayed like the factors
  EXPECT_TRUE(groups[0].decay);
  EXPECT_EQ(groups[0].params.size(), 4u);
}

}  // namespace test_adam
