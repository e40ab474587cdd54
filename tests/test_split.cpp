// random_split: fastai's RandomSplitter (seeded permutation; the first floor(valid_pct * n) rows
// are the validation set).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "collab/common/error.h"
#include "collab/data/split.h"

namespace test_split {

namespace {

// n ratings whose rating and timestamp are the row number, so rows can be told apart.
collab::Ratings numbered(int64_t n) {
  collab::Ratings r;
  for (int64_t i = 0; i < n; ++i) r.push_back(i % 7, i % 11, static_cast<float>(i), i);
  return r;
}

}  // namespace

TEST(RandomSplit, SizesAreFloorOfValidPct) {
  const collab::Ratings all = numbered(103);
  const collab::Split s = collab::random_split(all, 0.2, 42);
  EXPECT_EQ(s.valid.size(), 20u);  // floor(20.6)
  EXPECT_EQ(s.train.size(), 83u);
  const collab::Split t = collab::random_split(all, 0.5, 1);
  EXPECT_EQ(t.valid.size(), 51u);  // floor(51.5)
  EXPECT_EQ(t.train.size(), 52u);
}

TEST(RandomSplit, DisjointAndCoveringWithRowsIntact) {
  const collab::Ratings all = numbered(250);
  const collab::Split s = collab::random_split(all, 0.2, 42);
  std::vector<int64_t> rows;
  for (const auto* part : {&s.train, &s.valid}) {
    for (size_t k = 0; k < part->size(); ++k) {
      const int64_t row = part->timestamps[k];
      rows.push_back(row);
      // The row's columns travel together.
      EXPECT_EQ(part->ratings[k], static_cast<float>(row));
      EXPECT_EQ(part->users[k], row % 7);
      EXPECT_EQ(part->items[k], row % 11);
    }
  }
  std::sort(rows.begin(), rows.end());
  std::vector<int64_t> expected(250);
  for (int64_t i = 0; i < 250; ++i) expected[static_cast<size_t>(i)] = i;
  EXPECT_EQ(rows, expected);  // every row exactly once
}

TEST(RandomSplit, DeterministicBySeed) {
  const collab::Ratings all = numbered(500);
  const collab::Split a = collab::random_split(all, 0.2, 42);
  const collab::Split b = collab::random_split(all, 0.2, 42);
  EXPECT_EQ(a.valid.timestamps, b.valid.timestamps);
  EXPECT_EQ(a.train.timestamps, b.train.timestamps);
  const collab::Split c = collab::random_split(all, 0.2, 43);
  EXPECT_NE(a.valid.timestamps, c.valid.timestamps);
  const std::set<int64_t> va(a.valid.timestamps.begin(), a.valid.timestamps.end());
  const std::set<int64_t> vc(c.valid.timestamps.begin(), c.valid.timestamps.end());
  EXPECT_NE(va, vc);  // a different set of rows, not only a different order
}

TEST(RandomSplit, ShufflesRatherThanTakingTheFirstRows) {
  const collab::Split s = collab::random_split(numbered(500), 0.2, 42);
  std::vector<int64_t> first(100);
  for (int64_t i = 0; i < 100; ++i) first[static_cast<size_t>(i)] = i;
  EXPECT_NE(s.valid.timestamps, first);
}

TEST(RandomSplit, EmptyPartIsAnError) {
  const collab::Ratings all = numbered(10);
  EXPECT_THROW(collab::random_split(all, 0.05, 42), collab::Error);  // floor(0.5) = 0
  EXPECT_THROW(collab::random_split(all, 1.0, 42), collab::Error);
  try {
    collab::random_split(all, 0.05, 42);
  } catch (const collab::Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("data.valid_pct: ", 0), 0u) << e.what();
  }
}

}  // namespace test_split
