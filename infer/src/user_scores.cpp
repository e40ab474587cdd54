// Blocked scoring of trained users and their per-user top-k (user_scores.h).
#include "collab/infer/user_scores.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <string>

#include "collab/common/error.h"
#include "collab/models/layers.h"
#include "user_item_products.h"

namespace collab {

namespace {

// Scores a linear model's block holds by default: 8M floats (32 MB), enough users per matrix
// product for the multiply to run near its peak, small enough to stay out of swap.
constexpr int64_t kLinearBlockPairs = int64_t{1} << 23;
// A forward() pass keeps every layer's activations for each pair: far fewer pairs per block.
constexpr int64_t kForwardBlockPairs = int64_t{1} << 18;
// A block scorer's pairs cost a few passes over their hidden activations: blocks that stay in
// cache, and that the allocator reuses, rather than ~100 MB fresh pages per block (measured in
// bench/RESULTS.md, "Top-N evaluation").
constexpr int64_t kBlockScorerPairs = int64_t{1} << 14;

}  // namespace

UserScorer::UserScorer(CollabModelImpl& model, int64_t n_items, torch::Device device,
                       int64_t block_pairs)
    : model_(model), n_items_(n_items), device_(device) {
  torch::NoGradGuard no_grad;
  if (const auto linear = model.linear_user_model()) {
    if (linear->design.size(0) != n_items) {
      throw Error("the model scores " + std::to_string(linear->design.size(0)) +
                  " items but its item vocabulary has " + std::to_string(n_items));
    }
    const torch::Tensor users = model.user_vectors().to(device, torch::kFloat);
    user_rows_ = torch::cat({users, torch::ones({users.size(0), 1}, users.options())}, 1);
    item_columns_ =
        torch::cat({linear->design, linear->offset.unsqueeze(1)}, 1).to(device, torch::kFloat);
    item_columns_ = item_columns_.t().contiguous();
    if (device.is_cpu()) {
      // Zero columns up to a whole vector, for user_item_products.
      const int64_t padded = (n_items + kItemLanes - 1) / kItemLanes * kItemLanes;
      item_columns_ = torch::constant_pad_nd(item_columns_, {0, padded - n_items}).contiguous();
    }
  }
  if (!user_rows_.defined()) {
    if (auto items = model.block_items()) block_items_ = items->to(device);
  }
  const int64_t pairs = block_pairs > 0
                            ? block_pairs
                            : user_rows_.defined()   ? kLinearBlockPairs
                            : block_items_.defined() ? kBlockScorerPairs
                                                     : kForwardBlockPairs;
  users_per_block_ = std::max<int64_t>(1, pairs / std::max<int64_t>(1, n_items));
}

torch::Tensor UserScorer::ranking_keys(const torch::Tensor& users) const {
  torch::NoGradGuard no_grad;
  const torch::Tensor u = users.to(device_, torch::kLong);
  if (user_rows_.defined() && device_.is_cpu()) {
    const torch::Tensor rows = user_rows_.index_select(0, u).contiguous();
    torch::Tensor out = torch::empty({rows.size(0), item_columns_.size(1)});
    user_item_products(rows.data_ptr<float>(), item_columns_.data_ptr<float>(),
                       out.data_ptr<float>(), rows.size(0), rows.size(1), item_columns_.size(1));
    return out.narrow(1, 0, n_items_);  // rows keep their padded stride
  }
  if (user_rows_.defined()) return user_rows_.index_select(0, u).mm(item_columns_).to(torch::kCPU);
  if (block_items_.defined()) {
    return model_.score_user_block(u, block_items_).to(torch::kCPU, torch::kFloat).contiguous();
  }
  const int64_t n_users = u.size(0);
  const torch::Tensor items = torch::arange(n_items_, u.options());
  const torch::Tensor pairs =
      torch::stack({u.repeat_interleave(n_items_), items.repeat({n_users})}, 1);
  return model_.forward(pairs)
      .to(torch::kCPU, torch::kFloat)
      .view({n_users, n_items_})
      .contiguous();
}

torch::Tensor UserScorer::ratings_of_keys(const torch::Tensor& keys) const {
  return user_rows_.defined() ? sigmoid_range(keys, model_.y_range()) : keys;
}

torch::Tensor UserScorer::ratings(const torch::Tensor& users) const {
  return ratings_of_keys(ranking_keys(users));
}

namespace {

// One block's lists, ranked on the keys [B, n_items]; their scores are still keys.
std::vector<UserTopK> rank_block(const torch::Tensor& keys, const int64_t* users, int64_t count,
                                 const std::vector<std::vector<int64_t>>& seen, int64_t k) {
  std::vector<UserTopK> lists(static_cast<size_t>(count));
  const float* data = keys.data_ptr<float>();
  const int64_t n_items = keys.size(1), stride = keys.stride(0);
  static const std::vector<int64_t> kNothing;
  at::parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t user = users[b];
      const auto& exclude = seen.empty() ? kNothing : seen[static_cast<size_t>(user)];
      lists[static_cast<size_t>(b)] = {user, top_k_of_row(data + b * stride, n_items, exclude, k)};
    }
  });
  return lists;
}

// Turns the kept keys into predicted ratings: one sigmoid_range over the block's few kept keys
// (in double, so that a list scores the same to float precision whichever block it was in).
void keys_to_ratings(const UserScorer& scorer, std::vector<UserTopK>& lists) {
  std::vector<double> kept;
  for (const auto& list : lists)
    for (const auto& item : list.items) kept.push_back(item.score);
  if (kept.empty()) return;
  const torch::Tensor ratings =
      scorer
          .ratings_of_keys(
              torch::from_blob(kept.data(), {static_cast<int64_t>(kept.size())}, torch::kDouble))
          .contiguous();
  const double* r = ratings.data_ptr<double>();
  for (auto& list : lists)
    for (auto& item : list.items) item.score = *r++;
}

}  // namespace

bool top_k_for_users(const UserScorer& scorer, const std::vector<int64_t>& users,
                     const std::vector<std::vector<int64_t>>& seen, int64_t k,
                     const std::function<void(std::vector<UserTopK>&&)>& on_block,
                     const std::function<bool()>& stop) {
  const auto n = static_cast<int64_t>(users.size());
  for (int64_t start = 0; start < n; start += scorer.users_per_block()) {
    if (stop && stop()) return false;
    const int64_t count = std::min(scorer.users_per_block(), n - start);
    const torch::Tensor block =
        torch::from_blob(const_cast<int64_t*>(users.data()) + start, {count}, torch::kLong);
    const torch::Tensor keys = scorer.ranking_keys(block);
    std::vector<UserTopK> lists = rank_block(keys, users.data() + start, count, seen, k);
    keys_to_ratings(scorer, lists);
    on_block(std::move(lists));
  }
  return true;
}

}  // namespace collab
