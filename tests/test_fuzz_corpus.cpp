// The fuzzers' seed corpora (fuzz/corpus/<target>/) hold valid inputs: each must still parse, so
// that fuzzing starts from the readers' accepting paths (a seed the reader rejects only teaches
// the fuzzer the first error). Regression inputs from fuzzing findings are tested in the test file
// of the unit they broke.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "collab/train/run_config.h"
#include "collab/common/error.h"
#include "collab/data/item_catalog.h"
#include "collab/data/ratings.h"
#include "collab/train/checkpoint.h"
#include "test_support.h"

namespace test_fuzz_corpus {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> seeds(const std::string& target) {
  std::vector<std::string> paths;
  for (const auto& e :
       fs::directory_iterator(std::string(COLLAB_SOURCE_DIR) + "/fuzz/corpus/" + target)) {
    paths.push_back(e.path().string());
  }
  EXPECT_FALSE(paths.empty()) << "no seeds for " << target;
  return paths;
}

}  // namespace

TEST(FuzzCorpus, RunConfigSeedsAreValidConfigs) {
  for (const auto& path : seeds("run_config")) {
    SCOPED_TRACE(path);
    // As fuzz_run_config reads it: the config, then --set overrides after NUL bytes.
    const std::string input = collab::test::read_text(path);
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      const size_t nul = input.find('\0', start);
      parts.push_back(input.substr(start, nul == std::string::npos ? nul : nul - start));
      if (nul == std::string::npos) break;
      start = nul + 1;
    }
    const std::vector<std::string> overrides(parts.begin() + 1, parts.end());
    EXPECT_NO_THROW(
        collab::run_config_from_json(collab::parse_json_text(parts[0], path), path, overrides));
  }
}

TEST(FuzzCorpus, RatingsSeedsParse) {
  for (const auto& path : seeds("ratings")) {
    SCOPED_TRACE(path);
    // As fuzz_ratings reads it: a format byte (delimiter, header, rating range), then the text.
    const std::string input = collab::test::read_text(path);
    ASSERT_FALSE(input.empty());
    static const char* const kDelimiters[] = {"\t", ",", " ", ";", "|", ":", "::", ","};
    collab::RatingsFormat format;
    format.delimiter = kDelimiters[input[0] & 7];
    format.header = (input[0] & 8) != 0;
    if (input[0] & 16) format.rating_range = std::make_pair(1.0, 5.0);
    collab::Vocabulary users, items;
    EXPECT_GE(collab::parse_ratings(input.substr(1), path, format, users, items).size(), 2u);
  }
}

TEST(FuzzCorpus, ItemCatalogSeedsParse) {
  for (const auto& path : seeds("item_catalog")) {
    SCOPED_TRACE(path);
    collab::Vocabulary items;
    EXPECT_GE(
        collab::parse_movielens_items(collab::test::read_text(path), path, items).genres.size(),
        2u);
  }
}

TEST(FuzzCorpus, CheckpointSeedsDecode) {
  // tiny-checkpoint.bin is a whole file; tiny-payload.bin its payload, which the fuzzer (and so
  // this test) puts behind a header (fuzz/make_checkpoint_seed.cpp writes both).
  const std::string dir = std::string(COLLAB_SOURCE_DIR) + "/fuzz/corpus/checkpoint/";
  const std::string file = collab::test::read_text(dir + "tiny-checkpoint.bin");
  const collab::Checkpoint c = collab::decode_checkpoint(file, "tiny-checkpoint.bin");
  EXPECT_EQ(c.state.parameters.size(), 4u);
  EXPECT_EQ(c.items.size(), 4);
  EXPECT_EQ(collab::test::read_text(dir + "tiny-payload.bin"), file.substr(52))
      << "the payload seed is not the checkpoint seed's payload; rerun make_checkpoint_seed";
}

}  // namespace test_fuzz_corpus
