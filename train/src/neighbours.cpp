#include "collab/train/neighbours.h"

#include "collab/common/error.h"

namespace collab {

torch::Tensor cosine_similarities(const torch::Tensor& factors, int64_t item) {
  if (factors.dim() != 2) throw Error("cosine similarity needs a [n, d] factor matrix");
  if (item < 0 || item >= factors.size(0)) {
    throw Error("item index " + std::to_string(item) + " is outside the " +
                std::to_string(factors.size(0)) + " items");
  }
  const torch::Tensor f = factors.detach().to(torch::kCPU, torch::kDouble);
  const torch::Tensor norms = f.norm(2, /*dim=*/1);
  const torch::Tensor dots = f.matmul(f[item]);
  // A zero vector points nowhere: clamping the norm product makes its similarity 0, not NaN.
  return dots / (norms * norms[item]).clamp_min(1e-300);
}

std::vector<ScoredItem> nearest_items(const torch::Tensor& factors, int64_t item, int64_t k) {
  return top_k(cosine_similarities(factors, item), k, {item});
}

}  // namespace collab
