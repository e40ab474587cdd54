// The rows of an embedding table that one mini-batch touches, for the CPU training paths
// (fused_dot.cpp, fused_nn.cpp, sparse_train.cpp): each touched row gets a slot, its row in the
// batch's gradient buffer, in order of first use, so that a batch's gradient takes [batch, dim]
// floats instead of the table's [rows, dim] and only the touched rows are ever cleared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace collab {

class TouchedRows {
 public:
  // For a table of `table_rows` rows and batches of at most `max_batch` ratings.
  void reset(int64_t table_rows, int64_t max_batch) {
    slot_of_row_.assign(static_cast<size_t>(table_rows), -1);
    rows_.clear();
    rows_.reserve(static_cast<size_t>(max_batch));
  }

  // Row `row`'s slot. A row the batch had not touched yet takes the next free slot, and then
  // on_first_touch() is called (a deferred row is brought up to date there before it is read).
  template <typename OnFirstTouch>
  int32_t slot(int64_t row, OnFirstTouch&& on_first_touch) {
    int32_t& s = slot_of_row_[static_cast<size_t>(row)];
    if (s < 0) {
      s = static_cast<int32_t>(rows_.size());
      rows_.push_back(row);
      on_first_touch();
    }
    return s;
  }
  int32_t slot(int64_t row) {
    return slot(row, [] {});
  }

  bool contains(int64_t row) const { return slot_of_row_[static_cast<size_t>(row)] >= 0; }
  // How many rows the batch touched so far: the slots in use.
  size_t size() const { return rows_.size(); }
  // The touched rows in slot order.
  const std::vector<int64_t>& rows() const { return rows_; }
  // Per table row, its slot, or -1 where the batch did not touch it (adam_table_rows reads it).
  const int32_t* slot_of_row() const { return slot_of_row_.data(); }

  // Forgets the batch's rows; their gradient rows are the caller's to clear.
  void clear() {
    for (const int64_t row : rows_) slot_of_row_[static_cast<size_t>(row)] = -1;
    rows_.clear();
  }

 private:
  std::vector<int32_t> slot_of_row_;  // -1 for rows the batch does not touch
  std::vector<int64_t> rows_;         // in slot order
};

}  // namespace collab
