// Writes the checkpoint fuzzer's seeds: a tiny but complete checkpoint (a 3-user, 4-item
// dot-product-bias model's state, BatchNorm-like buffers, Adam moments, generators, vocabularies
// with titles) as a whole file, and its payload alone (the fuzzer adds the header).
// Usage: make_checkpoint_seed OUT_DIR. Rerun when the checkpoint format changes.
#include <fstream>
#include <iostream>

#include <torch/torch.h>

#include "collab/train/checkpoint.h"

namespace {

void write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) {
    std::cerr << path << ": cannot write\n";
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_checkpoint_seed OUT_DIR\n";
    return 2;
  }
  torch::manual_seed(0);
  collab::Checkpoint c;
  c.config = {{"model", {{"arch", "dot_product_bias"}, {"n_factors", 2}}},
              {"train", {{"epochs", 1}}}};
  c.metrics = collab::json::array({{{"epoch", 0}, {"valid_loss", 1.5}}});
  c.data_fingerprint = std::string(64, 'a');
  for (const char* u : {"1", "2", "3"}) c.users.add(u);
  for (const char* i : {"10", "11", "12", "13"}) c.items.add(i);
  for (int64_t i = 0; i < c.items.size(); ++i) c.items.set_title(i, "Movie " + c.items.raw(i));
  auto& s = c.state;
  s.global_step = 3;
  s.epoch = 1;
  s.batch = 1;
  s.epoch_loss_sum = 0.5;
  s.smoothed_loss_average = 0.25;
  s.smoothed_loss_count = 3;
  s.parameters = {{"u_weight.weight", torch::randn({3, 2})},
                  {"i_weight.weight", torch::randn({4, 2})},
                  {"u_bias.weight", torch::zeros({3, 1})},
                  {"i_bias.weight", torch::zeros({4, 1})}};
  for (const auto& [name, p] : s.parameters) {
    s.optimizer.push_back({name, torch::zeros_like(p), torch::ones_like(p), 3});
  }
  // Buffers of each kind a model has (BatchNorm's float statistics and its 0-dimensional int64
  // count), and a CUDA generator state, so that every dtype and rank path starts out reached.
  s.buffers = {{"bn.running_mean", torch::zeros({2})},
               {"bn.num_batches_tracked", torch::tensor(int64_t{3})}};
  // Generator states are byte vectors the reader does not interpret (the trainer checks them):
  // 16-byte stand-ins instead of the CPU generator's 5 KB keep the seeds, and so every execution
  // of the fuzzer, small.
  s.cpu_generator = torch::arange(16, torch::kUInt8);
  s.cuda_generators = {torch::arange(16, torch::kUInt8)};
  s.order_generator = torch::arange(1, 17, torch::kUInt8);
  const std::string file = collab::encode_checkpoint(c);
  const std::string dir = argv[1];
  write(dir + "/tiny-checkpoint.bin", file);
  write(dir + "/tiny-payload.bin", file.substr(8 + 4 + 8 + 32));
  // Round trip, so a seed that no longer decodes is noticed here rather than in the fuzzer.
  const collab::Checkpoint back = collab::decode_checkpoint(file, dir + "/tiny-checkpoint.bin");
  if (back.state.parameters.size() != 4 || back.items.title(3) != "Movie 13") {
    std::cerr << "the seed checkpoint does not read back\n";
    return 1;
  }
  std::cout << "wrote " << file.size() << "-byte checkpoint seeds to " << dir << "\n";
  return 0;
}
