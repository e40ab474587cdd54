#include "collab/data/vocabulary.h"

#include "collab/common/error.h"

namespace collab {

int64_t Vocabulary::add(std::string_view raw) {
  auto it = index_.find(std::string(raw));
  if (it != index_.end()) return it->second;
  const auto index = static_cast<int64_t>(raws_.size());
  raws_.emplace_back(raw);
  index_.emplace(raws_.back(), index);
  if (!titles_.empty()) titles_.emplace_back();
  return index;
}

std::optional<int64_t> Vocabulary::find(std::string_view raw) const {
  auto it = index_.find(std::string(raw));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

void Vocabulary::add_alias(std::string_view alias, int64_t index) {
  if (index < 0 || index >= size()) {
    throw Error("alias \"" + std::string(alias) + "\": no entry " + std::to_string(index));
  }
  const auto [it, added] = index_.emplace(std::string(alias), index);
  if (!added) {
    if (it->second == index) return;
    throw Error("\"" + std::string(alias) + "\" cannot name \"" + raw(index) +
                "\": it already names \"" + raw(it->second) + "\"");
  }
  aliases_.emplace_back(alias, index);
}

void Vocabulary::set_title(int64_t index, std::string title) {
  if (titles_.empty()) titles_.resize(raws_.size());
  titles_.at(static_cast<size_t>(index)) = std::move(title);
}

const std::string& Vocabulary::title(int64_t index) const {
  const auto i = static_cast<size_t>(index);
  if (i < titles_.size() && !titles_[i].empty()) return titles_[i];
  return raws_.at(i);
}

}  // namespace collab
