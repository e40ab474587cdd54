// SparseTrainer across ranks (sparse_train.h, "Distributed"): DSGD's stratified schedule on the
// block grid. Rank r owns a stripe of k = B / W user ranges; an item range travels one rank down
// after each round, so the rank that trains a block always holds the current rows of both its
// ranges, and each rank's arithmetic is the one-process run's on the same blocks.
#include <cstring>

#include "collab/common/error.h"
#include "collab/train/sparse_train.h"
#include "sparse_tables.h"

namespace collab {

namespace {

// Offsets of B contiguous ranges, from each row's range: ranges[i] is nondecreasing.
std::vector<int64_t> range_offsets(const std::vector<uint16_t>& ranges, int64_t blocks) {
  std::vector<int64_t> begin(static_cast<size_t>(blocks + 1), 0);
  for (const uint16_t r : ranges) ++begin[static_cast<size_t>(r) + 1];
  for (size_t b = 1; b < begin.size(); ++b) begin[b] += begin[b - 1];
  return begin;
}

// The bytes of rows [begin, end) of a table with `width` values of T a row.
template <class T>
void append_rows(std::vector<std::pair<const void*, size_t>>& out, const T* values, int64_t width,
                 int64_t begin, int64_t end) {
  out.emplace_back(values + begin * width, static_cast<size_t>((end - begin) * width) * sizeof(T));
}

}  // namespace

void SparseTrainer::set_collective(Collective* collective) {
  const int64_t W = collective->world_size(), B = grid_.size;
  if (B % W != 0) {
    throw Error("train.blocks " + std::to_string(B) + ": a distributed sparse run needs a grid " +
                "size that is a multiple of the " + std::to_string(W) +
                " ranks (each rank trains B / W user ranges a round)");
  }
  collective_ = collective;
  // Rows go between ranks as contiguous runs of the model's own layout: no padding.
  if (!lazy_adam_) set_aligned_rows(false);
  // Start from rank 0's parameters, as the dense path does: every row a rank trains first is
  // then the one a single process would train (a resumed run's are equal already).
  std::vector<torch::Tensor> parameters;
  for (const auto& p : model_->parameters()) parameters.push_back(p.detach());
  collective->broadcast(parameters, 0);
  user_range_begin_ = range_offsets(grid_.user_range, B);
  item_range_begin_ = range_offsets(grid_.item_range, B);
}

bool SparseTrainer::owns_user_range(int64_t a) const {
  if (collective_ == nullptr) return true;
  return a / (grid_.size / collective_->world_size()) == collective_->rank();
}

int SparseTrainer::rank_holding_items(int64_t b, int64_t d) const {
  const int64_t B = grid_.size;
  const int64_t trainer_range = ((b - d) % B + B) % B;  // the user range that trains b in round d
  return static_cast<int>(trainer_range / (B / collective_->world_size()));
}

// The item-side tables' rows of one range, in a fixed order: factors, biases, then lazy Adam's
// moments and row steps of each.
torch::Tensor SparseTrainer::pack_item_range(int64_t b) const {
  const int64_t begin = item_range_begin_[static_cast<size_t>(b)];
  const int64_t end = item_range_begin_[static_cast<size_t>(b) + 1];
  std::vector<std::pair<const void*, size_t>> parts;
  std::vector<const Table*> tables = {&tables_->item_factors};
  if (tables_->has_biases()) tables.push_back(&tables_->item_bias);
  for (const Table* t : tables) {
    append_rows(parts, t->param, t->stride, begin, end);
    if (!lazy_adam_) continue;
    append_rows(parts, t->exp_avg.data(), t->dim, begin, end);
    append_rows(parts, t->exp_avg_sq.data(), t->dim, begin, end);
    append_rows(parts, t->steps.data(), 1, begin, end);
  }
  size_t bytes = 0;
  for (const auto& part : parts) bytes += part.second;
  torch::Tensor out = torch::empty({static_cast<int64_t>(bytes)}, torch::kUInt8);
  auto* at = out.data_ptr<uint8_t>();
  for (const auto& [data, size] : parts) {
    std::memcpy(at, data, size);
    at += size;
  }
  return out;
}

void SparseTrainer::unpack_item_range(int64_t b, const torch::Tensor& bytes) {
  const int64_t begin = item_range_begin_[static_cast<size_t>(b)];
  const int64_t end = item_range_begin_[static_cast<size_t>(b) + 1];
  std::vector<std::pair<const void*, size_t>> parts;
  std::vector<Table*> tables = {&tables_->item_factors};
  if (tables_->has_biases()) tables.push_back(&tables_->item_bias);
  for (Table* t : tables) {
    append_rows(parts, t->param, t->stride, begin, end);
    if (!lazy_adam_) continue;
    append_rows(parts, t->exp_avg.data(), t->dim, begin, end);
    append_rows(parts, t->exp_avg_sq.data(), t->dim, begin, end);
    append_rows(parts, t->steps.data(), 1, begin, end);
  }
  const auto* at = bytes.data_ptr<uint8_t>();
  for (const auto& [data, size] : parts) {
    std::memcpy(const_cast<void*>(data), at, size);
    at += size;
  }
}

void SparseTrainer::rotate_items(int64_t d) {
  const int64_t B = grid_.size, W = collective_->world_size(), k = B / W;
  const int rank = collective_->rank();
  const int64_t sent_range = (rank * k + d) % B;            // trained at our first user range
  const int64_t received_range = ((rank + 1) * k + d) % B;  // the next rank's first, ours next
  const torch::Tensor out = pack_item_range(sent_range);
  torch::Tensor in = pack_item_range(received_range);  // sized like what arrives
  collective_->send_receive(out, static_cast<int>((rank + W - 1) % W), in,
                            static_cast<int>((rank + 1) % W), static_cast<int>(d));
  unpack_item_range(received_range, in);
}

void SparseTrainer::assemble_tables() {
  if (collective_ == nullptr) return;
  const int rank = collective_->rank();
  const int64_t B = grid_.size, k = B / collective_->world_size();
  // The item ranges lie where round d placed them: after the pass's last round (which does not
  // rotate) d is that round, else the round about to run.
  const int64_t d = round_ == B ? B - 1 : round_;
  // Rows held here: the user stripe, and the item ranges this boundary places on this rank.
  std::vector<std::pair<int64_t, int64_t>> user_rows = {
      {user_range_begin_[static_cast<size_t>(rank * k)],
       user_range_begin_[static_cast<size_t>((rank + 1) * k)]}};
  std::vector<std::pair<int64_t, int64_t>> item_rows;
  for (int64_t b = 0; b < B; ++b) {
    if (rank_holding_items(b, d) == rank) {
      item_rows.emplace_back(item_range_begin_[static_cast<size_t>(b)],
                             item_range_begin_[static_cast<size_t>(b) + 1]);
    }
  }
  // Each table (and lazy Adam's state) as a tensor over its live storage, and its held rows.
  std::vector<std::pair<torch::Tensor, const std::vector<std::pair<int64_t, int64_t>>*>> live;
  for (const auto& [name, table] : named_tables()) {
    const auto* rows = name.rfind("user", 0) == 0 ? &user_rows : &item_rows;
    const std::vector<int64_t> shape = {table->rows, table->dim};
    live.emplace_back(torch::from_blob(table->param, shape, {table->stride, 1}, torch::kFloat),
                      rows);
    if (!lazy_adam_) continue;
    live.emplace_back(torch::from_blob(table->exp_avg.data(), shape, torch::kFloat), rows);
    live.emplace_back(torch::from_blob(table->exp_avg_sq.data(), shape, torch::kFloat), rows);
    live.emplace_back(torch::from_blob(table->steps.data(), {table->rows}, torch::kInt), rows);
  }
  // Every other rank contributes zeros where this one holds rows, so the sum is exact.
  std::vector<torch::Tensor> sums;
  for (const auto& [tensor, rows] : live) {
    torch::Tensor held = torch::zeros_like(tensor);
    for (const auto& [begin, end] : *rows) {
      held.narrow(0, begin, end - begin).copy_(tensor.narrow(0, begin, end - begin));
    }
    sums.push_back(held);
  }
  torch::Tensor losses = torch::zeros({B, B}, torch::kDouble);
  const torch::Tensor own_losses = torch::from_blob(block_loss_.data(), {B, B}, torch::kDouble);
  losses.narrow(0, rank * k, k).copy_(own_losses.narrow(0, rank * k, k));
  sums.push_back(losses);
  collective_->allreduce_sum(sums);
  for (size_t t = 0; t < live.size(); ++t) live[t].first.copy_(sums[t]);
  own_losses.copy_(losses);
}

bool SparseTrainer::stop_requested(const FitHooks& hooks) {
  const bool local = hooks.stop_requested && hooks.stop_requested();
  if (collective_ == nullptr) return local;
  std::vector<torch::Tensor> vote = {torch::full({1}, local ? 1.0 : 0.0, torch::kDouble)};
  collective_->allreduce_sum(vote);
  return vote.front().item<double>() > 0;
}

}  // namespace collab
