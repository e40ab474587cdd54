// The ranked table `collab recommend` and `collab similar` print: rank, the item's id, a score
// to three decimals under `score_header` (6 characters), and the title. The id column is left
// out when no listed item has an id apart from its title (items keyed by title,
// data.item_key "title").
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "collab/data/vocabulary.h"
#include "collab/infer/top_k.h"

namespace collab {

void print_ranked_items(std::ostream& out, const std::vector<ScoredItem>& ranked,
                        const Vocabulary& items, const std::string& score_header);

}  // namespace collab
