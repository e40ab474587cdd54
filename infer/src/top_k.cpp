#include "collab/infer/top_k.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace collab {

std::vector<ScoredItem> top_k(const torch::Tensor& scores, int64_t k,
                              const std::vector<int64_t>& exclude) {
  const torch::Tensor s = scores.detach().to(torch::kCPU, torch::kDouble).contiguous().view(-1);
  const int64_t n = s.numel();
  const double* v = s.data_ptr<double>();
  std::vector<char> excluded(static_cast<size_t>(n), 0);
  for (const int64_t i : exclude) {
    if (i >= 0 && i < n) excluded[static_cast<size_t>(i)] = 1;
  }
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (!excluded[static_cast<size_t>(i)]) order.push_back(i);
  }
  // NaN sorts below everything so a broken score never reaches the top of a list.
  const auto key = [v](int64_t i) {
    return std::isnan(v[i]) ? -std::numeric_limits<double>::infinity() : v[i];
  };
  const auto better = [&](int64_t a, int64_t b) {
    return key(a) != key(b) ? key(a) > key(b) : a < b;
  };
  const size_t take = k <= 0 ? order.size() : std::min(order.size(), static_cast<size_t>(k));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(take), order.end(),
                    better);
  std::vector<ScoredItem> out;
  out.reserve(take);
  for (size_t r = 0; r < take; ++r) out.push_back({order[r], v[order[r]]});
  return out;
}

}  // namespace collab
