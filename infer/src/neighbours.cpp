#include "collab/infer/neighbours.h"

#include "collab/common/error.h"

namespace collab {

torch::Tensor cosine_similarities(const torch::Tensor& factors, int64_t item) {
  if (factors.dim() != 2) throw Error("cosine similarity needs a [n, d] factor matrix");
  if (item < 0 || item >= factors.size(0)) {
    throw Error("item index " + std::to_string(item) + " is outside the " +
                std::to_string(factors.size(0)) + " items");
  }
  return cosine_similarities_to(factors, factors[item]);
}

torch::Tensor cosine_similarities_to(const torch::Tensor& factors, const torch::Tensor& query) {
  if (factors.dim() != 2) throw Error("cosine similarity needs a [n, d] factor matrix");
  if (query.dim() != 1 || query.size(0) != factors.size(1)) {
    throw Error("cosine similarity: the query vector has " + std::to_string(query.numel()) +
                " values but the factors " + std::to_string(factors.size(1)) + " columns");
  }
  const torch::Tensor f = factors.detach().to(torch::kCPU, torch::kDouble);
  const torch::Tensor q = query.detach().to(torch::kCPU, torch::kDouble);
  const torch::Tensor dots = f.matmul(q);
  // A zero vector points nowhere: clamping the norm product makes its similarity 0, not NaN.
  return dots / (f.norm(2, /*dim=*/1) * q.norm()).clamp_min(1e-300);
}

torch::Tensor mean_row(const torch::Tensor& factors) {
  if (factors.dim() != 2) throw Error("mean_row needs a [n, d] factor matrix");
  return factors.detach().to(torch::kCPU, torch::kDouble).mean(/*dim=*/0);
}

std::vector<ScoredItem> nearest_items(const torch::Tensor& factors, int64_t item, int64_t k) {
  return top_k(cosine_similarities(factors, item), k, {item});
}

std::vector<ScoredItem> centred_nearest_items(const torch::Tensor& factors,
                                              const torch::Tensor& query,
                                              const std::vector<int64_t>& exclude, int64_t k) {
  std::vector<bool> candidate(static_cast<size_t>(factors.size(0)), true);
  for (const int64_t i : exclude) {
    if (i >= 0 && i < factors.size(0)) candidate[static_cast<size_t>(i)] = false;
  }
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < factors.size(0); ++i) {
    if (candidate[static_cast<size_t>(i)]) rows.push_back(i);
  }
  const torch::Tensor mean =
      mean_row(rows.empty() ? factors : factors.index_select(0, torch::tensor(rows, torch::kLong)));
  return top_k(
      cosine_similarities_to(factors.to(torch::kDouble) - mean, query.to(torch::kDouble) - mean), k,
      exclude);
}

}  // namespace collab
