// Maps raw ids as they appear in data files ("196", "u_42") to contiguous indices 0..n-1 and
// back, in order of first appearance; an optional title per entry (MovieLens item titles) and
// optional aliases: further raw ids naming an existing entry (the item ids of a title-keyed item
// vocabulary, data.item_key "title", so ratings and queries naming ids still find their title).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace collab {

class Vocabulary {
 public:
  // Index of `raw` (an entry's own raw id or an alias), adding it as a new entry when unknown.
  int64_t add(std::string_view raw);
  std::optional<int64_t> find(std::string_view raw) const;
  const std::string& raw(int64_t index) const { return raws_.at(static_cast<size_t>(index)); }
  int64_t size() const { return static_cast<int64_t>(raws_.size()); }
  const std::vector<std::string>& raws() const { return raws_; }

  void set_title(int64_t index, std::string title);
  // The entry's title, or its raw id when it has none.
  const std::string& title(int64_t index) const;
  bool has_titles() const { return !titles_.empty(); }

  // Makes `alias` a second name of entry `index`: find() and add() then return `index`, while
  // raw(index) keeps the entry's own name. Adding the same pair again is a no-op; an alias that
  // already names another entry throws collab::Error.
  void add_alias(std::string_view alias, int64_t index);
  // (alias, index) pairs in the order they were added.
  const std::vector<std::pair<std::string, int64_t>>& aliases() const { return aliases_; }

 private:
  std::vector<std::string> raws_;
  std::vector<std::string> titles_;  // empty until a title is set, then sized with raws_
  std::vector<std::pair<std::string, int64_t>> aliases_;
  std::unordered_map<std::string, int64_t> index_;  // raw ids and aliases
};

}  // namespace collab
