#include "collab/infer/pca.h"

#include <algorithm>

#include "collab/common/error.h"

namespace collab {

PrincipalComponents principal_components(const torch::Tensor& x, int64_t k) {
  if (x.dim() != 2 || x.size(0) < 2) throw Error("PCA needs at least two vectors");
  const torch::Tensor centred = [&] {
    const torch::Tensor d = x.detach().to(torch::kCPU, torch::kDouble);
    return d - d.mean(/*dim=*/{0}, /*keepdim=*/true);
  }();
  k = std::max<int64_t>(1, std::min({k, centred.size(0), centred.size(1)}));
  const auto [u, s, vh] = torch::linalg::svd(centred, /*full_matrices=*/false, c10::nullopt);
  torch::Tensor components = vh.slice(0, 0, k).clone();
  // Sign of each component's largest-magnitude coordinate, made positive.
  const torch::Tensor peak = components.abs().argmax(/*dim=*/1, /*keepdim=*/true);
  const torch::Tensor sign = components.gather(1, peak).sign();
  components = components * torch::where(sign == 0, torch::ones_like(sign), sign);
  const torch::Tensor variance = s.square();
  return {components, centred.matmul(components.t()),
          variance.slice(0, 0, k) / variance.sum().clamp_min(1e-300)};
}

}  // namespace collab
