// Maps raw ids as they appear in data files ("196", "u_42") to contiguous indices 0..n-1 and
// back, in order of first appearance; an optional title per entry (MovieLens item titles).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace collab {

class Vocabulary {
 public:
  // Index of `raw`, adding it when new.
  int64_t add(std::string_view raw);
  std::optional<int64_t> find(std::string_view raw) const;
  const std::string& raw(int64_t index) const { return raws_.at(static_cast<size_t>(index)); }
  int64_t size() const { return static_cast<int64_t>(raws_.size()); }
  const std::vector<std::string>& raws() const { return raws_; }

  void set_title(int64_t index, std::string title);
  // The entry's title, or its raw id when it has none.
  const std::string& title(int64_t index) const;
  bool has_titles() const { return !titles_.empty(); }

 private:
  std::vector<std::string> raws_;
  std::vector<std::string> titles_;  // empty until a title is set, then sized with raws_
  std::unordered_map<std::string, int64_t> index_;
};

}  // namespace collab
