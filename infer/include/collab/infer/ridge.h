// Ridge regression with an unpenalised intercept: what the new-user metadata model
// (user_metadata_model.h) and the blend of models (blend.h) both fit.
#pragma once

#include <torch/torch.h>

namespace collab {

// Ridge regression y ~ x w + b with the intercept b unpenalised (by centring), solved exactly in
// double: w = (xc' xc + lambda I)^-1 xc' yc, b = mean(y) - mean(x) w. x [n, F], y [n, d].
// lambda is raised to 1e-10 at least, so that duplicate columns stay solvable.
struct RidgeFit {
  torch::Tensor weight;  // double [F, d]
  torch::Tensor bias;    // double [d]
};
RidgeFit fit_ridge(const torch::Tensor& x, const torch::Tensor& y, double lambda);

}  // namespace collab
