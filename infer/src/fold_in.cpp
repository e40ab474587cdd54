#include "collab/infer/fold_in.h"

#include <algorithm>

#include "collab/common/error.h"

namespace collab {

namespace {

// Regularised Gauss-Newton on the linear models: prediction f(design . w + offset) with f the
// identity or sigmoid_range. Without a range one step solves the problem exactly.
torch::Tensor fold_in_linear(const CollabModelImpl& model, const LinearUserModel& linear,
                             const UserPrior& prior, const torch::Tensor& items,
                             const torch::Tensor& y, const FoldInOptions& options,
                             const char* side = "user") {
  const torch::Tensor x = linear.design.to(torch::kDouble).index_select(0, items);
  const torch::Tensor c = linear.offset.to(torch::kDouble).index_select(0, items);
  const torch::Tensor penalty = options.prior_weight * prior.precision;
  const auto range = model.y_range();
  const int64_t steps = range ? std::max<int64_t>(1, options.gauss_newton_steps) : 1;
  torch::Tensor w = prior.mean.clone();
  for (int64_t step = 0; step < steps; ++step) {
    const torch::Tensor a = x.matmul(w) + c;
    torch::Tensor f = a, slope = torch::ones_like(a);
    if (range) {
      const torch::Tensor s = torch::sigmoid(a);
      f = s * (range->hi - range->lo) + range->lo;
      slope = s * (1 - s) * (range->hi - range->lo);
    }
    const torch::Tensor j = x * slope.unsqueeze(1);
    const torch::Tensor lhs = j.t().matmul(j) + penalty;
    const torch::Tensor rhs = j.t().matmul(y - f) - penalty.matmul(w - prior.mean);
    torch::Tensor delta;
    try {
      delta = torch::linalg::solve(lhs, rhs, /*left=*/true);
    } catch (const c10::Error&) {
      // Without the prior's pull, fewer ratings than the user has coordinates leave the
      // system singular (LibTorch's message would name only a matrix).
      throw Error("fold-in: " + std::to_string(items.size(0)) + " rating(s) cannot determine the " +
                  std::to_string(x.size(1)) + " coordinates of a new " + side +
                  (options.prior_weight <= 0 ? " with --prior-weight 0" : "") +
                  ": give more ratings or a positive --prior-weight");
    }
    w = w + delta;
    if (delta.abs().max().item<double>() < 1e-9) break;
  }
  return w;
}

torch::Tensor fold_in_gradient(CollabModelImpl& model, const UserPrior& prior,
                               const torch::Tensor& items, const torch::Tensor& y,
                               const FoldInOptions& options) {
  const torch::Tensor mean = prior.mean.to(torch::kFloat);
  const torch::Tensor penalty = (options.prior_weight * prior.precision).to(torch::kFloat);
  const torch::Tensor target = y.to(torch::kFloat);
  torch::Tensor w = mean.clone().requires_grad_(true);
  torch::optim::Adam adam({w}, torch::optim::AdamOptions(options.learning_rate));
  for (int64_t step = 0; step < options.gradient_steps; ++step) {
    adam.zero_grad();
    const torch::Tensor d = w - mean;
    const torch::Tensor loss =
        (model.score_items(w, items) - target).square().sum() + d.dot(penalty.matmul(d));
    loss.backward();
    adam.step();
  }
  // The model's own parameters took part in the graph: drop the gradients left on them.
  model.zero_grad();
  return w.detach();
}

}  // namespace

UserPrior fit_user_prior(const torch::Tensor& vectors) {
  const torch::Tensor v = vectors.detach().to(torch::kCPU, torch::kDouble);
  const torch::Tensor mean = v.mean(/*dim=*/0);
  torch::Tensor covariance = torch::eye(v.size(1), v.options()) * 1e-8;
  if (v.size(0) > 1) {
    const torch::Tensor centred = v - mean;
    covariance = centred.t().matmul(centred) / static_cast<double>(v.size(0) - 1);
  }
  const double jitter = 1e-3 * covariance.diagonal().mean().item<double>() + 1e-12;
  covariance = covariance + torch::eye(v.size(1), v.options()) * jitter;
  return {mean, torch::linalg::inv(covariance)};
}

int64_t representative_user(const torch::Tensor& vectors) {
  if (vectors.dim() != 2 || vectors.size(0) == 0) {
    throw Error("the representative user needs at least one trained user vector");
  }
  const torch::Tensor v = vectors.detach().to(torch::kCPU, torch::kDouble);
  return (v - v.mean(0)).square().sum(1).argmin().item<int64_t>();
}

namespace {

// The prior of `vectors`, its mean replaced by options.prior_mean where given.
UserPrior prior_of(const torch::Tensor& vectors, const FoldInOptions& options, const char* side) {
  UserPrior prior = fit_user_prior(vectors);
  if (options.prior_mean.defined()) {
    if (options.prior_mean.dim() != 1 || options.prior_mean.size(0) != prior.mean.size(0)) {
      throw Error("fold-in: the prior mean has " + std::to_string(options.prior_mean.numel()) +
                  " values, the model's " + side + " vectors " +
                  std::to_string(prior.mean.size(0)));
    }
    prior.mean = options.prior_mean.detach().to(torch::kCPU, torch::kDouble);
  }
  return prior;
}

torch::Tensor ratings_tensor(const std::vector<float>& ratings) {
  return torch::tensor(std::vector<double>(ratings.begin(), ratings.end()), torch::kDouble);
}

}  // namespace

torch::Tensor fold_in_item(CollabModelImpl& model, const std::vector<int64_t>& users,
                           const std::vector<float>& ratings, const FoldInOptions& options,
                           const torch::Tensor& trained_items) {
  if (users.size() != ratings.size()) throw Error("item fold-in needs one rating per user");
  const auto linear = model.linear_item_model();
  if (!linear) {
    throw Error("item fold-in: architecture \"" + model.arch() +
                "\" has no linear item model (DotProduct and DotProductBias have one)");
  }
  const torch::Tensor vectors = model.item_vectors();
  const UserPrior prior = prior_of(
      trained_items.defined() ? vectors.index_select(0, trained_items) : vectors, options, "item");
  if (users.empty()) return prior.mean.to(torch::kFloat);
  const int64_t n_users = linear->design.size(0);
  for (const int64_t u : users) {
    if (u < 0 || u >= n_users) {
      throw Error("item fold-in user index " + std::to_string(u) + " is outside the " +
                  std::to_string(n_users) + " users");
    }
  }
  torch::NoGradGuard no_grad;
  return fold_in_linear(model, *linear, prior, torch::tensor(users, torch::kLong),
                        ratings_tensor(ratings), options, "item")
      .to(torch::kFloat);
}

torch::Tensor fold_in_user(CollabModelImpl& model, const std::vector<int64_t>& items,
                           const std::vector<float>& ratings, const FoldInOptions& options) {
  if (items.size() != ratings.size()) throw Error("fold-in needs one rating per item");
  const UserPrior prior = prior_of(model.user_vectors(), options, "user");
  if (items.empty()) return prior.mean.to(torch::kFloat);
  // Bias-only models (Biases, FeatureBiases) have no item factors but a linear user model.
  const auto linear = model.linear_user_model();
  const int64_t n_items = linear ? linear->design.size(0) : model.item_factor_table().size(0);
  for (const int64_t i : items) {
    if (i < 0 || i >= n_items) {
      throw Error("fold-in item index " + std::to_string(i) + " is outside the " +
                  std::to_string(n_items) + " items");
    }
  }
  const torch::Tensor index = torch::tensor(items, torch::kLong);
  const torch::Tensor y = ratings_tensor(ratings);
  if (linear) {
    torch::NoGradGuard no_grad;
    return fold_in_linear(model, *linear, prior, index, y, options).to(torch::kFloat);
  }
  return fold_in_gradient(model, prior, index, y, options);
}

}  // namespace collab
