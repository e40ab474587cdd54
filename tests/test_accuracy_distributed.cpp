// Data-parallel accuracy on fastai's seed-42 split of MovieLens 100k: DotProductBias trained by
// two Gloo workers on loopback (`collab launch --nproc 2`) reaches the valid MSE of one process
// with the same global batch (64), and one process resumes the two workers' checkpoint. Three
// epochs keep it to about a minute; it prints seconds per epoch of both runs.
#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "collab/train/distributed.h"
#include "test_support.h"

namespace collab::test {
namespace test_accuracy_distributed {

struct TrainRun {
  double mse = -1;
  double seconds_per_epoch = 0;
  std::string out;
};

TrainRun train(const std::string& prefix, const std::string& run_dir,
               const std::string& extra = "") {
  const std::string data = shared_data_dir();
  const std::string split = data + "/ml-100k-splits/fastai42";
  const CommandResult r = run_collab(
      prefix + "train '" COLLAB_SOURCE_DIR "/configs/dot_product_bias.json' --run-dir '" + run_dir +
          "' --set data.train='" + split + ".base' --set data.valid='" + split +
          ".test' --set train.epochs=3 --set checkpoint.every_epochs=1 "
          "--set checkpoint.keep_last=0 " +
          extra,
      "COLLAB_DATA_DIR='" + data + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  TrainRun run;
  run.out = r.out;
  run.mse = last_valid_mse(r.out);
  std::istringstream lines(read_text(run_dir + "/metrics.jsonl"));
  int epochs = 0;
  for (std::string line; std::getline(lines, line); ++epochs) {
    run.seconds_per_epoch += nlohmann::json::parse(line)["seconds"].get<double>();
  }
  if (epochs > 0) run.seconds_per_epoch /= epochs;
  return run;
}

TEST(AccuracyDistributed, TwoGlooWorkersMatchOneProcessAndOneProcessResumes) {
  COLLAB_REQUIRE_SHARED_DATA();
  if (!distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  const std::string dir = temp_dir("collab-accuracy-dist");
  const TrainRun one = train("", dir + "/one");
  const TrainRun two = train("launch --nproc 2 -- ", dir + "/two");
  std::cout << one.out << two.out;
  std::cout << "seconds per epoch: 1 process " << one.seconds_per_epoch << ", 2 processes "
            << two.seconds_per_epoch << "\n";
  RecordProperty("valid_mse_1", std::to_string(one.mse));
  RecordProperty("valid_mse_2", std::to_string(two.mse));
  ASSERT_GT(one.mse, 0);
  ASSERT_GT(two.mse, 0);
  EXPECT_NEAR(two.mse, one.mse, 0.005);

  // One process continues the two workers' run from their epoch-2 checkpoint.
  const std::string checkpoints = dir + "/two/checkpoints";
  const std::vector<std::string> names = checkpoint_file_names(dir + "/two");
  ASSERT_EQ(names.size(), 3u);
  write_text(checkpoints + "/latest", names[1] + "\n");
  const TrainRun resumed = train("", dir + "/two", "--resume");
  std::cout << resumed.out;
  EXPECT_NE(resumed.out.find("resuming from"), std::string::npos);
  EXPECT_NEAR(resumed.mse, two.mse, 0.005);
}

}  // namespace test_accuracy_distributed
}  // namespace collab::test
