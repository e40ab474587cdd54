// Mini-batches: to_batch, ShuffledBatches (reshuffled per epoch from a seeded generator, last
// partial batch dropped) and chunks (validation in fixed-size pieces).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/data/batches.h"

namespace test_batches {

namespace {

// Row i: user i, item 100 + i, rating i (exact in float for these sizes).
collab::Batch numbered(int64_t n) {
  collab::Ratings r;
  for (int64_t i = 0; i < n; ++i) r.push_back(i, 100 + i, static_cast<float>(i), 0);
  return collab::to_batch(r);
}

// The rows (by rating) of every batch of the current epoch, in order; checks x and y agree.
std::vector<int64_t> epoch_rows(const collab::ShuffledBatches& batches) {
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < batches.size(); ++b) {
    const collab::Batch batch = batches[b];
    EXPECT_EQ(batch.x.size(0), batches.batch_size());
    EXPECT_EQ(batch.y.size(0), batches.batch_size());
    for (int64_t k = 0; k < batch.y.size(0); ++k) {
      const auto row = static_cast<int64_t>(batch.y[k].item<float>());
      EXPECT_EQ(batch.x[k][0].item<int64_t>(), row);
      EXPECT_EQ(batch.x[k][1].item<int64_t>(), 100 + row);
      rows.push_back(row);
    }
  }
  return rows;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

}  // namespace

TEST(ToBatch, ShapesAndTypes) {
  const collab::Batch all = numbered(5);
  EXPECT_EQ(all.x.sizes(), (std::vector<int64_t>{5, 2}));
  EXPECT_EQ(all.x.scalar_type(), torch::kLong);
  EXPECT_EQ(all.y.sizes(), (std::vector<int64_t>{5}));
  EXPECT_EQ(all.y.scalar_type(), torch::kFloat);
  EXPECT_EQ(all.x[3][1].item<int64_t>(), 103);
  EXPECT_EQ(all.y[3].item<float>(), 3.f);
}

TEST(ShuffledBatches, DropsTheLastPartialBatch) {
  collab::ShuffledBatches batches(numbered(10), 3);
  EXPECT_EQ(batches.size(), 3);  // 10 / 3: the 10th row is left out of each epoch
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
  batches.shuffle(gen);
  std::vector<int64_t> rows = epoch_rows(batches);
  ASSERT_EQ(rows.size(), 9u);
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(std::adjacent_find(rows.begin(), rows.end()), rows.end());  // no row twice
  EXPECT_GE(rows.front(), 0);
  EXPECT_LE(rows.back(), 9);
}

TEST(ShuffledBatches, EachEpochIsAPermutation) {
  collab::ShuffledBatches batches(numbered(60), 5);
  ASSERT_EQ(batches.size(), 12);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(42);
  std::vector<std::vector<int64_t>> epochs;
  for (int e = 0; e < 3; ++e) {
    batches.shuffle(gen);
    epochs.push_back(epoch_rows(batches));
    std::vector<int64_t> sorted = epochs.back();
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, iota(60)) << "epoch " << e;
    EXPECT_NE(epochs.back(), iota(60)) << "epoch " << e << " is not shuffled";
  }
  EXPECT_NE(epochs[0], epochs[1]);  // a new order each epoch
  EXPECT_NE(epochs[1], epochs[2]);
}

// The fused steps read a batch through span(); it must be exactly operator[]'s batch.
TEST(ShuffledBatches, SpanIsTheBatchsMemory) {
  collab::ShuffledBatches batches(numbered(23), 4);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  batches.shuffle(gen);
  for (int64_t b = 0; b < batches.size(); ++b) {
    const collab::Batch batch = batches[b];
    const collab::BatchSpan span = batches.span(b);
    ASSERT_EQ(span.size, 4);
    for (int64_t r = 0; r < span.size; ++r) {
      EXPECT_EQ(span.x[2 * r], batch.x[r][0].item<int64_t>()) << b << " " << r;
      EXPECT_EQ(span.x[2 * r + 1], batch.x[r][1].item<int64_t>());
      EXPECT_EQ(span.y[r], batch.y[r].item<float>());
    }
  }
}

TEST(ShuffledBatches, SameSeedSameOrder) {
  collab::ShuffledBatches a(numbered(40), 8), b(numbered(40), 8);
  at::Generator ga = at::make_generator<at::CPUGeneratorImpl>(123);
  at::Generator gb = at::make_generator<at::CPUGeneratorImpl>(123);
  at::Generator gc = at::make_generator<at::CPUGeneratorImpl>(124);
  for (int e = 0; e < 2; ++e) {
    a.shuffle(ga);
    b.shuffle(gb);
    EXPECT_EQ(epoch_rows(a), epoch_rows(b)) << "epoch " << e;
  }
  collab::ShuffledBatches c(numbered(40), 8);
  c.shuffle(gc);
  a.shuffle(ga);
  EXPECT_NE(epoch_rows(a), epoch_rows(c));
}

TEST(ShuffledBatches, BatchSizeLargerThanTheData) {
  try {
    collab::ShuffledBatches batches(numbered(10), 11);
    ADD_FAILURE() << "no error for a batch larger than the data";
  } catch (const collab::Error& e) {
    EXPECT_EQ(std::string(e.what()), "train.batch_size: 11 is larger than the 10 training ratings");
  }
  EXPECT_NO_THROW(collab::ShuffledBatches(numbered(10), 10));
}

TEST(Chunks, CoverEverythingInOrder) {
  const collab::Batch all = numbered(10);
  const std::vector<collab::Batch> parts = collab::chunks(all, 4);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].y.size(0), 4);
  EXPECT_EQ(parts[1].y.size(0), 4);
  EXPECT_EQ(parts[2].y.size(0), 2);
  std::vector<int64_t> rows;
  for (const auto& p : parts) {
    for (int64_t k = 0; k < p.y.size(0); ++k) {
      rows.push_back(static_cast<int64_t>(p.y[k].item<float>()));
      EXPECT_EQ(p.x[k][0].item<int64_t>(), rows.back());
    }
  }
  EXPECT_EQ(rows, iota(10));
  EXPECT_EQ(collab::chunks(all, 10).size(), 1u);
  EXPECT_EQ(collab::chunks(all, 100).size(), 1u);
  EXPECT_EQ(collab::chunks(all, 1).size(), 10u);
}

}  // namespace test_batches
