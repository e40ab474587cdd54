// Finds the item a person means: a raw id ("50") or a title ("Star Wars (1977)", "star wars"),
// as `collab similar --item` and the cold-start `--ratings` accept them.
#pragma once

#include <cstdint>
#include <string>

#include "collab/data/vocabulary.h"

namespace collab {

// Tries, in order: the raw id; the exact title; the title ignoring ASCII case; a title prefix
// ignoring ASCII case, when only one item has it. Throws collab::Error, one line naming `query`:
// when nothing matches, or when a stage matches several items (the message lists up to 10 of
// them as "Title" (id), so the user can pick one by its raw id).
int64_t find_item(const Vocabulary& items, const std::string& query);

}  // namespace collab
