// The top-N evaluation `collab compare` runs after training each candidate on each split
// (infer/ranking_metrics.h: evaluate_ranking), timed in process for every registered
// architecture on two synthetic shapes: ml-latest-small's (610 users x 9,724 items, 100k ratings)
// and ml-1m's (6,040 x 3,706, 1M ratings), ~20% of each user's ratings held out as the test part.
// Models have random parameters (the timing does not depend on training); feature-based models
// get 20 random 0/1 item features. "CollabNN (forward)" is CollabNN scored without its block
// scorer, by forward() over every pair, as before it had one. Runs are interleaved across architectures and medians printed,
// against issue 17's targets (5 s and 10 s on 2 cores). Usage:
//   build/bench/topn_eval_bench [--repeats 3] [--only ARCH]
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "collab/common/config_reader.h"
#include "collab/data/ratings.h"
#include "collab/infer/ranking_metrics.h"
#include "collab/models/collab_nn.h"
#include "collab/models/registry.h"

namespace {

using collab::json;

struct Shape {
  std::string name;
  int64_t users, items, ratings_per_user;
  double target_seconds;
};

struct Split {
  collab::Ratings train, test;
};

// Each user rates `per_user` distinct random items with random half-star ratings; every fifth
// goes to the test part.
Split synthetic_split(const Shape& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> item(0, s.items - 1);
  std::uniform_int_distribution<int> half_stars(1, 10);
  Split out;
  for (int64_t u = 0; u < s.users; ++u) {
    std::vector<int64_t> rated;
    while (static_cast<int64_t>(rated.size()) < s.ratings_per_user) {
      const int64_t i = item(rng);
      if (std::find(rated.begin(), rated.end(), i) == rated.end()) rated.push_back(i);
    }
    for (size_t j = 0; j < rated.size(); ++j) {
      collab::Ratings& part = j % 5 == 4 ? out.test : out.train;
      part.push_back(u, rated[j], 0.5f * static_cast<float>(half_stars(rng)), 0);
    }
  }
  return out;
}

collab::CollabModel random_model(const std::string& arch, const Shape& s, const Split& split) {
  json config = {{"arch", arch}, {"y_range", {0.5, 5.0}}};
  collab::ConfigReader reader(config, "model", nullptr);
  collab::ModelShape shape(s.users, s.items,
                           torch::randint(0, 2, {s.items, 20}, torch::kFloat));
  shape.train = &split.train;
  collab::CollabModel model = collab::build_model(reader, shape);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0, 0.1);
  model->eval();
  return model;
}

// CollabNN scored as before its block scorer: forward() over every (user, item) pair.
struct CollabNNByForward : collab::CollabNNImpl {
  using CollabNNImpl::CollabNNImpl;
  std::optional<torch::Tensor> block_items() const override { return std::nullopt; }
};

collab::CollabModel collab_nn_by_forward(const Shape& s) {
  collab::CollabNNOptions o;
  o.shape = collab::ModelShape(s.users, s.items);
  o.y_range = collab::YRange{0.5, 5.0};
  auto model = std::make_shared<CollabNNByForward>(o);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0, 0.1);
  model->eval();
  return model;
}

double seconds_of_evaluation(collab::CollabModelImpl& model, const Shape& s, const Split& split) {
  collab::RankingOptions options;
  options.k = 10;
  const auto start = std::chrono::steady_clock::now();
  const collab::RankingMetrics m = collab::evaluate_ranking(
      model, s.users, s.items, split.train, split.test, options, /*chunk=*/0, torch::kCPU);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (m.users <= 0) std::fprintf(stderr, "warning: no user was scored\n");
  return seconds;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  std::string only;
  for (int a = 1; a < argc; ++a) {
    if (!std::strcmp(argv[a], "--repeats") && a + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++a]));
    } else if (!std::strcmp(argv[a], "--only") && a + 1 < argc) {
      only = argv[++a];
    } else {
      std::fprintf(stderr, "usage: topn_eval_bench [--repeats N] [--only ARCH]\n");
      return 2;
    }
  }
  torch::manual_seed(1);
  // As compare runs it: train.threads defaults to every core (train/run_setup.cpp).
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const std::vector<Shape> shapes = {{"610 x 9724 (ml-latest-small)", 610, 9724, 165, 5.0},
                                     {"6040 x 3706 (ml-1m)", 6040, 3706, 165, 10.0}};
  std::printf("threads %d; median of %d interleaved runs of evaluate_ranking (k = 10)\n",
              at::get_num_threads(), repeats);
  std::printf("%-30s %-22s %9s %8s\n", "shape", "architecture", "seconds", "target");
  for (const Shape& shape : shapes) {
    const Split split = synthetic_split(shape, 7);
    std::map<std::string, collab::CollabModel> models;
    for (const std::string& arch : collab::architectures()) {
      if (only.empty() || arch == only) models[arch] = random_model(arch, shape, split);
    }
    if (only.empty() || only == "CollabNN") models["CollabNN (forward)"] = collab_nn_by_forward(shape);
    std::map<std::string, std::vector<double>> times;
    for (int r = 0; r < repeats; ++r) {
      for (auto& [arch, model] : models) {
        times[arch].push_back(seconds_of_evaluation(*model, shape, split));
      }
    }
    for (const auto& [arch, t] : times) {
      std::printf("%-30s %-22s %9.3f %7.0fs\n", shape.name.c_str(), arch.c_str(), median(t),
                  shape.target_seconds);
    }
  }
  return 0;
}
