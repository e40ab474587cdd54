// Vocabulary: raw ids <-> contiguous indices in order of first appearance, with optional titles.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace test_vocabulary
