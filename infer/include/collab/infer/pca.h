// Principal components of a set of vectors (item factors), for reading what a model learned: the
// seed's PCA map of movies. torch::pca_lowrank is Python-only in LibTorch 1.13, so this centres
// the rows and takes an exact thin SVD (torch::linalg::svd); item-factor matrices are small.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace collab {

struct PrincipalComponents {
  torch::Tensor components;  // [k, d]: unit directions, strongest first
  torch::Tensor scores;      // [n, k]: each centred row projected on the components
  torch::Tensor explained;   // [k]: fraction of the total variance each explains
};

// The `k` strongest components of the rows of `x` [n, d] (k is capped at min(n, d)). Signs are
// fixed so that each component's largest-magnitude coordinate is positive, making the result
// reproducible across LAPACK builds. Computes in double on the CPU.
PrincipalComponents principal_components(const torch::Tensor& x, int64_t k);

}  // namespace collab
