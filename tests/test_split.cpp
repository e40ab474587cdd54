// random_split: fastai's RandomSplitter (seeded permutation; the first floor(valid_pct * n) rows
// are the validation set); temporal_split (a cut-off time) and stratified_split (per user), on
// hand-made ratings whose rows can be told apart.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "collab/common/error.h"
#include "collab/data/split.h"
#include "test_support.h"

namespace test_split {

namespace {

// n ratings whose rating and timestamp are the row number, so rows can be told apart.
collab::Ratings numbered(int64_t n) {
  collab::Ratings r;
  for (int64_t i = 0; i < n; ++i) r.push_back(i % 7, i % 11, static_cast<float>(i), i);
  return r;
}

// Rows given as (user, timestamp); item k and rating k+1 for row k, so rows can be told apart.
collab::Ratings rows(const std::vector<std::pair<int, int64_t>>& user_time) {
  collab::Ratings r;
  for (size_t k = 0; k < user_time.size(); ++k) {
    r.push_back(user_time[k].first, static_cast<int64_t>(k), static_cast<float>(k + 1),
                user_time[k].second);
  }
  return r;
}

std::vector<int32_t> row_numbers(const collab::Ratings& part) {
  return part.items;
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

TEST(TemporalSplit, TestFractionTakesTheLatestRatingsInFileOrder) {
  // Times out of file order: the latest 3 of 10 (floor(0.3 * 10)) are rows 1 (90), 4 (80) and
  // 7 (100).
  const collab::Ratings all = rows(
      {{0, 10}, {1, 90}, {0, 20}, {2, 30}, {1, 80}, {2, 40}, {0, 50}, {1, 100}, {2, 60}, {0, 70}});
  const collab::Split s = collab::temporal_split(all, std::nullopt, 0.3, "data.split");
  EXPECT_EQ(row_numbers(s.valid), (std::vector<int32_t>{1, 4, 7}));
  EXPECT_EQ(row_numbers(s.train), (std::vector<int32_t>{0, 2, 3, 5, 6, 8, 9}));
  EXPECT_EQ(s.valid.timestamps, (std::vector<int64_t>{90, 80, 100}));
  // Rows travel whole.
  EXPECT_EQ(s.valid.users, (std::vector<int32_t>{1, 1, 1}));
  EXPECT_EQ(s.valid.ratings.to_vector(), (std::vector<float>{2, 5, 8}));
}

TEST(TemporalSplit, TiesAtTheCutOffStayTogetherInTheTestSet) {
  // 0.5 of 8 is 4 ratings, the earliest of which is at time 30 (sorted: 10 20 30 30 | 30 30 40
  // 50): all four ratings at 30 go to the test set (6 of 8), none is left in training.
  const collab::Ratings all =
      rows({{0, 10}, {0, 30}, {1, 30}, {1, 20}, {2, 30}, {2, 40}, {0, 30}, {1, 50}});
  const collab::Split s = collab::temporal_split(all, std::nullopt, 0.5, "data.split");
  EXPECT_EQ(row_numbers(s.valid), (std::vector<int32_t>{1, 2, 4, 5, 6, 7}));
  EXPECT_EQ(row_numbers(s.train), (std::vector<int32_t>{0, 3}));
}

TEST(TemporalSplit, BeforeIsTheFirstTestTime) {
  const collab::Ratings all = rows({{0, 10}, {1, 30}, {0, 20}, {1, 29}, {2, 31}});
  const collab::Split s = collab::temporal_split(all, int64_t{30}, std::nullopt, "data.split");
  EXPECT_EQ(row_numbers(s.train), (std::vector<int32_t>{0, 2, 3}));  // strictly before 30
  EXPECT_EQ(row_numbers(s.valid), (std::vector<int32_t>{1, 4}));     // at 30 and after
  // Users first seen after the cut-off (user 2) are in the test set only: the split keeps them.
  EXPECT_EQ(s.valid.users, (std::vector<int32_t>{1, 2}));
}

TEST(TemporalSplit, EmptySidesAndMissingTimesAreErrorsNamingTheKey) {
  const collab::Ratings all = rows({{0, 10}, {1, 20}, {0, 30}, {1, 40}});
  using collab::test::error_of;
  auto split = [&](const collab::Ratings& r, std::optional<int64_t> before,
                   std::optional<double> fraction) {
    return error_of([&] { collab::temporal_split(r, before, fraction, "data.split"); });
  };
  EXPECT_NE(split(all, 10, std::nullopt)
                .find("data.split.before: the cut-off at time 10 leaves "
                      "an empty training set (the ratings' times run "
                      "from 10 to 40)"),
            std::string::npos);
  EXPECT_NE(split(all, 41, std::nullopt)
                .find("data.split.before: the cut-off at time 41 leaves "
                      "an empty test set"),
            std::string::npos);
  EXPECT_NE(split(all, std::nullopt, 0.2)
                .find("data.split.test_fraction: 0.2 of 4 ratings "
                      "leaves an empty test set"),
            std::string::npos);  // floor(0.8) = 0 test ratings
  // All at one time: every rating ties with the cut-off, so none is left to train on.
  EXPECT_NE(split(rows({{0, 5}, {1, 5}, {2, 5}}), std::nullopt, 0.5)
                .find("data.split.test_fraction: the cut-off at time 5 leaves an empty training "
                      "set"),
            std::string::npos);
  collab::Ratings untimed;
  untimed.push_back(0, 0, 1, 0);
  untimed.push_back(1, 1, 2, 0);
  EXPECT_NE(split(untimed, std::nullopt, 0.5)
                .find("data.split: a temporal split orders ratings "
                      "by time, but these 2 ratings have no "
                      "timestamps"),
            std::string::npos);
}

// users[u] ratings of user u, interleaved in the file.
collab::Ratings per_user(const std::vector<int>& counts) {
  std::vector<std::pair<int, int64_t>> user_time;
  for (int round = 0, left = 1; left; ++round) {
    left = 0;
    for (size_t u = 0; u < counts.size(); ++u) {
      if (round < counts[u]) user_time.push_back({static_cast<int>(u), round}), left = 1;
    }
  }
  return rows(user_time);
}

TEST(StratifiedSplit, EachUserSplitAtTheFractionWithOneOnEachSide) {
  // round(0.2 * n), at least 1 and at most n - 1: 10 -> 2, 5 -> 1, 3 -> 1 (0.6), 2 -> 1 (0.4
  // rounds to 0, raised to 1), 1 -> 0 (a single rating stays in training).
  const std::vector<int> counts = {10, 5, 3, 2, 1};
  const collab::Ratings all = per_user(counts);
  const collab::Split s = collab::stratified_split(all, 0.2, 42, "data.split");
  std::vector<int> test(counts.size()), train(counts.size());
  for (const int32_t u : s.valid.users) ++test[static_cast<size_t>(u)];
  for (const int32_t u : s.train.users) ++train[static_cast<size_t>(u)];
  EXPECT_EQ(test, (std::vector<int>{2, 1, 1, 1, 0}));
  EXPECT_EQ(train, (std::vector<int>{8, 4, 2, 1, 1}));
  // Every row once, each part in file order.
  std::vector<int32_t> all_rows = row_numbers(s.train);
  all_rows.insert(all_rows.end(), s.valid.items.begin(), s.valid.items.end());
  EXPECT_TRUE(std::is_sorted(s.train.items.begin(), s.train.items.end()));
  EXPECT_TRUE(std::is_sorted(s.valid.items.begin(), s.valid.items.end()));
  std::sort(all_rows.begin(), all_rows.end());
  for (size_t k = 0; k < all_rows.size(); ++k) EXPECT_EQ(all_rows[k], static_cast<int32_t>(k));
  EXPECT_EQ(all_rows.size(), all.size());
  // A larger fraction: 0.5 of 10 -> 5, of 5 -> 3 (2.5 rounds up), of 3 -> 2, of 2 -> 1.
  const collab::Split half = collab::stratified_split(all, 0.5, 42, "data.split");
  std::vector<int> half_test(counts.size());
  for (const int32_t u : half.valid.users) ++half_test[static_cast<size_t>(u)];
  EXPECT_EQ(half_test, (std::vector<int>{5, 3, 2, 1, 0}));
}

TEST(StratifiedSplit, DeterministicBySeed) {
  const collab::Ratings all = per_user({40, 30, 20, 10});
  const collab::Split a = collab::stratified_split(all, 0.2, 42, "data.split");
  EXPECT_EQ(row_numbers(a.valid), row_numbers(collab::stratified_split(all, 0.2, 42, "x").valid));
  const collab::Split b = collab::stratified_split(all, 0.2, 43, "data.split");
  EXPECT_EQ(a.valid.size(), b.valid.size());              // the same per-user counts ...
  EXPECT_NE(row_numbers(a.valid), row_numbers(b.valid));  // ... of other rows
}

TEST(StratifiedSplit, NoUserWithTwoRatingsIsAnError) {
  const std::string message = collab::test::error_of([] {
    collab::stratified_split(per_user({1, 1, 1}), 0.2, 42, "data.split");
  });
  EXPECT_NE(message.find("data.split: no user of these 3 ratings has 2 or more"), std::string::npos)
      << message;
}

// data.max_ratings_per_user: users above the cap keep exactly `cap` of their own rows, others
// keep all; every row is kept or set apart once, both in file order; the draw follows the seed.
TEST(CapRatingsPerUser, HeavyRatersKeepARandomCapOfTheirOwnRows) {
  const std::vector<int> counts = {10, 5, 3, 1};
  const collab::Ratings all = per_user(counts);
  const collab::CappedRatings capped = collab::cap_ratings_per_user(all, 4, 42);
  EXPECT_EQ(capped.users_capped, 2);
  std::vector<int> kept(counts.size()), dropped(counts.size());
  for (const int32_t u : capped.kept.users) ++kept[static_cast<size_t>(u)];
  for (const int32_t u : capped.dropped.users) ++dropped[static_cast<size_t>(u)];
  EXPECT_EQ(kept, (std::vector<int>{4, 4, 3, 1}));
  EXPECT_EQ(dropped, (std::vector<int>{6, 1, 0, 0}));
  std::vector<int32_t> rows = row_numbers(capped.kept);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
  const std::vector<int32_t> set_apart = row_numbers(capped.dropped);
  EXPECT_TRUE(std::is_sorted(set_apart.begin(), set_apart.end()));
  rows.insert(rows.end(), set_apart.begin(), set_apart.end());
  std::sort(rows.begin(), rows.end());
  ASSERT_EQ(rows.size(), all.size());
  for (size_t k = 0; k < rows.size(); ++k) EXPECT_EQ(rows[k], static_cast<int32_t>(k));

  EXPECT_EQ(row_numbers(collab::cap_ratings_per_user(all, 4, 42).kept), row_numbers(capped.kept));
  EXPECT_NE(row_numbers(collab::cap_ratings_per_user(all, 4, 7).kept), row_numbers(capped.kept));
  EXPECT_EQ(collab::cap_ratings_per_user(all, 10, 42).users_capped, 0);  // nobody above it
}

}  // namespace test_split
