// `collab recommend --all-users` timed in process (without LibTorch's ~1 s start-up): (a) the
// 943 users of MovieLens 100k with a DotProductBias of that shape (random factors, the real seen
// items), (b) a synthetic 162,000-user x 59,000-item DotProductBias (ml-25m's size, 50 factors,
// ~150 seen items per user) at k = 50, each as ranking alone and as ranking plus CSV formatting
// into a sink that only counts bytes; and (c) this machine's sgemm throughput on the scorer's
// block shape, giving the matrix-multiply bound 2 U I d / (flop/s) that (b) is compared with,
// and the scorer's own product kernel alone. Runs are interleaved and medians printed. Usage:
//   build/bench/all_users_bench [--repeats 3] [--skip-large]   (COLLAB_DATA_DIR for (a))
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "collab/app/recommendation_lists.h"
#include "collab/common/config_reader.h"
#include "collab/infer/user_scores.h"
#include "collab/models/registry.h"

namespace {

using collab::json;

double seconds_of(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A DotProductBias of the given shape with N(0, 0.1) factors and biases, as a trained one's.
collab::CollabModel random_dot_product_bias(int64_t n_users, int64_t n_items, int64_t factors) {
  const json config = {{"arch", "DotProductBias"}, {"n_factors", factors}, {"y_range", {0, 5.5}}};
  collab::ConfigReader reader(config, "model", nullptr);
  collab::CollabModel model = collab::build_model(reader, {n_users, n_items});
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0, 0.1);
  model->eval();
  return model;
}

struct Case {
  std::string name;
  collab::CollabModel model;
  collab::Vocabulary users, items;
  collab::ListsRequest request;
};

collab::Vocabulary numbered(const std::string& prefix, int64_t n) {
  collab::Vocabulary v;
  for (int64_t i = 0; i < n; ++i) v.add(prefix + std::to_string(i + 1));
  return v;
}

// MovieLens 100k's users, items and seen items (u.data), or false when it is not there.
bool ml100k_case(Case& c) {
  const char* root = std::getenv("COLLAB_DATA_DIR");
  std::ifstream in(std::string(root ? root : "../shared/data") + "/ml-100k/u.data");
  if (!in) return false;
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (std::string u, i, r, t; in >> u >> i >> r >> t;)
    pairs.emplace_back(c.users.add(u), c.items.add(i));
  c.request.seen.resize(static_cast<size_t>(c.users.size()));
  for (const auto& [u, i] : pairs) c.request.seen[static_cast<size_t>(u)].push_back(i);
  for (auto& s : c.request.seen) std::sort(s.begin(), s.end());
  c.name = "ml-100k (943 users x 1682 items, d=50, k=10)";
  c.model = random_dot_product_bias(c.users.size(), c.items.size(), 50);
  c.request.k = 10;
  for (int64_t u = 0; u < c.users.size(); ++u) c.request.users.push_back(u);
  return true;
}

Case large_case() {
  Case c;
  const int64_t n_users = 162000, n_items = 59000, per_user = 150;
  c.name = "synthetic 162000 users x 59000 items, d=50, k=50, 150 seen per user";
  c.users = numbered("u", n_users);
  c.items = numbered("i", n_items);
  c.model = random_dot_product_bias(n_users, n_items, 50);
  c.request.k = 50;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> item(0, n_items - 1);
  c.request.seen.resize(static_cast<size_t>(n_users));
  for (auto& s : c.request.seen) {
    for (int64_t j = 0; j < per_user; ++j) s.push_back(item(rng));
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
  }
  for (int64_t u = 0; u < n_users; ++u) c.request.users.push_back(u);
  return c;
}

// Ranking alone (lists dropped) and ranking plus CSV formatting (bytes counted).
double rank_only(const Case& c) {
  const collab::UserScorer scorer(*c.model, c.items.size());
  return seconds_of([&] {
    collab::top_k_for_users(scorer, c.request.users, c.request.seen, c.request.k,
                            [](std::vector<collab::UserTopK>&&) {});
  });
}

double rank_and_write(const Case& c, size_t& bytes) {
  const collab::UserScorer scorer(*c.model, c.items.size());
  bytes = 0;
  return seconds_of([&] {
    collab::write_recommendation_lists(scorer, c.users, c.items, c.request,
                                       [&](std::string_view t) { bytes += t.size(); });
  });
}

// torch::mm's flop/s on the scorer's block shape ([B, 52] x [52, items]; 50 factors, the bias
// and the offset), from a few blocks: Debian's LibTorch runs it on the reference BLAS, too slow
// to time over every user.
double torch_mm_flops(const Case& c, int64_t users_per_block) {
  const int64_t d = 52, blocks = 4;
  const torch::Tensor users = torch::randn({users_per_block, d});
  const torch::Tensor items = torch::randn({d, c.items.size()});
  torch::Tensor out = torch::empty({users_per_block, c.items.size()});
  const double t = seconds_of([&] {
    for (int64_t b = 0; b < blocks; ++b) at::mm_out(out, users, items);
  });
  return 2.0 * static_cast<double>(blocks * users_per_block * d * c.items.size()) / t;
}

// The scorer's own products (user_item_products) over every block, ranking nothing.
double products_only(const Case& c) {
  const collab::UserScorer scorer(*c.model, c.items.size());
  const int64_t n = static_cast<int64_t>(c.request.users.size());
  return seconds_of([&] {
    for (int64_t s = 0; s < n; s += scorer.users_per_block()) {
      const int64_t b = std::min(scorer.users_per_block(), n - s);
      scorer.ranking_keys(torch::arange(s, s + b, torch::kLong));
    }
  });
}

void report(const Case& c, int repeats, bool with_matmul) {
  std::vector<double> ranks, writes, mms, products;
  size_t bytes = 0;
  for (int r = 0; r < repeats; ++r) {  // interleaved, so drift in the machine's speed hits all
    ranks.push_back(rank_only(c));
    writes.push_back(rank_and_write(c, bytes));
    if (!with_matmul) continue;
    products.push_back(products_only(c));
    mms.push_back(
        torch_mm_flops(c, collab::UserScorer(*c.model, c.items.size()).users_per_block()));
  }
  std::printf("%s\n  rank only        median %.3f s  (runs:", c.name.c_str(), median(ranks));
  for (double t : ranks) std::printf(" %.3f", t);
  std::printf(")\n  rank + CSV       median %.3f s  (%.1f MB of CSV; runs:", median(writes),
              static_cast<double>(bytes) / 1e6);
  for (double t : writes) std::printf(" %.3f", t);
  std::printf(")\n");
  if (!with_matmul) return;
  const double n_users = static_cast<double>(c.request.users.size());
  const double n_items = static_cast<double>(c.items.size());
  const double flops = 2.0 * n_users * n_items * 50;  // 2*U*I*d, d = 50 factors
  const double mm_rate = median(mms), ours = median(products);
  std::printf("  torch::mm        median %.2f GFLOP/s on the scorer's block shape (K=52)\n",
              mm_rate / 1e9);
  std::printf("  matmul bound     2*U*I*d / torch::mm rate = %.1f s; rank+CSV is %.3fx it\n",
              flops / mm_rate, median(writes) / (flops / mm_rate));
  std::printf(
      "  scorer products  median %.3f s over every block = %.1f GFLOP/s (K=52); rank+CSV "
      "is %.2fx the products alone\n",
      ours, 2.0 * n_users * n_items * 52 / ours / 1e9, median(writes) / ours);
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  bool skip_large = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--skip-large") == 0) skip_large = true;
  }
  // As recommend_for_users does: every core (LibTorch here starts with one thread).
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines as they come, also into a file
  std::printf("threads: %d\n", at::get_num_threads());
  Case small;
  if (ml100k_case(small)) {
    report(small, std::max(repeats, 5), /*with_matmul=*/false);
  } else {
    std::printf("ml-100k not found (set COLLAB_DATA_DIR): skipping (a)\n");
  }
  if (!skip_large) report(large_case(), repeats, /*with_matmul=*/true);
  return 0;
}
