// Item content features: genre flags and a one-hot release decade per vocabulary row, zero rows
// for items the catalogue lacks, and the --features list parser with its errors.
#include <gtest/gtest.h>

#include <string>

#include "collab/common/error.h"
#include "collab/data/item_features.h"
#include "test_support.h"

namespace test_item_features {

namespace {

torch::Tensor parse(const std::string& spec) {
  return collab::parse_item_features(spec, collab::ItemFeatureSchema::movielens_100k());
}

TEST(ItemFeatures, NamesAndDecades) {
  const auto names = collab::item_feature_names();
  ASSERT_EQ(names.size(), static_cast<size_t>(collab::kItemFeatures));
  EXPECT_EQ(names[1], "Action");
  EXPECT_EQ(names[collab::kMovieLensGenres], "1920s");
  EXPECT_EQ(names.back(), "2000s");
  EXPECT_EQ(collab::decade_feature(1995), collab::kMovieLensGenres + 7);
  EXPECT_EQ(collab::decade_feature(1990), collab::kMovieLensGenres + 7);
  // The ends are open: earlier years join the first decade, later ones the last.
  EXPECT_EQ(collab::decade_feature(1895), collab::kMovieLensGenres);
  EXPECT_EQ(collab::decade_feature(2024), collab::kItemFeatures - 1);
  EXPECT_EQ(collab::release_year("01-Jan-1995"), 1995);
  EXPECT_FALSE(collab::release_year("").has_value());
  EXPECT_FALSE(collab::release_year("unknown").has_value());
}

TEST(ItemFeatures, MatrixFollowsTheVocabulary) {
  const std::string dir = collab::test::temp_dir("collab-item-features");
  // Item 2 has no date; its row still carries its genres.
  collab::test::write_text(dir + "/u.item",
                           "1|A (1995)|01-Jan-1995||u|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0\n"
                           "2|B|||u|0|0|0|0|0|1|0|0|1|0|0|0|0|0|0|0|0|0|0\n");
  collab::Vocabulary items;
  const collab::ItemCatalog catalog = collab::read_movielens_items(dir + "/u.item", items);
  items.add("99");  // an item seen only in ratings
  const collab::ItemFeatureSchema schema = collab::ItemFeatureSchema::of(catalog);
  EXPECT_EQ(schema.names(), collab::item_feature_names());  // u.item's years: 100k's columns
  const torch::Tensor f = collab::item_feature_matrix(catalog, schema, items.size());
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{3, collab::kItemFeatures}));
  EXPECT_EQ(f[0].sum().item<float>(), 3.0f);  // Action, Thriller, 1990s
  EXPECT_EQ(f[0][1].item<float>(), 1.0f);
  EXPECT_EQ(f[0][16].item<float>(), 1.0f);
  EXPECT_EQ(f[0][collab::decade_feature(1995)].item<float>(), 1.0f);
  EXPECT_EQ(f[1].sum().item<float>(), 2.0f);  // Comedy, Drama, no decade
  EXPECT_EQ(f[2].sum().item<float>(), 0.0f);
}

TEST(ItemFeatures, ParsesGenresDecadesAndYears) {
  const torch::Tensor f = parse(" thriller, Crime ,1991");
  EXPECT_EQ(f.sum().item<float>(), 3.0f);
  EXPECT_EQ(f[16].item<float>(), 1.0f);
  EXPECT_EQ(f[6].item<float>(), 1.0f);
  EXPECT_EQ(f[collab::decade_feature(1991)].item<float>(), 1.0f);
  EXPECT_TRUE(torch::equal(parse("1990s,Children's"), parse("children's,1999")));
}

TEST(ItemFeatures, ParseErrorsNameTheEntry) {
  try {
    parse("Drama,Cowboy");
    ADD_FAILURE() << "no error";
  } catch (const collab::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("\"Cowboy\""), std::string::npos) << what;
    EXPECT_NE(what.find("Western"), std::string::npos) << what;  // lists the valid names
  }
  EXPECT_THROW(parse(" , "), collab::Error);
  EXPECT_THROW(parse("199"), collab::Error);  // not a year
}

}  // namespace

}  // namespace test_item_features
