// StepPool: every chunk of a pass runs exactly once, on any number of threads, pass after pass;
// a pass ends even when a worker is slow to start or sleeping; the pool shuts down cleanly.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "collab/train/step_pool.h"

namespace collab::test {
namespace test_step_pool {

TEST(StepPool, RunsEveryChunkOncePerPass) {
  for (const int64_t threads : {1, 2, 4}) {
    StepPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (const int64_t chunks : {0, 1, 3, 16, 97}) {
      std::vector<std::atomic<int>> calls(static_cast<size_t>(chunks));
      auto task = [&](int64_t c) { calls[static_cast<size_t>(c)].fetch_add(1); };
      for (int pass = 0; pass < 200; ++pass) pool.run(task, chunks);
      for (int64_t c = 0; c < chunks; ++c) {
        EXPECT_EQ(calls[static_cast<size_t>(c)].load(), 200)
            << "chunk " << c << " of " << chunks << ", " << threads << " threads";
      }
    }
  }
}

TEST(StepPool, ManyShortPassesSumExactly) {
  // Back-to-back passes are the fused step's pattern; a lost or repeated chunk shows in the sum.
  StepPool pool(2);
  std::atomic<int64_t> sum{0};
  auto task = [&](int64_t c) { sum.fetch_add(c + 1); };
  for (int pass = 0; pass < 20000; ++pass) pool.run(task, 16);
  EXPECT_EQ(sum.load(), 20000 * (16 * 17 / 2));
}

TEST(StepPool, ThePassEndsWhenAWorkerIsSlow) {
  // A chunk that takes long on whichever thread runs it: the others take the rest, and run()
  // returns only after it is done.
  StepPool pool(2);
  std::atomic<int> done{0};
  auto task = [&](int64_t c) {
    if (c == 15) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    done.fetch_add(1);
  };
  pool.run(task, 16);
  EXPECT_EQ(done.load(), 16);
}

TEST(StepPool, WorkersWakeAfterSleeping) {
  // Longer than the workers' polling: they sleep between passes and must be woken.
  StepPool pool(3);
  std::atomic<int> done{0};
  auto task = [&](int64_t) { done.fetch_add(1); };
  for (int pass = 0; pass < 3; ++pass) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    pool.run(task, 9);
  }
  EXPECT_EQ(done.load(), 27);
}

}  // namespace test_step_pool
}  // namespace collab::test
