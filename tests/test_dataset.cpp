// count_duplicate_ratings: repeated (user, item) pairs across the train and validation ratings,
// counted exactly whatever the number of passes its memory bound takes.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "collab/data/dataset.h"

namespace collab {
namespace test_dataset {

// Users u0..u(n-1) and items i0..i(n-1) in the vocabularies.
Dataset with_ids(int64_t users, int64_t items) {
  Dataset d;
  for (int64_t u = 0; u < users; ++u) d.users.add("u" + std::to_string(u));
  for (int64_t i = 0; i < items; ++i) d.items.add("i" + std::to_string(i));
  return d;
}

TEST(DatasetDuplicates, CountsRepeatsAndNamesTheFirstInReadingOrder) {
  Dataset d = with_ids(4, 4);
  d.train.push_back(2, 1, 5, 0);
  d.train.push_back(0, 3, 4, 0);
  d.train.push_back(1, 1, 3, 0);
  d.train.push_back(0, 3, 2, 0);  // the first repeat (row 3)
  d.train.push_back(0, 3, 1, 0);  // a second repeat of the same pair
  d.valid.push_back(2, 1, 4, 0);  // a validation rating repeating a training pair
  d.valid.push_back(3, 0, 4, 0);
  for (const int64_t rows_per_pass : {int64_t{1}, int64_t{2}, int64_t{1} << 21}) {
    count_duplicate_ratings(d, rows_per_pass);
    EXPECT_EQ(d.duplicate_ratings, 3) << rows_per_pass;
    EXPECT_EQ(d.first_duplicate, "user u0, item i3") << rows_per_pass;
  }
  // The first repeat in the validation ratings when training has none.
  Dataset v = with_ids(3, 3);
  v.train.push_back(2, 2, 1, 0);
  v.valid.push_back(1, 0, 1, 0);
  v.valid.push_back(2, 2, 1, 0);
  count_duplicate_ratings(v, 1);
  EXPECT_EQ(v.duplicate_ratings, 1);
  EXPECT_EQ(v.first_duplicate, "user u2, item i2");
  Dataset none = with_ids(2, 2);
  none.train.push_back(0, 1, 1, 0);
  none.valid.push_back(1, 0, 1, 0);
  none.duplicate_ratings = 7;
  count_duplicate_ratings(none);
  EXPECT_EQ(none.duplicate_ratings, 0);
  EXPECT_EQ(none.first_duplicate, "");
}

// Against a set of every pair, on random ratings with many repeats, for pass sizes from one
// user per pass to all users in one.
TEST(DatasetDuplicates, MatchesASetOfAllPairsForAnyPassSize) {
  Dataset d = with_ids(50, 20);
  std::mt19937 rng(7);
  std::set<std::pair<int32_t, int32_t>> seen;
  int64_t expected = 0;
  std::string first;
  for (int k = 0; k < 3000; ++k) {
    const auto u = static_cast<int32_t>(rng() % 50), i = static_cast<int32_t>(rng() % 20);
    (k < 2500 ? d.train : d.valid).push_back(u, i, 1, 0);
    if (!seen.insert({u, i}).second && expected++ == 0) {
      first = "user u" + std::to_string(u) + ", item i" + std::to_string(i);
    }
  }
  ASSERT_GT(expected, 1000);
  for (const int64_t rows_per_pass : {int64_t{1}, int64_t{37}, int64_t{500}, int64_t{100000}}) {
    count_duplicate_ratings(d, rows_per_pass);
    EXPECT_EQ(d.duplicate_ratings, expected) << rows_per_pass;
    EXPECT_EQ(d.first_duplicate, first) << rows_per_pass;
  }
}

}  // namespace test_dataset
}  // namespace collab
