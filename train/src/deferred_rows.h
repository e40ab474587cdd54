// FusedDotStep's deferred Adam (fused_dot.h says why) for one factor table: the zero-gradient
// steps that the rows a batch did not touch have yet to take, and how many of them each row has
// taken. A row takes the steps it missed, in order and with the dense pass's arithmetic, when a
// batch is about to touch it (listed by list_upcoming(), caught up on the step's threads), when
// one touches it, or when every row is caught up (flush()); its parameters are then the dense
// pass's bit for bit. Private to train/; header-only so that the forward pass inlines it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "adam_table.h"
#include "collab/data/batches.h"
#include "row_kernels.h"
#include "touched_rows.h"

namespace collab {

class DeferredRows {
 public:
  // Steps kept for rows not touched since; a full history is flushed (every row caught up),
  // which bounds its memory.
  static constexpr size_t kMaxHistory = 4096;

  // For a table of `table_rows` rows and batches of at most `max_batch` ratings.
  void reset(int64_t table_rows, int64_t max_batch) {
    history_.clear();
    history_.reserve(kMaxHistory);
    applied_.assign(static_cast<size_t>(table_rows), 0);
    listed_.clear();
    listed_.reserve(static_cast<size_t>(max_batch));
    listed_by_.assign(static_cast<size_t>(table_rows), -1);
  }

  // A step of the table: the rows it touches take it at once, with their gradient; the others
  // take it from here later.
  void add_step(const AdamScalars& s) { history_.push_back(s); }
  bool empty() const { return history_.empty(); }
  bool full() const { return history_.size() >= kMaxHistory; }

  // Row `row` of `table` takes the steps of the history it has not taken.
  void catch_up(AdamTable& table, int64_t row) {
    int32_t& applied = applied_[static_cast<size_t>(row)];
    const auto taken = static_cast<size_t>(applied);
    const size_t total = history_.size();
    if (taken == total) return;
    const int64_t offset = row * table.dim;
    adam_replay_without_grad(table.param + offset, table.exp_avg + offset,
                             table.exp_avg_root.data() + offset, table.dim, history_.data() + taken,
                             static_cast<int64_t>(total - taken));
    applied = static_cast<int32_t>(total);
  }
  // Rows [first, last) of `table` take their steps. Rows are independent and each takes its
  // steps in order, whatever thread runs it.
  void catch_up_rows(AdamTable& table, int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) catch_up(table, row);
  }
  // After every row is caught up: the history starts again.
  void restart() {
    history_.clear();
    std::fill(applied_.begin(), applied_.end(), 0);
  }
  // `rows` took every step of the history (this one with their gradient).
  void mark_caught_up(const std::vector<int64_t>& rows) {
    const auto taken = static_cast<int32_t>(history_.size());
    for (const int64_t row : rows) applied_[static_cast<size_t>(row)] = taken;
  }

  // Lists the rows in column `column` (0 users, 1 items) of the batch `next` that have steps to
  // take, once each, leaving out those this step's batch touched (they take this step with
  // their gradient). Replaces the previous list.
  void list_upcoming(const BatchSpan& next, int column, const TouchedRows& touched) {
    listed_.clear();
    const int64_t call = list_calls_++;
    const auto total = static_cast<int32_t>(history_.size());
    if (total == 0 || next.x == nullptr) return;
    for (int64_t r = 0; r < next.size; ++r) {
      const auto row = static_cast<size_t>(next.x[2 * r + column]);
      if (listed_by_[row] == call || touched.contains(static_cast<int64_t>(row)) ||
          applied_[row] == total)
        continue;
      listed_by_[row] = call;
      listed_.push_back(static_cast<int64_t>(row));
    }
  }
  size_t listed() const { return listed_.size(); }
  // Entries [first, last) of the list take their steps: rows and moments asked for
  // kRowLookahead rows ahead, as a short replay waits on its loads.
  void catch_up_listed(AdamTable& table, int64_t first, int64_t last) {
    auto prefetch = [&](int64_t k) __attribute__((always_inline)) {  // see COLLAB_PREFETCH
      table.prefetch_row_state(listed_[static_cast<size_t>(k)]);
    };
    for (int64_t k = first; k < std::min(last, first + kRowLookahead); ++k) prefetch(k);
    for (int64_t k = first; k < last; ++k) {
      if (k + kRowLookahead < last) prefetch(k + kRowLookahead);
      catch_up(table, listed_[static_cast<size_t>(k)]);
    }
  }

 private:
  std::vector<AdamScalars> history_;  // the steps since the last restart, oldest first
  std::vector<int32_t> applied_;      // per row, how many steps of the history it has taken
  std::vector<int64_t> listed_;       // list_upcoming()'s rows
  // Per row, the list_upcoming() call that last listed it (a row the batch names twice is
  // listed once).
  std::vector<int64_t> listed_by_;
  int64_t list_calls_ = 0;
};

}  // namespace collab
