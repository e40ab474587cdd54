#include "collab/infer/metadata_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "collab/common/error.h"
#include "collab/infer/ridge.h"

namespace collab {

namespace {

// Squared error summed over `rows`' ratings, row rows[r] predicted from vectors[r].
struct ErrorSum {
  double squared = 0;
  int64_t count = 0;
  double rmse() const {
    return std::sqrt(squared / static_cast<double>(std::max<int64_t>(1, count)));
  }
};
ErrorSum rating_errors(const MetadataRows& data, const VectorScorer& score,
                       const std::vector<size_t>& rows, const torch::Tensor& vectors) {
  ErrorSum out;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& others = (*data.others)[rows[r]];
    if (others.empty()) continue;
    const torch::Tensor predicted = score(vectors[static_cast<int64_t>(r)].to(torch::kFloat),
                                          torch::tensor(others, torch::kLong))
                                        .to(torch::kDouble);
    const auto& ratings = (*data.ratings)[rows[r]];
    const torch::Tensor truth =
        torch::tensor(std::vector<double>(ratings.begin(), ratings.end()), torch::kDouble);
    out.squared += (predicted - truth).square().sum().item<double>();
    out.count += static_cast<int64_t>(others.size());
  }
  return out;
}

torch::Tensor select_rows(const torch::Tensor& t, const std::vector<size_t>& rows) {
  std::vector<int64_t> index(rows.begin(), rows.end());
  return t.index_select(0, torch::tensor(index, torch::kLong));
}

}  // namespace

MetadataFit fit_metadata_ridge(const MetadataRows& rows, const VectorScorer& score,
                               const std::string& row_name, const MetadataOptions& options) {
  const auto n = static_cast<size_t>(rows.features.defined() ? rows.features.size(0) : 0);
  if (n < 10) {
    throw Error("the " + row_name + " feature model needs at least 10 trained " + row_name +
                "s with side information; " + std::to_string(n) + " have any");
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor targets = rows.targets.to(torch::kDouble);
  const torch::Tensor features = rows.features.to(torch::kDouble);
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
  const torch::Tensor x_fit = select_rows(features, fit), y_fit = select_rows(targets, fit);
  const torch::Tensor x_held = select_rows(features, held);

  json by_ridge = json::array();
  double best_ridge = options.ridges.at(0), best_rmse = INFINITY;
  int64_t count = 0;
  for (const double ridge : options.ridges) {
    const RidgeFit f = fit_ridge(x_fit, y_fit, ridge);
    const ErrorSum e = rating_errors(rows, score, held, x_held.matmul(f.weight) + f.bias);
    by_ridge.push_back({{"ridge", ridge}, {"rmse", e.rmse()}});
    count = e.count;
    if (e.rmse() < best_rmse) best_rmse = e.rmse(), best_ridge = ridge;
  }
  const torch::Tensor mean_row = y_fit.mean(0).expand({static_cast<int64_t>(n_held), -1});
  const ErrorSum mean_errors = rating_errors(rows, score, held, mean_row);

  const RidgeFit all = fit_ridge(features, targets, best_ridge);
  MetadataFit out;
  out.weight = all.weight.to(torch::kFloat);
  out.bias = all.bias.to(torch::kFloat);
  out.report = {{"ridge", best_ridge},
                {"rmse_by_ridge", by_ridge},
                {"rmse_metadata", best_rmse},
                {"rmse_mean_" + row_name, mean_errors.rmse()},
                {"holdout_" + row_name + "s", n_held},
                {"holdout_ratings", count},
                {"fit_" + row_name + "s", n},
                {"seed", options.seed}};
  return out;
}

}  // namespace collab
