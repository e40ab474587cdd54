#include "collab/data/vocabulary.h"

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
