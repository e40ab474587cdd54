// Vocabulary: raw ids <-> contiguous indices in order of first appearance, with optional titles.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collab/common/error.h"
#include "collab/data/vocabulary.h"

namespace test_vocabulary {

TEST(Vocabulary, AddFindRawRoundTrip) {
  collab::Vocabulary v;
  EXPECT_EQ(v.size(), 0);
  EXPECT_EQ(v.add("196"), 0);
  EXPECT_EQ(v.add("u_42"), 1);
  EXPECT_EQ(v.add("196"), 0);  // existing ids keep their index
  EXPECT_EQ(v.add(""), 2);     // any string is an id, the empty one included
  EXPECT_EQ(v.size(), 3);
  for (int64_t i = 0; i < v.size(); ++i) {
    ASSERT_TRUE(v.find(v.raw(i)).has_value());
    EXPECT_EQ(*v.find(v.raw(i)), i);
  }
  EXPECT_FALSE(v.find("197").has_value());
  EXPECT_FALSE(v.find("19").has_value());
  EXPECT_EQ(v.raws(), (std::vector<std::string>{"196", "u_42", ""}));
  EXPECT_THROW(v.raw(3), std::out_of_range);
}

TEST(Vocabulary, AddTakesAStringViewWithoutKeepingIt) {
  collab::Vocabulary v;
  {
    std::string temporary = "item-7";
    v.add(std::string_view(temporary).substr(0, 6));
    temporary.assign("overwritten");
  }
  EXPECT_EQ(v.raw(0), "item-7");
  EXPECT_EQ(*v.find("item-7"), 0);
}

TEST(Vocabulary, TitlesDefaultToTheRawId) {
  collab::Vocabulary v;
  v.add("1");
  v.add("2");
  EXPECT_FALSE(v.has_titles());
  EXPECT_EQ(v.title(0), "1");
  v.set_title(1, "Toy Story (1995)");
  EXPECT_TRUE(v.has_titles());
  EXPECT_EQ(v.title(0), "1");  // no title: the raw id
  EXPECT_EQ(v.title(1), "Toy Story (1995)");
  EXPECT_EQ(v.raw(1), "2");  // the raw id is unchanged
  // Entries added after titles exist have none until one is set.
  EXPECT_EQ(v.add("3"), 2);
  EXPECT_EQ(v.title(2), "3");
  v.set_title(2, "GoldenEye (1995)");
  EXPECT_EQ(v.title(2), "GoldenEye (1995)");
  EXPECT_EQ(v.title(1), "Toy Story (1995)");
  EXPECT_THROW(v.set_title(3, "x"), std::out_of_range);
}

TEST(Vocabulary, AliasesNameAnExistingEntry) {
  collab::Vocabulary v;
  v.add("Chasing Amy (1997)");
  v.add("Gamma (1996)");
  v.add_alias("246", 0);
  v.add_alias("268", 0);
  v.add_alias("3", 1);
  v.add_alias("268", 0);                 // the same pair again: no-op
  v.add_alias("Chasing Amy (1997)", 0);  // an entry's own name: no-op
  EXPECT_EQ(v.size(), 2);
  EXPECT_EQ(v.find("246"), 0);
  EXPECT_EQ(v.find("268"), 0);
  EXPECT_EQ(v.add("268"), 0);  // add() finds an alias rather than adding an entry
  EXPECT_EQ(v.size(), 2);
  EXPECT_EQ(v.raw(0), "Chasing Amy (1997)");  // the entry keeps its own name
  EXPECT_EQ(v.raws(), (std::vector<std::string>{"Chasing Amy (1997)", "Gamma (1996)"}));
  using Alias = std::pair<std::string, int64_t>;
  EXPECT_EQ(v.aliases(), (std::vector<Alias>{{"246", 0}, {"268", 0}, {"3", 1}}));
  // New entries still come after the aliases' entries.
  EXPECT_EQ(v.add("999"), 2);
}

TEST(Vocabulary, AliasesCannotRenameOrPointNowhere) {
  collab::Vocabulary v;
  v.add("a");
  v.add("b");
  v.add_alias("1", 0);
  try {
    v.add_alias("1", 1);
    ADD_FAILURE() << "no error";
  } catch (const collab::Error& e) {
    EXPECT_STREQ(e.what(), "\"1\" cannot name \"b\": it already names \"a\"");
  }
  EXPECT_THROW(v.add_alias("b", 0), collab::Error);  // another entry's own name
  EXPECT_THROW(v.add_alias("x", 2), collab::Error);
  EXPECT_THROW(v.add_alias("x", -1), collab::Error);
  EXPECT_EQ(v.find("1"), 0);
  EXPECT_EQ(v.aliases().size(), 1u);
}

}  // namespace test_vocabulary
