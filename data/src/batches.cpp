#include "collab/data/batches.h"

#include "collab/common/error.h"

namespace collab {

Batch to_batch(const Ratings& ratings, const torch::Device& device) {
  const auto n = static_cast<int64_t>(ratings.size());
  torch::Tensor x = torch::empty({n, 2}, torch::kLong);
  auto xa = x.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    xa[i][0] = ratings.users[static_cast<size_t>(i)];
    xa[i][1] = ratings.items[static_cast<size_t>(i)];
  }
  torch::Tensor y = torch::empty({n}, torch::kFloat);
  float* ya = y.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) ya[i] = ratings.ratings[static_cast<size_t>(i)];
  return {x.to(device), y.to(device)};
}

ShuffledBatches::ShuffledBatches(Batch all, int64_t batch_size, const torch::Device& device)
    : all_(std::move(all)), order_(all_), device_(device), batch_size_(batch_size) {
  const int64_t n = all_.y.size(0);
  n_batches_ = n / batch_size_;
  if (n_batches_ == 0) {
    throw Error("train.batch_size: " + std::to_string(batch_size) + " is larger than the " +
                std::to_string(n) + " training ratings");
  }
  if (staged()) {
    // Copies from pageable memory to a GPU are synchronous; from pinned memory they overlap
    // with the host's work. The shuffled order is rewritten in place each epoch.
    const bool pin = device_.is_cuda();
    order_.x = pin ? torch::empty_like(all_.x).pin_memory() : torch::empty_like(all_.x);
    order_.y = pin ? torch::empty_like(all_.y).pin_memory() : torch::empty_like(all_.y);
  }
}

void ShuffledBatches::shuffle(at::Generator& generator) {
  const int64_t n = all_.y.size(0);
  torch::Tensor perm = torch::randperm(n, generator, torch::kLong).to(all_.x.device());
  if (staged()) {
    // A previous epoch's copies read these buffers: they have finished, since the epoch's
    // evaluation read its results back to the host.
    torch::index_select_out(order_.x, all_.x, 0, perm);
    torch::index_select_out(order_.y, all_.y, 0, perm);
  } else {
    order_.x = all_.x.index_select(0, perm);
    order_.y = all_.y.index_select(0, perm);
  }
}

BatchSpan span_of(const Batch& batch) {
  return {batch.x.data_ptr<int64_t>(), batch.y.data_ptr<float>(), batch.y.size(0)};
}

BatchSpan ShuffledBatches::span(int64_t b) const {
  const int64_t start = b * batch_size_;
  return {order_.x.data_ptr<int64_t>() + 2 * start, order_.y.data_ptr<float>() + start,
          batch_size_};
}

Batch ShuffledBatches::operator[](int64_t b) const {
  const int64_t start = b * batch_size_;
  Batch batch{order_.x.narrow(0, start, batch_size_), order_.y.narrow(0, start, batch_size_)};
  if (!staged()) return batch;
  return {batch.x.to(device_, /*non_blocking=*/true), batch.y.to(device_, /*non_blocking=*/true)};
}

std::vector<Batch> chunks(const Batch& all, int64_t chunk) {
  std::vector<Batch> out;
  const int64_t n = all.y.size(0);
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    out.push_back({all.x.narrow(0, start, len), all.y.narrow(0, start, len)});
  }
  return out;
}

}  // namespace collab
