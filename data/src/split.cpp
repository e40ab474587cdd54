#include "collab/data/split.h"

#include <torch/torch.h>

#include "collab/common/error.h"

namespace collab {

Split random_split(const Ratings& all, double valid_pct, uint64_t seed) {
  const auto n = static_cast<int64_t>(all.size());
  const auto cut = static_cast<int64_t>(valid_pct * static_cast<double>(n));
  if (cut == 0 || cut == n) {
    throw Error("data.valid_pct: " + std::to_string(valid_pct) + " of " + std::to_string(n) +
                " ratings leaves an empty training or validation set");
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor perm = torch::randperm(n, generator, torch::kLong);
  const int64_t* p = perm.data_ptr<int64_t>();
  Split split;
  split.valid = all.select(std::vector<int64_t>(p, p + cut));
  split.train = all.select(std::vector<int64_t>(p + cut, p + n));
  return split;
}

}  // namespace collab
