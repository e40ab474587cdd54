// read_movielens_items: MovieLens' u.item ('|'-separated, latin-1) into titles, dates and genre
// flags aligned with the item vocabulary.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/data/item_catalog.h"
#include "collab/data/item_features.h"
#include "test_support.h"

namespace test_item_catalog {

namespace {

using namespace collab::test;  // the shared helpers: test_support.h

std::string write_items(const std::string& text) {
  const std::string path = collab::test::temp_dir("collab-items") + "/u.item";
  collab::test::write_text(path, text);
  return path;
}

std::string read_error(const std::string& path) {
  collab::Vocabulary items;
  return error_of([&] { collab::read_movielens_items(path, items); },
                  "read_movielens_items(" + path + ")");
}

}  // namespace

TEST(ItemCatalog, ReadsTitlesDatesAndGenres) {
  // Toy Story: Animation (3), Children's (4), Comedy (5); GoldenEye: Action, Adventure, Thriller.
  const std::string path =
      write_items(item_line("1", "Toy Story (1995)", "01-Jan-1995", {3, 4, 5}) +
                  item_line("2", "GoldenEye (1995)", "", {1, 2, 16}));
  collab::Vocabulary items;
  const collab::ItemCatalog catalog = collab::read_movielens_items(path, items);
  ASSERT_EQ(items.size(), 2);
  ASSERT_EQ(catalog.genres.size(), 2u);
  ASSERT_EQ(catalog.release_dates.size(), 2u);
  EXPECT_EQ(items.raw(0), "1");
  EXPECT_EQ(items.title(0), "Toy Story (1995)");
  EXPECT_EQ(items.title(1), "GoldenEye (1995)");
  EXPECT_EQ(catalog.release_dates[0], "01-Jan-1995");
  EXPECT_EQ(catalog.release_dates[1], "");  // unknown date
  for (int g = 0; g < collab::kMovieLensGenres; ++g) {
    EXPECT_EQ(catalog.genres[0][g], (g == 3 || g == 4 || g == 5) ? 1 : 0) << "genre " << g;
    EXPECT_EQ(catalog.genres[1][g], (g == 1 || g == 2 || g == 16) ? 1 : 0) << "genre " << g;
  }
  EXPECT_STREQ(collab::kMovieLensGenreNames[3], "Animation");
  EXPECT_STREQ(collab::kMovieLensGenreNames[16], "Thriller");
}

TEST(ItemCatalog, Latin1TitleBecomesUtf8) {
  // 0xE9 is 'é' in latin-1 (as MovieLens writes it); in UTF-8 it is C3 A9.
  const std::string path = write_items(item_line("543", "Mis\xE9rables, Les (1995)", "", {8}));
  collab::Vocabulary items;
  collab::read_movielens_items(path, items);
  EXPECT_EQ(items.title(0), "Mis\xC3\xA9rables, Les (1995)");
  EXPECT_TRUE(collab::is_valid_utf8(items.title(0)));
}

TEST(ItemCatalog, Utf8TitleIsKept) {
  const std::string path = write_items(item_line("1", "Caf\xC3\xA9 (2000)", "", {}));
  collab::Vocabulary items;
  collab::read_movielens_items(path, items);
  EXPECT_EQ(items.title(0), "Caf\xC3\xA9 (2000)");  // not converted twice
}

TEST(ItemCatalog, CrlfAndBlankLines) {
  std::string a = item_line("1", "A", "", {0});
  std::string b = item_line("2", "B", "", {18});
  a.insert(a.size() - 1, "\r");
  b.insert(b.size() - 1, "\r");
  collab::Vocabulary items;
  const collab::ItemCatalog catalog =
      collab::read_movielens_items(write_items(a + "\r\n" + b + "\n"), items);
  ASSERT_EQ(items.size(), 2);
  EXPECT_EQ(catalog.genres[1][18], 1);  // the last flag has no '\r' attached
}

TEST(ItemCatalog, AlignsWithAnExistingVocabulary) {
  collab::Vocabulary items;
  items.add("99");  // e.g. an id seen before the catalogue
  const collab::ItemCatalog catalog =
      collab::read_movielens_items(write_items(item_line("1", "A", "d", {5})), items);
  ASSERT_EQ(items.size(), 2);
  ASSERT_EQ(catalog.genres.size(), 2u);
  EXPECT_EQ(catalog.genres[0][5], 0);  // "99" has no genres
  EXPECT_EQ(catalog.genres[1][5], 1);
  EXPECT_EQ(catalog.release_dates[1], "d");
  EXPECT_EQ(items.title(0), "99");
}

TEST(ItemCatalog, ResizeGrowsWithoutGenres) {
  collab::ItemCatalog catalog;
  catalog.genre_names = {"Action", "Drama"};
  EXPECT_TRUE(catalog.empty());
  catalog.resize(3);
  EXPECT_FALSE(catalog.empty());
  EXPECT_EQ(catalog.release_dates[2], "");
  EXPECT_EQ(catalog.genres[2], (std::vector<uint8_t>{0, 0}));  // one flag per genre name
}

TEST(ItemCatalog, MalformedLineNamesFileAndLine) {
  const std::string path =
      write_items(item_line("1", "A", "", {}) + "\n2|B|01-Jan-1995||http://x|0|1\n");
  const std::string message = read_error(path);
  EXPECT_EQ(message.rfind(path + ":3: ", 0), 0u) << message;  // the blank line 2 still counts
  EXPECT_TRUE(contains(message, "expected 24")) << message;
  EXPECT_TRUE(contains(message, "got 7")) << message;
}

TEST(ItemCatalog, BadGenreFlag) {
  std::string line = item_line("1", "A", "", {});
  line.replace(line.size() - 2, 1, "2");  // last flag (Western) is "2"
  const std::string path = write_items(line);
  const std::string message = read_error(path);
  EXPECT_EQ(message.rfind(path + ":1: ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "Western")) << message;
}

TEST(ItemCatalog, EmptyAndMissingFiles) {
  const std::string empty = write_items("\n");
  EXPECT_EQ(read_error(empty), empty + ": no items in the file");
  const std::string missing = collab::test::temp_dir("collab-items") + "/absent.item";
  EXPECT_EQ(read_error(missing).rfind(missing + ": cannot open", 0), 0u);
}

TEST(ItemCatalog, RealMovieLens) {
  COLLAB_REQUIRE_SHARED_DATA();
  collab::Vocabulary items;
  const collab::ItemCatalog catalog =
      collab::read_movielens_items(collab::test::shared_data_dir() + "/ml-100k/u.item", items);
  EXPECT_EQ(items.size(), 1682);
  EXPECT_EQ(catalog.genres.size(), 1682u);
  const auto toy_story = items.find("1");
  ASSERT_TRUE(toy_story.has_value());
  EXPECT_EQ(items.title(*toy_story), "Toy Story (1995)");
  EXPECT_EQ(catalog.release_dates[static_cast<size_t>(*toy_story)], "01-Jan-1995");
  EXPECT_EQ(catalog.genres[static_cast<size_t>(*toy_story)][3], 1);  // Animation
  const auto miserables = items.find("543");
  ASSERT_TRUE(miserables.has_value());
  EXPECT_EQ(items.title(*miserables), "Mis\xC3\xA9rables, Les (1995)");
  for (int64_t i = 0; i < items.size(); ++i) {
    ASSERT_TRUE(collab::is_valid_utf8(items.title(i))) << "item " << items.raw(i);
  }
}

// The features read from the data are MovieLens 100k's 28 columns, so models trained on it
// before schemas were read from the data train the same.
TEST(ItemCatalog, RealMovieLensKeepsItsFeatureColumns) {
  COLLAB_REQUIRE_SHARED_DATA();
  collab::Vocabulary items;
  const collab::ItemCatalog catalog =
      collab::read_movielens_items(collab::test::shared_data_dir() + "/ml-100k/u.item", items);
  EXPECT_EQ(collab::ItemFeatureSchema::of(catalog).names(), collab::item_feature_names());
  // Latin-1 declared gives the titles "auto" gave.
  collab::CatalogueFormat latin1;
  latin1.encoding = collab::TextEncoding::kLatin1;
  collab::Vocabulary declared;
  collab::read_item_catalog(collab::test::shared_data_dir() + "/ml-100k/u.item", latin1, declared);
  ASSERT_EQ(declared.size(), items.size());
  for (int64_t i = 0; i < items.size(); ++i) EXPECT_EQ(declared.title(i), items.title(i));
}

TEST(ItemCatalog, KeyedByTitleIdsSharingATitleShareOneRow) {
  const std::string path = write_items(item_line("246", "Chasing Amy (1997)", "01-Jan-1997", {5}) +
                                       item_line("1", "Toy Story (1995)", "", {3, 4}) +
                                       item_line("268", "Chasing Amy (1997)", "01-Jan-1997", {5}));
  collab::Vocabulary ids, titles;
  const collab::ItemCatalog by_id = collab::read_movielens_items(path, ids);
  const collab::ItemCatalog by_title = collab::key_catalog_by_title(by_id, ids, path, titles);
  ASSERT_EQ(titles.size(), 2);
  EXPECT_EQ(titles.raw(0), "Chasing Amy (1997)");
  EXPECT_EQ(titles.raw(1), "Toy Story (1995)");
  EXPECT_EQ(titles.find("246"), 0);
  EXPECT_EQ(titles.find("268"), 0);
  EXPECT_EQ(titles.find("1"), 1);
  ASSERT_EQ(by_title.genres.size(), 2u);
  EXPECT_EQ(by_title.release_dates, (std::vector<std::string>{"01-Jan-1997", ""}));
  EXPECT_EQ(by_title.genres[0][5], 1);
  EXPECT_EQ(by_title.genres[1][3], 1);
  EXPECT_EQ(by_title.genres[1][4], 1);
}

TEST(ItemCatalog, KeyedByTitleRefusesUntitledAndClashingItems) {
  const auto error = [](const std::string& text) -> std::string {
    const std::string path = write_items(text);
    collab::Vocabulary ids, titles;
    const collab::ItemCatalog by_id = collab::read_movielens_items(path, ids);
    try {
      collab::key_catalog_by_title(by_id, ids, path, titles);
    } catch (const collab::Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error for " << text;
    return "";
  };
  EXPECT_TRUE(contains(error(item_line("7", "", "", {})), "item 7 has no title"))
      << error(item_line("7", "", "", {}));
  // A title that is an id seen before, and an id that is a title seen before.
  const std::string earlier = error(item_line("7", "Seven", "", {}) + item_line("8", "7", "", {}));
  EXPECT_TRUE(contains(earlier, "the title of item 8, \"7\", is also an item id")) << earlier;
  const std::string later = error(item_line("7", "8", "", {}) + item_line("8", "Eight", "", {}));
  EXPECT_TRUE(contains(later, "clash")) << later;
}

}  // namespace test_item_catalog
