// Accuracy on fastai's own seed-42 split of MovieLens 100k, 5 epochs at bs 64, through the
// `collab` command as a user runs it. fastai 2.7.12 measured on this split: DotProductBias
// 0.8202, DotProduct (no y_range, wd 0.01) 0.8703, CollabNN (wd 0.01) 0.8760. The bounds leave
// room for seed noise (fastai's own spread with the split fixed is +-0.002 for DotProductBias).
#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace collab::test {
namespace test_accuracy {

double final_valid_mse(const std::string& config, double* seconds_per_epoch) {
  const std::string data = shared_data_dir();
  const std::string run_dir = temp_dir("collab-accuracy");
  const std::string split = data + "/ml-100k-splits/fastai42";
  const CommandResult r =
      run_collab("train '" COLLAB_SOURCE_DIR "/configs/" + config + "' --run-dir '" + run_dir +
                     "' --set data.train='" + split + ".base' --set data.valid='" + split +
                     ".test' --set train.threads=2",
                 "COLLAB_DATA_DIR='" + data + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(read_text(run_dir + "/metrics.jsonl"));
  std::string line, last;
  double seconds = 0;
  int epochs = 0;
  while (std::getline(lines, line)) {
    last = line;
    seconds += nlohmann::json::parse(line)["seconds"].get<double>();
    ++epochs;
  }
  EXPECT_EQ(epochs, 5) << r.out << r.err;
  if (last.empty()) return 1e9;
  *seconds_per_epoch = seconds / epochs;
  std::cout << r.out;
  return nlohmann::json::parse(last)["valid_mse"].get<double>();
}

TEST(Accuracy, DotProductBiasMatchesFastai) {
  COLLAB_REQUIRE_SHARED_DATA();
  double s = 0;
  const double mse = final_valid_mse("dot_product_bias.json", &s);
  RecordProperty("valid_mse", std::to_string(mse));
  EXPECT_LE(mse, 0.830) << "fastai: 0.8202";
}

TEST(Accuracy, DotProductMatchesFastai) {
  COLLAB_REQUIRE_SHARED_DATA();
  double s = 0;
  const double mse = final_valid_mse("dot_product.json", &s);
  // DotProduct without y_range is the noisiest of the three: with items keyed by title, as
  // fastai keys them (configs/dot_product.json), collab gives 0.8750 at the config's seed 42,
  // and over train.seed 1..12 mean 0.8814, sd 0.0056 (keyed by id: 0.8826 at seed 42; mean
  // 0.8809, sd 0.0090); the PyTorch peer 0.879 and 0.893 for seeds 1 and 42. fastai's single
  // run (0.8703) is a lucky draw of that spread. The bound is issue 2's; the run is
  // deterministic, and the margin at seed 42 (0.005) is far above what a CPU without AVX-512
  // (the portable kernels, which round differently in the last bit) changes.
  EXPECT_LE(mse, 0.880) << "fastai: 0.8703";
}

TEST(Accuracy, CollabNNMatchesFastai) {
  COLLAB_REQUIRE_SHARED_DATA();
  double s = 0;
  const double mse = final_valid_mse("collab_nn.json", &s);
  EXPECT_LE(mse, 0.885) << "fastai: 0.8760";
}

}  // namespace test_accuracy
}  // namespace collab::test
