#include "collab/app/ranked_items.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace collab {

void print_ranked_items(std::ostream& out, const std::vector<ScoredItem>& ranked,
                        const Vocabulary& items, const std::string& score_header) {
  const bool ids = std::any_of(ranked.begin(), ranked.end(), [&](const ScoredItem& s) {
    return items.raw(s.item) != items.title(s.item);
  });
  size_t id_width = 4;
  for (const ScoredItem& s : ranked) id_width = std::max(id_width, items.raw(s.item).size());
  out << "rank  ";
  if (ids)
    out << std::left << std::setw(static_cast<int>(id_width)) << "item"
        << "  ";
  out << score_header << "  title\n";
  for (size_t r = 0; r < ranked.size(); ++r) {
    std::ostringstream score;
    score << std::fixed << std::setprecision(3) << ranked[r].score;
    out << std::right << std::setw(4) << r + 1 << "  ";
    if (ids) {
      out << std::left << std::setw(static_cast<int>(id_width)) << items.raw(ranked[r].item)
          << "  ";
    }
    out << std::right << std::setw(6) << score.str() << "  " << items.title(ranked[r].item) << "\n";
  }
}

}  // namespace collab
