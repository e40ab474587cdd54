// OneCycle (fastai's fit_one_cycle schedule): lr and Adam beta1 at every step of 5 epochs x 1250
// batches match the values fastai itself set, exported to the shared data folder.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "collab/train/one_cycle.h"
#include "test_support.h"

namespace test_one_cycle {

namespace {

struct ScheduleRow {
  int64_t step;
  double lr;
  double mom;
};

std::vector<ScheduleRow> read_schedule(const std::string& path) {
  std::ifstream in(path);
  std::vector<ScheduleRow> rows;
  std::string line;
  std::getline(in, line);  // header: step,lr,mom
  EXPECT_EQ(line.substr(0, 11), "step,lr,mom");
  while (std::getline(in, line)) {
    if (line.empty() || line == "\r") continue;
    std::istringstream fields(line);
    ScheduleRow row{};
    char comma1 = 0, comma2 = 0;
    fields >> row.step >> comma1 >> row.lr >> comma2 >> row.mom;
    EXPECT_TRUE(fields && comma1 == ',' && comma2 == ',') << "bad schedule line: " << line;
    rows.push_back(row);
  }
  return rows;
}

// Relative difference, guarded for values near zero.
double rel_diff(double a, double b) {
  return std::fabs(a - b) / std::max(std::fabs(b), 1e-300);
}

}  // namespace

TEST(OneCycle, MatchesFastaiScheduleAtEveryStep) {
  const std::string dir = collab::test::shared_data_dir();
  const std::string path = dir + "/ml-100k-splits/fastai_one_cycle_schedule_5x1250.csv";
  if (dir.empty() || !std::filesystem::exists(path)) {
    GTEST_SKIP() << "fastai_one_cycle_schedule_5x1250.csv not found under " COLLAB_SHARED_DIR
                    "/data/ml-100k-splits; skipping";
  }
  const std::vector<ScheduleRow> rows = read_schedule(path);
  ASSERT_EQ(rows.size(), 6250u);

  collab::OneCycleOptions options;
  options.lr_max = 5e-3;
  const collab::OneCycle schedule(options, 6250);
  EXPECT_EQ(schedule.total_steps(), 6250);
  // The file prints 10 significant digits: matching to 1e-6 relative is "float precision" with
  // a wide margin, yet far tighter than any off-by-one-step or wrong-phase error. Note that
  // fastai's combine_scheds keeps the phase boundaries in a float32 tensor, so the position
  // within a phase, (pos - pcts[idx]) / (pcts[idx+1] - pcts[idx]), is computed in float32; near
  // the end of the schedule (lr ~ 1e-7) that rounding moves lr by up to ~3e-5 relative, so a
  // scheduler computing the position in double misses this tolerance at ~200 late steps.
  int lr_failures = 0, mom_failures = 0;
  for (size_t k = 0; k < rows.size(); ++k) {
    ASSERT_EQ(rows[k].step, static_cast<int64_t>(k));
    const double lr = schedule.lr(rows[k].step), mom = schedule.beta1(rows[k].step);
    if (rel_diff(lr, rows[k].lr) > 1e-6 && ++lr_failures <= 5) {
      ADD_FAILURE() << "step " << k << ": lr " << lr << " vs fastai " << rows[k].lr
                    << " (relative difference " << rel_diff(lr, rows[k].lr)
                    << "; fastai computes the position within a phase in float32)";
    }
    if (rel_diff(mom, rows[k].mom) > 1e-6 && ++mom_failures <= 5) {
      ADD_FAILURE() << "step " << k << ": beta1 " << mom << " vs fastai " << rows[k].mom;
    }
  }
  EXPECT_EQ(lr_failures, 0);
  EXPECT_EQ(mom_failures, 0);
}

TEST(OneCycle, StartsAtLrMaxOverDivAndPeaksAfterPctStart) {
  collab::OneCycleOptions options;
  options.lr_max = 1e-2;
  const collab::OneCycle schedule(options, 1000);
  // Exact arithmetic in double; 1e-12 relative absorbs cos(pi) rounding only.
  EXPECT_NEAR(schedule.lr(0), 1e-2 / 25.0, 1e-14);
  EXPECT_NEAR(schedule.beta1(0), 0.95, 1e-12);
  EXPECT_NEAR(schedule.lr(250), 1e-2, 1e-14);  // pct_start 0.25 of 1000 steps
  EXPECT_NEAR(schedule.beta1(250), 0.85, 1e-12);
  // The last step is just short of the end (pos = 999/1000), so near lr_max/div_final.
  EXPECT_LT(schedule.lr(999), 1e-2 / 1e4);
  EXPECT_GT(schedule.lr(999), 1e-2 / 1e5);
  EXPECT_GT(schedule.beta1(999), 0.9499);
}

TEST(SchedCos, Endpoints) {
  // sched_cos(start, end, 0) = start and (.., 1) = end; at 0.5 the midpoint. 1e-15 absolute
  // allows cos() rounding at the ends.
  EXPECT_NEAR(collab::sched_cos(2.0, 10.0, 0.0), 2.0, 1e-15);
  EXPECT_NEAR(collab::sched_cos(2.0, 10.0, 1.0), 10.0, 1e-15);
  EXPECT_NEAR(collab::sched_cos(2.0, 10.0, 0.5), 6.0, 1e-14);
  EXPECT_NEAR(collab::sched_cos(0.95, 0.85, 0.0), 0.95, 1e-15);
  EXPECT_NEAR(collab::sched_cos(0.95, 0.85, 1.0), 0.85, 1e-15);
  // Decreasing schedules move monotonically.
  EXPECT_GT(collab::sched_cos(1.0, 0.0, 0.3), collab::sched_cos(1.0, 0.0, 0.6));
}

}  // namespace test_one_cycle
