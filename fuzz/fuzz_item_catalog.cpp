// Fuzzes the MovieLens u.item reader (item_catalog): parse_movielens_items on a text buffer.
// Titles must come out as valid UTF-8 whatever the bytes (latin-1 is converted).
#include "collab/common/config_reader.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/data/item_catalog.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = collab::fuzz::as_text(data, size);
  collab::fuzz::expect_accept_or_error([&] {
    collab::Vocabulary items;
    const collab::ItemCatalog catalog = collab::parse_movielens_items(text, "fuzz.item", items);
    using collab::fuzz::check;
    check(!catalog.empty(), "accepted a file without items");
    check(static_cast<int64_t>(catalog.genres.size()) == items.size() &&
              catalog.release_dates.size() == catalog.genres.size(),
          "catalog not aligned with the item vocabulary");
    for (int64_t i = 0; i < items.size(); ++i) {
      // title() falls back to the raw id (decoded as titles are, under the "auto" encoding); a
      // title the file gave must be valid UTF-8, and valid as nlohmann's strict encoder sees it,
      // since titles end up in JSON (recommend --json, exports).
      if (items.title(i) != items.raw(i)) {
        check(collab::is_valid_utf8(items.title(i)), "a title is not valid UTF-8");
        try {
          collab::json(items.title(i)).dump();
        } catch (const collab::json::type_error&) {
          check(false, "a title the JSON encoder rejects as UTF-8");
        }
      }
      for (const uint8_t flag : catalog.genres[static_cast<size_t>(i)]) {
        check(flag <= 1, "a genre flag other than 0 or 1");
      }
    }
  });
  return 0;
}
