// read_ratings: the delimited ratings reader (MovieLens u.data, CSV exports) and its errors,
// each naming the file and line at fault.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/data/ratings.h"
#include "test_support.h"

namespace test_ratings {

namespace {

using collab::RatingsFormat;
using namespace collab::test;  // the shared helpers: test_support.h

std::string write_ratings(const std::string& text, const std::string& name = "ratings.tsv") {
  const std::string path = collab::test::temp_dir("collab-ratings") + "/" + name;
  collab::test::write_text(path, text);
  return path;
}

RatingsFormat csv(bool header = false) {
  RatingsFormat f;
  f.delimiter = ",";
  f.header = header;
  return f;
}

// The message of the collab::Error read_ratings throws, or "" with a failure.
std::string read_error(const std::string& path, const RatingsFormat& format = {}) {
  collab::Vocabulary users, items;
  return error_of([&] { collab::read_ratings(path, format, users, items); },
                  "read_ratings(" + path + ")");
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

}  // namespace

TEST(ReadRatings, TabSeparatedWithTimestamps) {
  const std::string path = write_ratings(
      "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"
      "196\t377\t1\t878887116\n");
  collab::Vocabulary users, items;
  const collab::Ratings r = collab::read_ratings(path, {}, users, items);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(users.size(), 2);
  EXPECT_EQ(items.size(), 3);
  EXPECT_EQ(r.users, (std::vector<int32_t>{0, 1, 0}));  // vocabulary order of first appearance
  EXPECT_EQ(r.items, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(r.ratings.to_vector(), (std::vector<float>{3, 3, 1}));
  EXPECT_EQ(r.timestamps, (std::vector<int64_t>{881250949, 891717742, 878887116}));
  EXPECT_EQ(users.raw(0), "196");
  EXPECT_EQ(items.raw(2), "377");
}

TEST(ReadRatings, CommaSeparatedWithHeaderThreeColumnsAndFractions) {
  const std::string path =
      write_ratings("userId,movieId,rating\nu1,m1,4.5\nu2, m1 ,0.5\nu1,m2,3\n", "r.csv");
  collab::Vocabulary users, items;
  const collab::Ratings r = collab::read_ratings(path, csv(/*header=*/true), users, items);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.ratings.to_vector(), (std::vector<float>{4.5f, 0.5f, 3.0f}));
  // No timestamp column: nothing stored, every timestamp reads as 0.
  EXPECT_TRUE(r.timestamps.empty());
  EXPECT_EQ(r.timestamp(2), 0);
  EXPECT_EQ(users.raws(), (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(items.raws(), (std::vector<std::string>{"m1", "m2"}));  // fields are trimmed
}

TEST(ReadRatings, ThreeAndFourColumnsMayMix) {
  const std::string path = write_ratings("1\t1\t5\n2\t1\t4\t100\n");
  collab::Vocabulary users, items;
  const collab::Ratings r = collab::read_ratings(path, {}, users, items);
  EXPECT_EQ(r.timestamps, (std::vector<int64_t>{0, 100}));
}

TEST(ReadRatings, CrlfAndBlankLinesAreAccepted) {
  const std::string path =
      write_ratings("1\t10\t5\t1\r\n\r\n2\t10\t4\t2\r\n   \n\n3\t20\t3\t3\r\n\r\n");
  collab::Vocabulary users, items;
  const collab::Ratings r = collab::read_ratings(path, {}, users, items);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.ratings.to_vector(), (std::vector<float>{5, 4, 3}));
  EXPECT_EQ(r.timestamps, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(items.raw(1), "20");  // no '\r' left on the ids
}

TEST(ReadRatings, NoTrailingNewline) {
  const std::string path = write_ratings("1\t10\t5\n2\t10\t4");
  collab::Vocabulary users, items;
  EXPECT_EQ(collab::read_ratings(path, {}, users, items).size(), 2u);
}

TEST(ReadRatings, ExistingVocabulariesAreExtended) {
  collab::Vocabulary users, items;
  users.add("7");
  items.add("x");
  const collab::Ratings r =
      collab::read_ratings(write_ratings("8\tx\t1\n7\ty\t2\n"), {}, users, items);
  EXPECT_EQ(r.users, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(r.items, (std::vector<int32_t>{0, 1}));
}

TEST(ReadRatings, MalformedLineNamesFileAndLine) {
  const std::string path = write_ratings("1\t10\t5\t1\n\n2\t10\n");
  const std::string message = read_error(path);
  EXPECT_TRUE(starts_with(message, path + ":3: ")) << message;  // blank lines still count
  EXPECT_TRUE(contains(message, "expected 3 or 4 fields")) << message;
  EXPECT_TRUE(contains(message, "got 2")) << message;
}

TEST(ReadRatings, WrongDelimiterIsReported) {
  const std::string path = write_ratings("1,10,5\n", "r.csv");
  const std::string message = read_error(path);  // read as tab-separated
  EXPECT_TRUE(starts_with(message, path + ":1: ")) << message;
  EXPECT_TRUE(contains(message, "tab")) << message;
}

TEST(ReadRatings, TooManyFields) {
  const std::string path = write_ratings("1\t10\t5\t1\t9\n");
  const std::string message = read_error(path);
  EXPECT_TRUE(starts_with(message, path + ":1: ")) << message;
  EXPECT_TRUE(contains(message, "more than 4")) << message;
}

TEST(ReadRatings, NonNumericRating) {
  const std::string path = write_ratings("1\t10\t5\n2\t10\tgood\n");
  const std::string message = read_error(path);
  EXPECT_TRUE(starts_with(message, path + ":2: ")) << message;
  EXPECT_TRUE(contains(message, "\"good\" is not a number")) << message;
}

TEST(ReadRatings, HeaderWithoutHeaderFlagHints) {
  const std::string path = write_ratings("user,item,rating\n1,2,3\n", "r.csv");
  const std::string message = read_error(path, csv(/*header=*/false));
  EXPECT_TRUE(starts_with(message, path + ":1: ")) << message;
  EXPECT_TRUE(contains(message, "data.header")) << message;
}

TEST(ReadRatings, PartlyNumericRatingIsRejected) {
  const std::string path = write_ratings("1\t10\t4stars\n");
  EXPECT_TRUE(contains(read_error(path), "\"4stars\" is not a number"));
}

TEST(ReadRatings, NanAndInfiniteRatingsAreRejected) {
  for (const char* bad : {"nan", "NaN", "inf", "-inf", "infinity"}) {
    const std::string path = write_ratings(std::string("1\t10\t5\n1\t11\t") + bad + "\n");
    const std::string message = read_error(path);
    EXPECT_TRUE(starts_with(message, path + ":2: ")) << bad << ": " << message;
    EXPECT_TRUE(contains(message, "rating")) << bad << ": " << message;
  }
}

// Found by fuzz_ratings: 8.9e39 is a finite double, so it passed the finiteness check, then
// became +inf when stored as a float and would have trained on inf.
TEST(ReadRatings, RatingBeyondFloatRangeIsRejected) {
  const std::string fuzzed =
      "22\t3\xa2"
      "771\t8866666666666666666666666666666668250948\n";
  collab::Vocabulary users, items;
  try {
    collab::parse_ratings(fuzzed, "fuzzed.tsv", {}, users, items);
    ADD_FAILURE() << "parse_ratings accepted a rating beyond float's range";
  } catch (const collab::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "fuzzed.tsv:1: rating \"8866666666666666666666666666666668250948\" is too large "
              "(collab trains on ratings within +-1e6)");
  }
  for (const char* bad : {"1e39", "-3.5e38"}) {
    const std::string path = write_ratings(std::string("1\t10\t5\n1\t11\t") + bad + "\n");
    EXPECT_EQ(read_error(path),
              path + ":2: rating \"" + bad +
                  "\" is too large (collab trains on ratings within +-1e6)");
  }
  // The bound itself is still a (silly) rating; float's largest value is not: training would
  // square its errors past float's range.
  const std::string path = write_ratings("1\t10\t1e6\n");
  collab::Vocabulary u2, i2;
  EXPECT_EQ(collab::read_ratings(path, {}, u2, i2).ratings[0], 1e6f);
  EXPECT_TRUE(contains(read_error(write_ratings("1\t10\t3.4028234e38\n")), "too large"));
}

TEST(ReadRatings, BadTimestamp) {
  const std::string path = write_ratings("1\t10\t5\t12x\n");
  const std::string message = read_error(path);
  EXPECT_TRUE(starts_with(message, path + ":1: ")) << message;
  EXPECT_TRUE(contains(message, "timestamp")) << message;
}

TEST(ReadRatings, EmptyIdIsRejected) {
  const std::string path = write_ratings("1,,5\n", "r.csv");
  const std::string message = read_error(path, csv());
  EXPECT_TRUE(starts_with(message, path + ":1: ")) << message;
}

TEST(ReadRatings, RatingRangeIsInclusive) {
  RatingsFormat format;
  format.rating_range = std::make_pair(1.0, 5.0);
  collab::Vocabulary users, items;
  const collab::Ratings ok =
      collab::read_ratings(write_ratings("1\t1\t1\n1\t2\t5\n1\t3\t2.5\n"), format, users, items);
  EXPECT_EQ(ok.size(), 3u);

  const std::string path = write_ratings("1\t1\t1\n1\t2\t6\n");
  const std::string message = read_error(path, format);
  EXPECT_TRUE(starts_with(message, path + ":2: ")) << message;
  EXPECT_TRUE(contains(message, "rating 6 is outside data.rating_range [1, 5]")) << message;
  EXPECT_TRUE(contains(read_error(write_ratings("1\t1\t0.5\n"), format), "rating 0.5 is outside"));
}

TEST(ReadRatings, EmptyFile) {
  const std::string empty = write_ratings("");
  EXPECT_EQ(read_error(empty), empty + ": no ratings in the file");
  const std::string blank = write_ratings("\n\r\n  \n");
  EXPECT_EQ(read_error(blank), blank + ": no ratings in the file");
  const std::string header_only = write_ratings("user,item,rating\n", "r.csv");
  EXPECT_EQ(read_error(header_only, csv(true)), header_only + ": no ratings in the file");
}

TEST(ReadRatings, MissingFile) {
  const std::string path = collab::test::temp_dir("collab-ratings") + "/absent.tsv";
  const std::string message = read_error(path);
  EXPECT_TRUE(starts_with(message, path + ": cannot open")) << message;
  EXPECT_THROW(collab::read_file(path), collab::Error);
}

TEST(Ratings, SelectKeepsRowsInOrder) {
  collab::Ratings r;
  r.push_back(0, 0, 1.f, 10);
  r.push_back(1, 2, 2.f, 20);
  r.push_back(2, 1, 3.f, 30);
  const collab::Ratings s = r.select({2, 0});
  EXPECT_EQ(s.users, (std::vector<int32_t>{2, 0}));
  EXPECT_EQ(s.items, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(s.ratings.to_vector(), (std::vector<float>{3.f, 1.f}));
  EXPECT_EQ(s.timestamps, (std::vector<int64_t>{30, 10}));
}

// Ratings are stored as one-byte codes while there are at most 256 distinct values, then as
// floats; either way every value reads back as the float it was (bits included: -0 stays -0).
TEST(RatingValues, CodesUpTo256DistinctValuesThenFloats) {
  collab::RatingValues v;
  std::vector<float> expected;
  for (int k = 0; k < 256; ++k) {
    const float x = k == 1 ? -0.0f : 0.5f * static_cast<float>(k);
    v.push_back(x);
    v.push_back(x);
    expected.insert(expected.end(), {x, x});
  }
  EXPECT_TRUE(v.coded());
  EXPECT_EQ(v.table().size(), 256u);
  EXPECT_TRUE(std::signbit(v[2]));  // -0 has its own code, apart from 0
  v.push_back(1e6f);                // the 257th distinct value
  expected.push_back(1e6f);
  EXPECT_FALSE(v.coded());
  EXPECT_EQ(v.to_vector(), expected);
  EXPECT_TRUE(std::signbit(v[2]));
  v.set(0, 7.25f);
  v.swap_rows(0, 1);
  EXPECT_EQ(v[1], 7.25f);
  EXPECT_EQ(v[0], 0.0f);
}

TEST(RatingValues, SetSwapSelectAndViewInCodedForm) {
  collab::RatingValues v;
  for (const float x : {3.f, 1.f, 4.f, 1.f, 5.f}) v.push_back(x);
  v.set(4, 2.5f);  // a new value joins the table
  v.swap_rows(0, 2);
  EXPECT_TRUE(v.coded());
  EXPECT_EQ(v.to_vector(), (std::vector<float>{4.f, 1.f, 3.f, 1.f, 2.5f}));
  const collab::RatingValues s = v.select({4, 0, 4});
  EXPECT_EQ(s.to_vector(), (std::vector<float>{2.5f, 4.f, 2.5f}));
  const collab::RatingValues::View view = v.view().from(3);
  EXPECT_EQ(view[0], 1.f);
  EXPECT_EQ(view[1], 2.5f);
}

TEST(RatingValues, FromCodesChecksTheCodes) {
  const collab::RatingValues v = collab::RatingValues::from_codes({1.f, 5.f}, {1, 0, 1});
  EXPECT_EQ(v.to_vector(), (std::vector<float>{5.f, 1.f, 5.f}));
  EXPECT_THROW(collab::RatingValues::from_codes({1.f}, {0, 1}), collab::Error);
  EXPECT_THROW(collab::RatingValues::from_codes(std::vector<float>(257, 0.f), {}), collab::Error);
  const collab::RatingValues f = collab::RatingValues::from_floats({2.f, 0.5f});
  EXPECT_FALSE(f.coded());
  EXPECT_EQ(f.view()[1], 0.5f);
}

}  // namespace test_ratings
