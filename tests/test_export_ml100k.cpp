// Export interop on real data: for each architecture, a model trained one epoch on fastai's
// MovieLens 100k split is exported with `collab export`; the module loaded with
// torch::jit::load in C++ and with torch.jit.load in Python (Debian's python3-torch) must
// predict what the eager model predicts on the whole validation set, mapping raw ids through
// its own vocabulary attributes. Skips without ../shared data (and the Python half without
// python3-torch).
#include <gtest/gtest.h>

#include <torch/script.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "collab/train/run_checkpoints.h"
#include "collab/common/config_reader.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"
#include "collab/train/trainer.h"
#include "test_support.h"

namespace collab::test {
namespace test_export_ml100k {

struct Trained {
  std::string run_dir;
  std::string model_pt;
};

Trained train_and_export(const std::string& config) {
  const std::string data = shared_data_dir();
  const std::string dir = temp_dir("collab-export-ml100k");
  const std::string split = data + "/ml-100k-splits/fastai42";
  const std::string env = "COLLAB_DATA_DIR='" + data + "'";
  CommandResult r =
      run_collab("train '" COLLAB_SOURCE_DIR "/configs/" + config + "' --quiet --run-dir '" + dir +
                     "/run' --set data.train='" + split + ".base' --set data.valid='" + split +
                     ".test' --set train.epochs=1 --set train.threads=2",
                 env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_collab("export '" + dir + "/run' -o '" + dir + "/model.pt' --quiet", env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return {dir + "/run", dir + "/model.pt"};
}

// The validation pairs as raw ids, as a consumer without collab has them.
std::vector<std::pair<std::string, std::string>> validation_pairs() {
  std::ifstream in(shared_data_dir() + "/ml-100k-splits/fastai42.test");
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string user, item, rating, timestamp;
  while (in >> user >> item >> rating >> timestamp) pairs.emplace_back(user, item);
  return pairs;
}

void check_architecture(const std::string& config) {
  COLLAB_REQUIRE_SHARED_DATA();
  const Trained t = train_and_export(config);
  const auto pairs = validation_pairs();
  ASSERT_EQ(pairs.size(), 20000u);

  // Eager reference: the model rebuilt from the run's final checkpoint.
  const Checkpoint ckpt = read_checkpoint(latest_checkpoint(t.run_dir));
  ConfigReader section(ckpt.config["model"], "model", nullptr);
  CollabModel eager = build_model(section, {ckpt.users.size(), ckpt.items.size()});
  load_model_state(*eager, ckpt.state);
  eager->eval();

  torch::jit::Module scripted = torch::jit::load(t.model_pt);
  std::vector<int64_t> flat;
  for (const auto& [user, item] : pairs) {
    const int64_t u = scripted.run_method("user_index", user).toInt();
    const int64_t i = scripted.run_method("item_index", item).toInt();
    ASSERT_GE(u, 0) << user;
    ASSERT_GE(i, 0) << item;
    ASSERT_EQ(u, ckpt.users.find(user).value());
    ASSERT_EQ(i, ckpt.items.find(item).value());
    flat.push_back(u);
    flat.push_back(i);
  }
  const torch::Tensor x =
      torch::from_blob(flat.data(), {static_cast<int64_t>(pairs.size()), 2}, torch::kLong).clone();
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = eager->forward(x);
  const torch::Tensor cpp = scripted.forward({x}).toTensor();
  // Same ATen ops on the same inputs; 1e-6 leaves room for a fused sigmoid's last bit.
  EXPECT_LE((cpp - expected).abs().max().item<double>(), 1e-6);

  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-torch not installed: the Python half is skipped";
  }
  const std::string out = t.model_pt + ".py.txt";
  const std::string script =
      "import torch\n"
      "m = torch.jit.load('" +
      t.model_pt +
      "')\n"
      "pairs = [l.split()[:2] for l in open('" +
      shared_data_dir() +
      "/ml-100k-splits/fastai42.test')]\n"
      "x = torch.tensor([[m.user_index(u), m.item_index(i)] for u, i in pairs])\n"
      "with open('" +
      out +
      "', 'w') as f:\n"
      "    f.write('\\n'.join(repr(v) for v in m(x).tolist()))\n";
  write_text(t.model_pt + ".py", script);
  ASSERT_EQ(std::system(("/usr/bin/python3 '" + t.model_pt + ".py'").c_str()), 0);
  std::istringstream lines(read_text(out));
  std::vector<float> python;
  for (double v; lines >> v;) python.push_back(static_cast<float>(v));
  ASSERT_EQ(python.size(), pairs.size());
  const torch::Tensor py = torch::tensor(python);
  EXPECT_LE((py - expected).abs().max().item<double>(), 1e-6);
}

TEST(ExportMl100k, DotProductMatchesEagerInCppAndPython) {
  check_architecture("dot_product.json");
}
TEST(ExportMl100k, DotProductBiasMatchesEagerInCppAndPython) {
  check_architecture("dot_product_bias.json");
}
TEST(ExportMl100k, CollabNNMatchesEagerInCppAndPython) {
  check_architecture("collab_nn.json");
}

}  // namespace test_export_ml100k
}  // namespace collab::test
