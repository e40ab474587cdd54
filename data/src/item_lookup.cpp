#include "collab/data/item_lookup.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "collab/common/error.h"
#include "collab/common/utf8.h"

namespace collab {

namespace {

std::string ascii_lower(std::string s) {
  // Bytes >= 0x80 (UTF-8 sequences) pass through: only ASCII letters fold.
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

[[noreturn]] void ambiguous_item(const Vocabulary& items, const std::string& query,
                                 const std::vector<int64_t>& matches) {
  constexpr size_t kListed = 10;
  std::string list;
  for (size_t m = 0; m < matches.size() && m < kListed; ++m) {
    list += (m ? ", \"" : "\"") + items.title(matches[m]) + "\" (" + items.raw(matches[m]) + ")";
  }
  if (matches.size() > kListed)
    list += ", ... (" + std::to_string(matches.size() - kListed) + " more)";
  throw Error("item " + quoted_for_message(query) + " is ambiguous, it matches " +
              std::to_string(matches.size()) + " items: " + list +
              "; give a raw id or more of the title");
}

}  // namespace

int64_t find_item(const Vocabulary& items, const std::string& query) {
  if (const auto index = items.find(query)) return *index;
  if (query.empty()) throw Error("item \"\" is not an item id or title");
  const std::string lower = ascii_lower(query);
  std::vector<int64_t> exact, folded, prefixed;
  for (int64_t i = 0; i < items.size(); ++i) {
    const std::string& title = items.title(i);
    if (title == query) exact.push_back(i);
    const std::string t = ascii_lower(title);
    if (t == lower) folded.push_back(i);
    if (t.compare(0, lower.size(), lower) == 0) prefixed.push_back(i);
  }
  // The first stage with any match decides: an exact title wins over a longer one it prefixes.
  for (const auto* stage : {&exact, &folded, &prefixed}) {
    if (stage->size() == 1) return stage->front();
    if (stage->size() > 1) ambiguous_item(items, query, *stage);
  }
  throw Error("item " + quoted_for_message(query) + " is not an item id or title of the model's " +
              std::to_string(items.size()) + " items");
}

}  // namespace collab
