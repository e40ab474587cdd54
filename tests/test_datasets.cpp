// Datasets by name (datasets.h): data.dataset picks each MovieLens release's ratings file, its
// delimiter, header and encoding, and its item catalogue, under <data root>/<folder>/ as the
// official zip unpacks. Each release is checked on fixture files written here in its exact
// layout (a few lines each, never MovieLens' own data).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "collab/common/config_reader.h"
#include "collab/common/error.h"
#include "collab/data/data_config.h"
#include "collab/data/dataset.h"
#include "collab/data/datasets.h"
#include "collab/train/run_config.h"
#include "test_support.h"

namespace test_datasets {

namespace {

namespace fs = std::filesystem;
using namespace collab::test;  // the shared helpers: test_support.h

collab::DataConfig config_of(const collab::json& data) {
  collab::ConfigReader reader(data, "data", nullptr);
  return collab::read_data_config(reader, "/tmp");
}

// Writes `files` into a fresh root/<folder>/ and loads the dataset `name` from it.
collab::Dataset load(const std::string& name,
                     const std::vector<std::pair<std::string, std::string>>& files) {
  const std::string root = temp_dir("collab-datasets");
  const std::string dir = root + "/" + collab::find_known_dataset(name).folder;
  for (const auto& [file, text] : files) write_text(dir + "/" + file, text);
  const collab::DataConfig c =
      config_of({{"dataset", name}, {"dir", dir}, {"valid_pct", 0.25}, {"split_seed", 1}});
  return collab::load_dataset(c);
}

std::string title_of(const collab::Dataset& d, const std::string& raw) {
  const auto index = d.items.find(raw);
  return index ? d.items.title(*index) : "<missing>";
}

const char* kCsvRatings =
    "userId,movieId,rating,timestamp\n"
    "1,1,4.0,964982703\n1,3,4.5,964981247\n2,1,0.5,964982224\n2,11,3.5,964983815\n";
const char* kMoviesCsv =
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    "3,Grumpier Old Men (1995),Comedy|Romance\n"
    "11,\"American President, The (1995)\",Comedy|Drama|Romance\n"
    "5,\"Caf\xc3\xa9, The (2019)\",(no genres listed)\n";

}  // namespace

TEST(Datasets, EachReleaseNamesItsFilesAndFormat) {
  const collab::DataConfig ml1m = config_of({{"dataset", "ml-1m"}});
  EXPECT_EQ(fs::path(ml1m.ratings).filename(), "ratings.dat");
  EXPECT_EQ(fs::path(ml1m.ratings).parent_path().filename(), "ml-1m");
  EXPECT_EQ(ml1m.format.delimiter, "::");
  EXPECT_FALSE(ml1m.format.header);
  EXPECT_EQ(ml1m.format.encoding, collab::TextEncoding::kLatin1);
  EXPECT_EQ(ml1m.items_format.layout, collab::CatalogueLayout::kMoviesDat);
  EXPECT_EQ(ml1m.items_format.encoding, collab::TextEncoding::kLatin1);

  const collab::DataConfig ml10m = config_of({{"dataset", "ml-10m"}});
  EXPECT_EQ(fs::path(ml10m.dir).filename(), "ml-10M100K");

  for (const char* name : {"ml-20m", "ml-25m", "ml-latest-small", "ml-latest"}) {
    const collab::DataConfig c = config_of({{"dataset", name}});
    EXPECT_EQ(fs::path(c.dir).filename(), name);
    EXPECT_EQ(fs::path(c.ratings).filename(), "ratings.csv");
    EXPECT_EQ(c.format.delimiter, ",");
    EXPECT_TRUE(c.format.header);
    EXPECT_EQ(c.format.encoding, collab::TextEncoding::kUtf8);
    EXPECT_EQ(c.items_format.layout, collab::CatalogueLayout::kMoviesCsv);
  }
  // ml-100k reads as it always did.
  const collab::DataConfig ml100k = config_of({{"dataset", "ml-100k"}});
  EXPECT_EQ(fs::path(ml100k.ratings).filename(), "u.data");
  EXPECT_EQ(ml100k.format.delimiter, "\t");
  EXPECT_EQ(ml100k.format.encoding, collab::TextEncoding::kAuto);
  EXPECT_EQ(ml100k.items_format.layout, collab::CatalogueLayout::kUItem);
  // A key given overrides the dataset's default.
  EXPECT_EQ(config_of({{"dataset", "ml-1m"}, {"encoding", "utf-8"}}).format.encoding,
            collab::TextEncoding::kUtf8);
  expect_one_line_error_thrown(
      [&] {
        config_of({{"dataset", "ml-2m"}});
      },
      {"data.dataset", "ml-10m", "ml-latest-small"});
}

TEST(Datasets, OneMillionDatLatin1) {
  const collab::Dataset d =
      load("ml-1m", {{"ratings.dat",
                      "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
                      "2::2::2::978299000\n"},
                     {"movies.dat",
                      "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                      "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
                      "2::Mis\xe9rables, Les (1995)::Drama|Musical\n"},
                     {"users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n"}});
  EXPECT_EQ(d.train.size() + d.valid.size(), 4u);
  EXPECT_EQ(title_of(d, "2"), "Mis\xc3\xa9rables, Les (1995)");
  EXPECT_EQ(d.catalog.genre_names,
            (std::vector<std::string>{"Animation", "Children's", "Drama", "Musical"}));
}

TEST(Datasets, TenMillionInItsOwnFolder) {
  const collab::Dataset d = load("ml-10m", {{"ratings.dat",
                                             "1::122::5::838985046\n1::185::4.5::838983525\n"
                                             "2::122::3.5::838983392\n3::185::1::838983421\n"},
                                            {"movies.dat",
                                             "122::Boomerang (1992)::Comedy|Romance\n"
                                             "185::Net, The (1995)::Action|Crime|Thriller\n"}});
  EXPECT_EQ(d.train.size() + d.valid.size(), 4u);
  EXPECT_EQ(title_of(d, "185"), "Net, The (1995)");
}

TEST(Datasets, CsvReleasesWithHalfStarsAndQuotedTitles) {
  for (const char* name : {"ml-20m", "ml-25m", "ml-latest-small", "ml-latest"}) {
    SCOPED_TRACE(name);
    const collab::Dataset d =
        load(name, {{"ratings.csv", kCsvRatings}, {"movies.csv", kMoviesCsv}});
    EXPECT_EQ(d.train.size() + d.valid.size(), 4u);
    EXPECT_EQ(title_of(d, "11"), "American President, The (1995)");
    EXPECT_EQ(title_of(d, "5"), "Caf\xc3\xa9, The (2019)");
    EXPECT_EQ(d.catalog.genre_names.size(), 7u);  // (no genres listed) is none
  }
}

TEST(Datasets, ReleaseErrorsNameFileLineAndField) {
  // A latin-1 byte in a release declared UTF-8.
  expect_one_line_error_thrown(
      [&] {
        load("ml-latest-small", {{"ratings.csv", kCsvRatings},
                                 {"movies.csv", "movieId,title,genres\n1,Caf\xe9 (1995),Drama\n"}});
      },
      {"movies.csv:2", "title", "not valid UTF-8"});
  // ml-1m's ratings with a single-colon line.
  expect_one_line_error_thrown(
      [&] {
        load("ml-1m", {{"ratings.dat", "1::1193::5::978300760\n1:661:3:978302109\n"},
                       {"movies.dat", "1193::A (1975)::Drama\n"}});
      },
      {"ratings.dat:2", "'::'"});
}

// configs/<dataset>/dot_product_bias.json: fastai's recipe for every known dataset, each a valid
// config that names its dataset.
TEST(Datasets, ShippedConfigsCoverEveryDataset) {
  for (const auto& d : collab::known_datasets()) {
    SCOPED_TRACE(d.name);
    const std::string path =
        std::string(COLLAB_SOURCE_DIR) + "/configs/" + d.name + "/dot_product_bias.json";
    const collab::RunConfig run = collab::load_run_config(path, {});
    EXPECT_EQ(run.data.dataset, d.name);
    EXPECT_EQ(fs::path(run.data.dir).filename(), d.folder);
    EXPECT_EQ(run.model["arch"], "DotProductBias");
    EXPECT_EQ(run.train.epochs, 5);
  }
}

}  // namespace test_datasets
