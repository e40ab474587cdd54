#include "collab/infer/ridge.h"

#include <algorithm>

namespace collab {

RidgeFit fit_ridge(const torch::Tensor& x, const torch::Tensor& y, double lambda) {
  const torch::Tensor xd = x.to(torch::kDouble), yd = y.to(torch::kDouble);
  const torch::Tensor x_mean = xd.mean(0), y_mean = yd.mean(0);
  const torch::Tensor xc = xd - x_mean, yc = yd - y_mean;
  const torch::Tensor lhs =
      xc.t().matmul(xc) + torch::eye(x.size(1), xd.options()) * std::max(lambda, 1e-10);
  const torch::Tensor weight = torch::linalg::solve(lhs, xc.t().matmul(yc), /*left=*/true);
  return {weight, y_mean - x_mean.matmul(weight)};
}

}  // namespace collab
