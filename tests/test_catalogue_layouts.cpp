// Item catalogues in each layout (item_catalog.h): movies.dat (MovieLens 1M/10M, "::", latin-1),
// movies.csv (20M/25M/latest, RFC 4180 quoting, UTF-8) and a generic CSV/TSV with named
// columns; the genre vocabulary and release years read from the data, the feature schema built
// from them, and every error naming the file, line and field. Fixtures are written here in each
// exact format (no MovieLens data).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/common/error.h"
#include "collab/data/data_config.h"
#include "collab/data/item_catalog.h"
#include "collab/data/item_features.h"
#include "test_support.h"

namespace test_catalogue_layouts {

namespace {

using namespace collab::test;  // the shared helpers: test_support.h
using collab::CatalogueFormat;
using collab::CatalogueLayout;
using collab::TextEncoding;

CatalogueFormat layout(CatalogueLayout l, TextEncoding e = TextEncoding::kAuto) {
  CatalogueFormat f;
  f.layout = l;
  f.encoding = e;
  return f;
}

collab::ItemCatalog parse(const std::string& text, const CatalogueFormat& format,
                          collab::Vocabulary& items, const std::string& origin = "items") {
  return collab::parse_item_catalog(text, origin, format, items);
}

std::vector<std::string> flagged(const collab::ItemCatalog& c, size_t item) {
  std::vector<std::string> out;
  for (size_t g = 0; g < c.genre_names.size(); ++g) {
    if (c.genres[item][g]) out.push_back(c.genre_names[g]);
  }
  return out;
}

collab::DataConfig data_config(const collab::json& data) {
  collab::ConfigReader reader(data, "data", nullptr);
  return collab::read_data_config(reader, "/tmp");
}

}  // namespace

TEST(CatalogueLayouts, MoviesDatLatin1) {
  collab::Vocabulary items;
  const auto c = parse(
      "1::Toy Story (1995)::Animation|Children's|Comedy\r\n"
      "2::Mis\xe9rables, Les (1995)::Drama\n"
      "3::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
      "4::Untitled::(no genres listed)\n",
      layout(CatalogueLayout::kMoviesDat, TextEncoding::kLatin1), items, "movies.dat");
  ASSERT_EQ(items.size(), 4);
  EXPECT_EQ(items.title(1), "Mis\xc3\xa9rables, Les (1995)");
  EXPECT_EQ(items.title(2), "Star Wars: Episode IV - A New Hope (1977)");
  EXPECT_EQ(c.genre_names, (std::vector<std::string>{"Action", "Animation", "Children's", "Comedy",
                                                     "Drama", "Sci-Fi"}));
  EXPECT_EQ(flagged(c, 0), (std::vector<std::string>{"Animation", "Children's", "Comedy"}));
  EXPECT_TRUE(flagged(c, 3).empty());
  EXPECT_EQ(c.release_dates, (std::vector<std::string>{"1995", "1995", "1977", ""}));
}

TEST(CatalogueLayouts, MoviesCsvQuotedTitlesBomAndNewGenres) {
  collab::Vocabulary items;
  const auto c = parse(
      "\xEF\xBB\xBFmovieId,title,genres\n"
      "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
      "11,\"American President, The (1995)\",Comedy|Drama|Romance\n"
      "3,\"Say \"\"Cheese\"\" (2016)\",IMAX\n"
      "4,Caf\xc3\xa9 Society (1874),(no genres listed)\n"
      "5,Sherlock (2010-2012),Crime\n",
      layout(CatalogueLayout::kMoviesCsv, TextEncoding::kUtf8), items, "movies.csv");
  ASSERT_EQ(items.size(), 5);
  EXPECT_EQ(items.raw(1), "11");
  EXPECT_EQ(items.title(1), "American President, The (1995)");
  EXPECT_EQ(items.title(2), "Say \"Cheese\" (2016)");
  EXPECT_EQ(items.title(3), "Caf\xc3\xa9 Society (1874)");
  EXPECT_EQ(flagged(c, 2), (std::vector<std::string>{"IMAX"}));
  EXPECT_EQ(c.release_dates, (std::vector<std::string>{"1995", "1995", "2016", "1874", "2010"}));
  // Decades cover the data: 1870s .. 2010s, after the 9 genres.
  const collab::ItemFeatureSchema schema = collab::ItemFeatureSchema::of(c);
  EXPECT_EQ(schema.genres.size(), 9u);
  EXPECT_EQ(schema.first_decade, 1870);
  EXPECT_EQ(schema.decades, 15);
  const auto names = schema.names();
  EXPECT_EQ(names.back(), "2010s");
  const torch::Tensor f = collab::item_feature_matrix(c, schema, items.size());
  ASSERT_EQ(f.size(1), 24);
  EXPECT_EQ(f[2].sum().item<float>(), 2.0f);  // IMAX, 2010s
  EXPECT_EQ(f[2][schema.decade_column(2016)].item<float>(), 1.0f);
  EXPECT_EQ(f[3][schema.decade_column(1874)].item<float>(), 1.0f);
  EXPECT_EQ(f[3].sum().item<float>(), 1.0f);  // no genres, one decade
  // --features names columns as the data does.
  const torch::Tensor q = collab::parse_item_features("imax,2010s,Children", schema);
  EXPECT_EQ(q.sum().item<float>(), 3.0f);
  expect_one_line_error_thrown([&] { collab::parse_item_features("Children's", schema); },
                               {"\"Children's\"", "Children"});
}

TEST(CatalogueLayouts, GenericCsvAndTsvWithNamedColumns) {
  CatalogueFormat tsv = layout(CatalogueLayout::kCsv);
  tsv.delimiter = "\t";
  tsv.id_column = "item";
  tsv.title_column = "name";
  tsv.label_columns = {"tags", "lang"};
  collab::Vocabulary items;
  const auto c = parse(
      "lang\titem\tname\ttags\n"
      "en\ta7\tFirst (2001)\tx|y\n"
      "fr\tb8\tSecond\t\n",
      tsv, items, "items.tsv");
  ASSERT_EQ(items.size(), 2);
  EXPECT_EQ(items.raw(0), "a7");
  EXPECT_EQ(items.title(1), "Second");
  EXPECT_EQ(c.genre_names, (std::vector<std::string>{"lang=en", "lang=fr", "tags=x", "tags=y"}));
  EXPECT_EQ(flagged(c, 0), (std::vector<std::string>{"lang=en", "tags=x", "tags=y"}));
  EXPECT_EQ(c.release_dates, (std::vector<std::string>{"2001", ""}));

  CatalogueFormat csv = layout(CatalogueLayout::kCsv);
  csv.id_column = "id";
  csv.title_column = "title";
  collab::Vocabulary more;
  const auto d = parse("id,title\n1,\"A, B\"\n", csv, more);
  EXPECT_EQ(more.title(0), "A, B");
  EXPECT_TRUE(d.genre_names.empty());
}

TEST(CatalogueLayouts, ErrorsNameFileLineAndField) {
  collab::Vocabulary a;
  expect_one_line_error_thrown(
      [&] {
        parse("1::A (1995)::Drama\n2::B (1996)\n", layout(CatalogueLayout::kMoviesDat), a,
              "movies.dat");
      },
      {"movies.dat:2", "expected 3 fields (MovieID::Title::Genres)", "'::'", "got 2"});
  collab::Vocabulary b;
  expect_one_line_error_thrown(
      [&] {
        parse("movieId,title,genres\n1,Caf\xe9 (1995),Drama\n",
              layout(CatalogueLayout::kMoviesCsv, TextEncoding::kUtf8), b, "movies.csv");
      },
      {"movies.csv:2", "title \"Caf\\xe9 (1995)\"", "not valid UTF-8", "latin-1"});
  collab::Vocabulary c;
  expect_one_line_error_thrown(
      [&] {
        parse("movieId,title,genres\n1,\"Open, (1995),Drama\n", layout(CatalogueLayout::kMoviesCsv),
              c, "movies.csv");
      },
      {"movies.csv:2", "quoted field"});
  collab::Vocabulary d;
  expect_one_line_error_thrown(
      [&] {
        parse("movieId,name,genres\n1,A,Drama\n", layout(CatalogueLayout::kMoviesCsv), d,
              "movies.csv");
      },
      {"movies.csv:1", "movieId,title,genres"});
  collab::Vocabulary e;
  expect_one_line_error_thrown(
      [&] {
        parse("1::A::Drama\n1::B::Comedy\n", layout(CatalogueLayout::kMoviesDat), e, "m.dat");
      },
      {"m.dat:2", "item \"1\" is listed again (first at line 1)"});
  CatalogueFormat generic = layout(CatalogueLayout::kCsv);
  generic.title_column = "name";
  collab::Vocabulary f;
  expect_one_line_error_thrown(
      [&] { parse("id,title\n1,A\n", generic, f, "i.csv"); },
      {"i.csv:1", "no column \"name\"", "data.item_columns.title", "\"id\", \"title\""});
  collab::Vocabulary g;
  expect_one_line_error_thrown([&] { parse("id,name\n1,A,x\n", generic, g, "i.csv"); },
                               {"i.csv:2", "expected 2 fields", "got 3"});
  collab::Vocabulary h;
  expect_one_line_error_thrown([&] { parse("\n\n", layout(CatalogueLayout::kMoviesDat), h, "m"); },
                               {"no items"});
}

TEST(CatalogueLayouts, YearOfTitle) {
  EXPECT_EQ(collab::year_of_title("Toy Story (1995)"), "1995");
  EXPECT_EQ(collab::year_of_title(" Heat (1995) "), "1995");
  EXPECT_EQ(collab::year_of_title("Sherlock (2010-2012)"), "2010");
  EXPECT_EQ(collab::year_of_title("Babylon 5"), "");
  EXPECT_EQ(collab::year_of_title("1984 (12345)"), "");
  EXPECT_EQ(collab::year_of_title("(abcd)"), "");
}

TEST(CatalogueLayouts, SchemaNamesRoundTrip) {
  const auto s100k = collab::ItemFeatureSchema::movielens_100k();
  EXPECT_EQ(s100k.size(), collab::kItemFeatures);
  const auto back = collab::ItemFeatureSchema::from_names(s100k.names());
  EXPECT_EQ(back.genres, s100k.genres);
  EXPECT_EQ(back.first_decade, 1920);
  EXPECT_EQ(back.decades, 9);
  expect_one_line_error_thrown(
      [&] {
        collab::ItemFeatureSchema::from_names({"Drama", "Comedy"});
      },
      {"no decade"});
  expect_one_line_error_thrown(
      [&] {
        collab::ItemFeatureSchema::from_names({"Drama", "1990s", "2010s"});
      },
      {"not consecutive"});
}

TEST(CatalogueLayouts, ConfigGuessesTheLayoutAndChecksColumns) {
  EXPECT_EQ(data_config({{"ratings", "r"}, {"items", "ml-1m/movies.dat"}}).items_format.layout,
            CatalogueLayout::kMoviesDat);
  EXPECT_EQ(data_config({{"ratings", "r"}, {"items", "movies.csv"}}).items_format.layout,
            CatalogueLayout::kMoviesCsv);
  EXPECT_EQ(data_config({{"ratings", "r"}, {"items", "u.item"}}).items_format.layout,
            CatalogueLayout::kUItem);
  const collab::DataConfig c =
      data_config({{"ratings", "r"},
                   {"items", "films.tsv"},
                   {"items_format", "csv"},
                   {"items_delimiter", "\t"},
                   {"encoding", "latin-1"},
                   {"item_columns", {{"id", "film"}, {"title", "name"}, {"labels", {"genre"}}}}});
  EXPECT_EQ(c.items_format.layout, CatalogueLayout::kCsv);
  EXPECT_EQ(c.items_format.delimiter, "\t");
  EXPECT_EQ(c.items_format.id_column, "film");
  EXPECT_EQ(c.items_format.label_columns, (std::vector<std::string>{"genre"}));
  EXPECT_EQ(c.items_format.encoding, TextEncoding::kLatin1);
  expect_one_line_error_thrown(
      [&] {
        data_config({{"ratings", "r"}, {"items", "f.csv"}, {"items_format", "csv"}});
      },
      {"data.item_columns", "missing"});
  expect_one_line_error_thrown(
      [&] {
        data_config({{"ratings", "r"}, {"items", "u.item"}, {"items_delimiter", ","}});
      },
      {"data.items_delimiter", "only for data.items_format \"csv\""});
  expect_one_line_error_thrown(
      [&] {
        data_config({{"ratings", "r"},
                     {"items", "f.csv"},
                     {"items_format", "csv"},
                     {"item_columns", {{"id", "a"}, {"title", "b"}, {"labels", "c"}}}});
      },
      {"data.item_columns.labels", "array"});
}

}  // namespace test_catalogue_layouts
