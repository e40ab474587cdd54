// The binary cache of parsed ratings files (data/ratings_cache.h): a second read comes from the
// cache and equals the text parse; a changed file, a changed format or a damaged cache is
// parsed again; "never" and small files under "auto" write nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "collab/data/ratings_cache.h"
#include "test_support.h"

namespace collab {
namespace test_ratings_cache {

namespace fs = std::filesystem;

RatingsCacheOptions always(const std::string& dir) {
  RatingsCacheOptions o;
  o.mode = CacheMode::kAlways;
  o.dir = dir;
  return o;
}

void expect_same(const ParsedRatings& a, const ParsedRatings& b) {
  EXPECT_EQ(a.ratings.users, b.ratings.users);
  EXPECT_EQ(a.ratings.items, b.ratings.items);
  EXPECT_EQ(a.ratings.ratings.to_vector(), b.ratings.ratings.to_vector());
  EXPECT_EQ(a.ratings.ratings.coded(), b.ratings.ratings.coded());
  EXPECT_EQ(a.ratings.timestamps, b.ratings.timestamps);
  EXPECT_EQ(a.user_ids, b.user_ids);
  EXPECT_EQ(a.item_ids, b.item_ids);
}

TEST(RatingsCache, SecondReadComesFromTheCacheAndEqualsTheTextParse) {
  const std::string dir = test::temp_dir();
  const std::string file = dir + "/r.tsv";
  test::write_text(file, "u7\ti3\t4\t100\nu2\ti3\t2.5\t50\nu7\ti9\t1\t70\n");
  const RatingsCacheOptions cache = always(dir + "/cache");
  RatingsReadReport first, second;
  const ParsedRatings text = read_parsed_ratings(file, {}, cache, &first);
  EXPECT_FALSE(first.from_cache);
  EXPECT_NE(first.note.find("cache written"), std::string::npos) << first.note;
  EXPECT_TRUE(fs::exists(ratings_cache_path(file, {}, cache.dir)));
  const ParsedRatings cached = read_parsed_ratings(file, {}, cache, &second);
  EXPECT_TRUE(second.from_cache) << second.note;
  EXPECT_EQ(second.ratings, 3u);
  expect_same(text, cached);
  expect_same(cached, parse_ratings_file(file, {}));

  // Merged into vocabularies that already hold ids, the cached read indexes like read_ratings.
  Vocabulary users_a, items_a, users_b, items_b;
  items_a.add("i9");
  items_b.add("i9");
  const Ratings direct = read_ratings(file, {}, users_a, items_a);
  const Ratings merged =
      merge_into_vocabularies(read_parsed_ratings(file, {}, cache), users_b, items_b);
  EXPECT_EQ(direct.items, merged.items);
  EXPECT_EQ(direct.users, merged.users);
  EXPECT_EQ(items_a.raws(), items_b.raws());
}

TEST(RatingsCache, AChangedFileMakesTheCacheStale) {
  const std::string dir = test::temp_dir();
  const std::string file = dir + "/r.txt";
  RatingsFormat format;
  format.delimiter = " ";
  test::write_text(file, "1 1 5\n2 1 4\n");
  const RatingsCacheOptions cache = always(dir + "/cache");
  read_parsed_ratings(file, format, cache);
  // Same size, other content; the mtime moves as an edit would move it.
  const auto mtime = fs::last_write_time(file);
  test::write_text(file, "1 1 3\n2 2 4\n");
  fs::last_write_time(file, mtime + std::chrono::seconds(2));
  RatingsReadReport report;
  const ParsedRatings fresh = read_parsed_ratings(file, format, cache, &report);
  EXPECT_FALSE(report.from_cache);
  EXPECT_NE(report.note.find("stale cache replaced"), std::string::npos) << report.note;
  EXPECT_EQ(fresh.ratings.ratings.to_vector(), (std::vector<float>{3, 4}));
  EXPECT_EQ(fresh.item_ids, (std::vector<std::string>{"1", "2"}));
  RatingsReadReport again;
  expect_same(read_parsed_ratings(file, format, cache, &again), fresh);
  EXPECT_TRUE(again.from_cache);

  // Growing the file (another size) is caught even with the mtime put back.
  test::write_text(file, "1 1 3\n2 2 4\n3 3 1\n");
  fs::last_write_time(file, mtime + std::chrono::seconds(2));
  RatingsReadReport grown;
  EXPECT_EQ(read_parsed_ratings(file, format, cache, &grown).ratings.size(), 3u);
  EXPECT_FALSE(grown.from_cache);

  // Edited in place with both the size and the mtime put back (as `touch -r` does): the inode's
  // change time, which no tool sets back, still tells.
  const auto kept_mtime = fs::last_write_time(file);
  // The kernel stamps times from a clock that ticks every few milliseconds.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  test::write_text(file, "1 1 5\n2 2 4\n3 3 1\n");
  fs::last_write_time(file, kept_mtime);
  RatingsReadReport edited;
  EXPECT_EQ(read_parsed_ratings(file, format, cache, &edited).ratings.ratings.to_vector(),
            (std::vector<float>{5, 4, 1}));
  EXPECT_FALSE(edited.from_cache);
}

TEST(RatingsCache, ADamagedCacheIsParsedAgain) {
  const std::string dir = test::temp_dir();
  const std::string file = dir + "/r.tsv";
  test::write_text(file, "1\t1\t5\n2\t1\t4\n3\t2\t1\n");
  const RatingsCacheOptions cache = always(dir + "/cache");
  const ParsedRatings text = read_parsed_ratings(file, {}, cache);
  const std::string path = ratings_cache_path(file, {}, cache.dir);
  fs::resize_file(path, fs::file_size(path) - 5);
  RatingsReadReport report;
  expect_same(read_parsed_ratings(file, {}, cache, &report), text);
  EXPECT_FALSE(report.from_cache);
  EXPECT_NE(report.note.find("truncated or corrupt"), std::string::npos) << report.note;
  test::write_text(path, "not a cache");
  expect_same(read_parsed_ratings(file, {}, cache, &report), text);
  EXPECT_NE(report.note.find("not a ratings cache"), std::string::npos) << report.note;
}

// Ratings are cached as they are stored: one-byte codes into a table of at most 256 distinct
// values, floats beyond; both read back bit for bit.
TEST(RatingsCache, CodedAndFloatRatingsRoundTrip) {
  const std::string dir = test::temp_dir();
  const RatingsCacheOptions cache = always(dir + "/cache");
  for (const int distinct : {3, 300}) {
    const std::string file = dir + "/r" + std::to_string(distinct) + ".tsv";
    std::string text;
    for (int k = 0; k < 400; ++k) {
      text += std::to_string(k % 7) + "\t" + std::to_string(k % 11) + "\t" +
              std::to_string(0.01 * (k % distinct)) + "\n";
    }
    test::write_text(file, text);
    const ParsedRatings parsed = read_parsed_ratings(file, {}, cache);
    EXPECT_EQ(parsed.ratings.ratings.coded(), distinct <= 256);
    RatingsReadReport report;
    const ParsedRatings cached = read_parsed_ratings(file, {}, cache, &report);
    EXPECT_TRUE(report.from_cache) << report.note;
    expect_same(parsed, cached);
  }
}

// A code with no value in the table (a damaged cache) is refused, and the file parsed again.
TEST(RatingsCache, ACodeOutsideTheTableIsCorrupt) {
  const std::string dir = test::temp_dir();
  const std::string file = dir + "/r.tsv";
  test::write_text(file, "1\t1\t5\n2\t1\t4\n3\t2\t1\n");
  const RatingsCacheOptions cache = always(dir + "/cache");
  const ParsedRatings text = read_parsed_ratings(file, {}, cache);
  ASSERT_TRUE(text.ratings.ratings.coded());
  const std::string path = ratings_cache_path(file, {}, cache.dir);
  {
    // Without timestamps the codes are the last bytes before the 8-byte end marker.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-9, std::ios::end);
    f.put(static_cast<char>(200));
  }
  RatingsReadReport report;
  expect_same(read_parsed_ratings(file, {}, cache, &report), text);
  EXPECT_FALSE(report.from_cache);
  EXPECT_NE(report.note.find("corrupt cache replaced"), std::string::npos) << report.note;
}

TEST(RatingsCache, FormatIsPartOfTheKey) {
  const std::string dir = test::temp_dir();
  const std::string file = dir + "/r.csv";
  test::write_text(file, "user,item,rating\n1,1,5\n2,1,4\n");
  const RatingsCacheOptions cache = always(dir + "/cache");
  RatingsFormat with_header;
  with_header.delimiter = ",";
  with_header.header = true;
  EXPECT_EQ(read_parsed_ratings(file, with_header, cache).ratings.size(), 2u);
  RatingsFormat ranged = with_header;
  ranged.rating_range = std::pair{1.0, 4.5};  // rating 5 on line 2 is now an error
  try {
    read_parsed_ratings(file, ranged, cache);
    FAIL() << "expected a range error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(":2: rating 5 is outside"), std::string::npos) << e.what();
  }
}

TEST(RatingsCache, NeverAndSmallFilesUnderAutoWriteNothing) {
  const std::string dir = test::temp_dir();
  const std::string file = dir + "/r.tsv";
  test::write_text(file, "1\t1\t5\n");
  RatingsCacheOptions cache = always(dir + "/cache");
  cache.mode = CacheMode::kNever;
  RatingsReadReport report;
  read_parsed_ratings(file, {}, cache, &report);
  cache.mode = CacheMode::kAuto;  // 16 MiB threshold
  read_parsed_ratings(file, {}, cache, &report);
  EXPECT_TRUE(report.note.empty());
  EXPECT_FALSE(fs::exists(dir + "/cache"));
  cache.auto_min_bytes = 1;
  read_parsed_ratings(file, {}, cache, &report);
  EXPECT_TRUE(fs::exists(ratings_cache_path(file, {}, cache.dir)));
}

}  // namespace test_ratings_cache
}  // namespace collab
