// Load test of `collab serve` on loopback: starts the server on MODEL, then a bounded client (N
// keep-alive connections on N threads, a fixed count of requests shared among them) asks for
// recommendations of random trained users and for batches of predictions, then recommendations
// again while the model is swapped (SIGHUP) halfway. Reports requests/s and p50/p99 latency per
// phase and every failure (a non-200 answer or a broken connection); exits 1 when any request
// failed or the swap did not happen. The peer is the one-shot command the server replaces: the
// median wall time of `collab recommend MODEL --user U` processes, measured in the same run.
//   build/bench/serve_load MODEL [--collab build/collab] [--connections 8] [--requests 4000]
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model, collab = "build/collab";
  int connections = 8;
  int requests = 4000;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    const auto value = [&]() -> std::string {
      if (a + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++a];
    };
    if (arg == "--collab")
      o.collab = value();
    else if (arg == "--connections")
      o.connections = std::stoi(value());
    else if (arg == "--requests")
      o.requests = std::stoi(value());
    else if (o.model.empty() && arg.rfind("--", 0) != 0)
      o.model = arg;
    else
      throw std::invalid_argument("unknown argument " + arg);
  }
  if (o.model.empty()) throw std::invalid_argument("usage: serve_load MODEL [--collab PATH]");
  return o;
}

pid_t start_server(const Options& o, int port) {
  const pid_t pid = fork();
  if (pid == 0) {
    // The server's log goes to /dev/null: its pipe would keep a reader of ours waiting.
    const int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    const std::string p = std::to_string(port);
    execl(o.collab.c_str(), o.collab.c_str(), "serve", o.model.c_str(), "--port", p.c_str(),
          "--watch", "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

struct PhaseResult {
  std::string name;
  int requests = 0, failures = 0;
  double seconds = 0, p50_ms = 0, p99_ms = 0;
};

// `make_request(client, rng)` sends one request and returns whether it got 200; `during(done)`
// runs on the calling thread while the clients work (given the count of requests finished).
template <class Request>
PhaseResult run_phase(const std::string& name, int port, const Options& o, Request make_request,
                      const std::function<void(const std::atomic<int>&)>& during = {}) {
  std::vector<std::vector<double>> latencies(static_cast<size_t>(o.connections));
  std::atomic<int> next{0}, finished{0}, failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);  // as the server: no 40 ms wait for a delayed ACK
      std::mt19937 rng(static_cast<unsigned>(c) + 1);
      while (next++ < o.requests) {
        const auto t0 = Clock::now();
        const bool ok = make_request(client, rng);
        latencies[static_cast<size_t>(c)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!ok) ++failures;
        ++finished;
      }
    });
  }
  if (during) during(finished);
  for (auto& t : threads) t.join();
  PhaseResult r;
  r.name = name;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  r.requests = static_cast<int>(all.size());
  r.failures = failures;
  r.p50_ms = all[all.size() / 2];
  r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

double median_cli_seconds(const Options& o, const std::string& user, int runs) {
  std::vector<double> seconds;
  const std::string command =
      o.collab + " recommend '" + o.model + "' --user " + user + " --json > /dev/null 2>&1";
  for (int r = 0; r < runs; ++r) {
    const auto t0 = Clock::now();
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
    seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const int port = 20000 + static_cast<int>(getpid() % 20000);
  const pid_t server = start_server(o, port);
  httplib::Client probe("127.0.0.1", port);
  json info;
  for (int tries = 0; tries < 600; ++tries) {
    if (const auto res = probe.Get("/info"); res && res->status == 200) {
      info = json::parse(res->body);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (info.is_null())
    throw std::runtime_error("collab serve did not come up on port " + std::to_string(port));
  // Users by MovieLens' numbering (raw ids 1..n, as ml-100k and the synthetic sets have them);
  // items from user 1's full list.
  const int n_users = info["n_users"];
  const auto user_id = [&](std::mt19937& rng) {
    return std::to_string(std::uniform_int_distribution<int>(1, n_users)(rng));
  };
  std::vector<std::string> items;
  const json first_list = json::parse(probe.Get("/recommend?user=1&k=100&include_seen=true")->body);
  for (const auto& it : first_list["items"]) items.push_back(it["item"]);
  if (items.empty())
    throw std::runtime_error("user 1 has no recommendations: " + first_list.dump());
  const auto recommend = [&](httplib::Client& c, std::mt19937& rng) {
    const auto res = c.Get(("/recommend?k=10&user=" + user_id(rng)).c_str());
    return res && res->status == 200;
  };
  const auto predict = [&](httplib::Client& c, std::mt19937& rng) {
    json pairs = json::array();
    for (int p = 0; p < 100; ++p) {
      pairs.push_back(
          {{"user", user_id(rng)},
           {"item", items[std::uniform_int_distribution<size_t>(0, items.size() - 1)(rng)]}});
    }
    const auto res = c.Post("/predict", json({{"pairs", pairs}}).dump(), "application/json");
    return res && res->status == 200;
  };
  std::vector<PhaseResult> results;
  results.push_back(run_phase("recommend (k=10)", port, o, recommend));
  results.push_back(run_phase("predict (100 pairs)", port, o, predict));
  results.push_back(run_phase("recommend, SIGHUP swap halfway", port, o, recommend,
                              [&](const std::atomic<int>& finished) {
                                while (finished < o.requests / 2) {
                                  std::this_thread::sleep_for(std::chrono::milliseconds(1));
                                }
                                kill(server, SIGHUP);
                              }));
  bool swapped = false;
  for (int tries = 0; tries < 100 && !swapped; ++tries) {
    swapped = json::parse(probe.Get("/health")->body)["generation"] == 2;
    if (!swapped) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(server, SIGTERM);
  int status = 0;
  waitpid(server, &status, 0);
  const double cli = median_cli_seconds(o, "1", 5);

  std::printf("collab serve %s (%s, %d users x %d items): %d connections, %d requests a phase\n",
              o.model.c_str(), info["arch"].get<std::string>().c_str(), n_users,
              info["n_items"].get<int>(), o.connections, o.requests);
  std::printf("%-32s %9s %9s %10s %9s %9s\n", "phase", "requests", "failures", "requests/s",
              "p50 ms", "p99 ms");
  int failures = 0;
  for (const auto& r : results) {
    std::printf("%-32s %9d %9d %10.0f %9.2f %9.2f\n", r.name.c_str(), r.requests, r.failures,
                r.requests / r.seconds, r.p50_ms, r.p99_ms);
    failures += r.failures;
  }
  std::printf("model swapped during the third phase: %s; server exit status on SIGTERM: %d\n",
              swapped ? "yes" : "NO", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  std::printf(
      "peer: one `collab recommend --user` process, median of 5: %.3f s; serve's p50 "
      "recommend is %.0fx faster\n",
      cli, cli * 1000 / results[0].p50_ms);
  return failures == 0 && swapped && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "serve_load: " << e.what() << "\n";
  return 2;
}
