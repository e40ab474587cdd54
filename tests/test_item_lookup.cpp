// find_item: raw id, exact title, case-insensitive title, unique case-insensitive prefix; and the
// one-line errors for ambiguous and unknown queries.
#include <gtest/gtest.h>

#include <string>

#include "collab/common/error.h"
#include "collab/data/item_lookup.h"

namespace test_item_lookup {

namespace {

collab::Vocabulary catalogue() {
  collab::Vocabulary items;
  const std::pair<const char*, const char*> entries[] = {
      {"50", "Star Wars (1977)"},
      {"222", "Star Trek: First Contact (1996)"},
      {"229", "Star Trek III: The Search for Spock (1984)"},
      {"98", "Silence of the Lambs, The (1991)"},
      {"6", "Heat (1995)"},
      {"7", "Heat Wave (1990)"},
      {"301", "Chasers (1994)"},
      {"302", "Chasers (1994)"},  // MovieLens has a few duplicate titles
  };
  for (const auto& [raw, title] : entries) items.set_title(items.add(raw), title);
  items.add("999");  // no title: its raw id stands in
  return items;
}

std::string error_of(const collab::Vocabulary& items, const std::string& query) {
  try {
    collab::find_item(items, query);
  } catch (const collab::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ItemLookup, RawIdThenExactTitleThenCaseThenPrefix) {
  const collab::Vocabulary items = catalogue();
  EXPECT_EQ(collab::find_item(items, "50"), 0);
  EXPECT_EQ(collab::find_item(items, "999"), 8);
  EXPECT_EQ(collab::find_item(items, "Star Wars (1977)"), 0);
  EXPECT_EQ(collab::find_item(items, "star wars (1977)"), 0);
  EXPECT_EQ(collab::find_item(items, "silence"), 3);
  EXPECT_EQ(collab::find_item(items, "SILENCE OF THE LAMBS, THE (1991)"), 3);
  // "Heat (1995)" is exact even though it is also a prefix candidate of nothing else; "heat ("
  // prefixes only it.
  EXPECT_EQ(collab::find_item(items, "Heat (1995)"), 4);
  EXPECT_EQ(collab::find_item(items, "heat ("), 4);
  EXPECT_EQ(collab::find_item(items, "star trek iii"), 2);
}

TEST(ItemLookup, AmbiguousListsTheChoicesOnOneLine) {
  const collab::Vocabulary items = catalogue();
  const std::string star = error_of(items, "star trek");
  EXPECT_NE(star.find("\"star trek\" is ambiguous, it matches 2 items"), std::string::npos) << star;
  EXPECT_NE(star.find("\"Star Trek: First Contact (1996)\" (222)"), std::string::npos) << star;
  EXPECT_NE(star.find("(229)"), std::string::npos) << star;
  EXPECT_EQ(star.find('\n'), std::string::npos);
  const std::string heat = error_of(items, "heat");
  EXPECT_NE(heat.find("matches 2 items"), std::string::npos) << heat;
  // Two items with the same exact title: only their raw ids tell them apart.
  const std::string chasers = error_of(items, "Chasers (1994)");
  EXPECT_NE(chasers.find("(301)"), std::string::npos) << chasers;
  EXPECT_NE(chasers.find("(302)"), std::string::npos) << chasers;
}

TEST(ItemLookup, UnknownNamesTheQuery) {
  const collab::Vocabulary items = catalogue();
  const std::string e = error_of(items, "Casablanca");
  EXPECT_NE(e.find("item \"Casablanca\" is not an item id or title"), std::string::npos) << e;
  EXPECT_NE(error_of(items, "").find("item \"\""), std::string::npos);
}

}  // namespace

}  // namespace test_item_lookup
