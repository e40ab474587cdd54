#include "collab/infer/user_metadata_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "collab/common/error.h"

namespace collab {

namespace {

// Squared error summed over `rows`' ratings, each user predicted from vectors[r].
struct ErrorSum {
  double squared = 0;
  int64_t count = 0;
};
ErrorSum rating_errors(CollabModelImpl& model, const UserMetadataData& data,
                       const std::vector<size_t>& rows, const torch::Tensor& vectors) {
  ErrorSum out;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& items = data.items[rows[r]];
    if (items.empty()) continue;
    const torch::Tensor predicted =
        model
            .score_items(vectors[static_cast<int64_t>(r)].to(torch::kFloat),
                         torch::tensor(items, torch::kLong))
            .to(torch::kDouble);
    const auto& ratings = data.ratings[rows[r]];
    const torch::Tensor truth =
        torch::tensor(std::vector<double>(ratings.begin(), ratings.end()), torch::kDouble);
    out.squared += (predicted - truth).square().sum().item<double>();
    out.count += static_cast<int64_t>(items.size());
  }
  return out;
}

torch::Tensor select_rows(const torch::Tensor& t, const std::vector<size_t>& rows) {
  std::vector<int64_t> index(rows.begin(), rows.end());
  return t.index_select(0, torch::tensor(index, torch::kLong));
}

}  // namespace

UserFeatureModel fit_user_metadata_model(CollabModelImpl& model,
                                         const std::vector<std::string>& columns,
                                         const UserMetadataData& data,
                                         const UserMetadataOptions& options) {
  const size_t n = data.users.size();
  if (n < 10) {
    throw Error("the user feature model needs at least 10 trained users with side information; " +
                std::to_string(n) + " have any");
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor targets = model.user_vectors()
                                    .to(torch::kDouble)
                                    .index_select(0, torch::tensor(data.users, torch::kLong));
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(options.seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto n_held = std::clamp<size_t>(
      static_cast<size_t>(std::lround(options.holdout_fraction * static_cast<double>(n))), 1,
      n - 1);
  const std::vector<size_t> held(order.begin(),
                                 order.begin() + static_cast<std::ptrdiff_t>(n_held));
  const std::vector<size_t> fit(order.begin() + static_cast<std::ptrdiff_t>(n_held), order.end());
  const torch::Tensor x_fit = select_rows(data.features, fit), y_fit = select_rows(targets, fit);
  const torch::Tensor x_held = select_rows(data.features, held);

  json by_ridge = json::array();
  double best_ridge = options.ridges.at(0), best_rmse = INFINITY;
  int64_t count = 0;
  for (const double ridge : options.ridges) {
    const RidgeFit f = fit_ridge(x_fit, y_fit, ridge);
    const ErrorSum e =
        rating_errors(model, data, held, x_held.to(torch::kDouble).matmul(f.weight) + f.bias);
    const double rmse = std::sqrt(e.squared / static_cast<double>(std::max<int64_t>(1, e.count)));
    by_ridge.push_back({{"ridge", ridge}, {"rmse", rmse}});
    count = e.count;
    if (rmse < best_rmse) best_rmse = rmse, best_ridge = ridge;
  }
  const torch::Tensor mean_user = y_fit.mean(0).expand({static_cast<int64_t>(n_held), -1});
  const ErrorSum mean_errors = rating_errors(model, data, held, mean_user);

  const RidgeFit all = fit_ridge(data.features, targets, best_ridge);
  UserFeatureModel out;
  out.columns = columns;
  out.weight = all.weight.to(torch::kFloat);
  out.bias = all.bias.to(torch::kFloat);
  out.report = {
      {"ridge", best_ridge},
      {"rmse_by_ridge", by_ridge},
      {"rmse_metadata", best_rmse},
      {"rmse_mean_user", std::sqrt(mean_errors.squared /
                                   static_cast<double>(std::max<int64_t>(1, mean_errors.count)))},
      {"holdout_users", n_held},
      {"holdout_ratings", count},
      {"fit_users", n},
      {"seed", options.seed}};
  return out;
}

}  // namespace collab
