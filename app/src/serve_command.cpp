// `collab serve MODEL [--port 8080] [--host 127.0.0.1]`: answers recommend, similar and predict
// requests over HTTP until SIGINT or SIGTERM, which let the requests in flight finish and exit 0.
// The model is reloaded on SIGHUP, and when MODEL is a run dir, whenever its newest checkpoint
// changes (polled every --watch seconds): a run still training is served as it improves.
#include <chrono>
#include <csignal>
#include <cxxopts.hpp>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <torch/torch.h>

#include "collab/app/commands.h"
#include "collab/app/interrupt.h"
#include "collab/app/model_args.h"
#include "collab/serve/model_server.h"

namespace collab {

namespace {

ServeOptions serve_options(const cxxopts::ParseResult& result) {
  ServeOptions options;
  options.host = result["host"].as<std::string>();
  options.port = result["port"].as<int>();
  options.threads = result["threads"].as<int>();
  options.max_body_bytes = result["max-body"].as<int64_t>();
  options.read_timeout_seconds = result["read-timeout"].as<int>();
  options.limits.max_k = result["max-k"].as<int64_t>();
  options.limits.max_pairs = result["max-pairs"].as<int64_t>();
  if (options.port < 0 || options.port > 65535) {
    throw std::invalid_argument("--port must be 0..65535 (0: any free port)");
  }
  if (options.threads < 0) throw std::invalid_argument("--threads must be >= 0 (0: automatic)");
  if (options.max_body_bytes < 1) throw std::invalid_argument("--max-body must be >= 1");
  if (options.read_timeout_seconds < 1) throw std::invalid_argument("--read-timeout must be >= 1");
  if (options.limits.max_k < 1) throw std::invalid_argument("--max-k must be >= 1");
  if (options.limits.max_pairs < 1) throw std::invalid_argument("--max-pairs must be >= 1");
  return options;
}

}  // namespace

int serve_command(int argc, char** argv) {
  cxxopts::Options options("collab serve",
                           "Serve a trained model over HTTP (JSON API and an explorer page at /): "
                           "collab serve MODEL [--port 8080] [--host 127.0.0.1]");
  options.positional_help("MODEL (a .ckpt file, a run dir, or an exported model.pt)");
  // clang-format off
  options.add_options()
      ("host", "address to listen on", cxxopts::value<std::string>()->default_value("127.0.0.1"))
      ("port", "port to listen on (0: any free port)", cxxopts::value<int>()->default_value("8080"))
      ("threads", "request threads (0: 4 per core, at least 8)",
       cxxopts::value<int>()->default_value("0"))
      ("max-body", "largest request body in bytes (larger: 413)",
       cxxopts::value<int64_t>()->default_value("1048576"))
      ("max-k", "longest list a request may ask for", cxxopts::value<int64_t>()->default_value("1000"))
      ("max-pairs", "most (user, item) pairs in one predict request",
       cxxopts::value<int64_t>()->default_value("10000"))
      ("read-timeout", "seconds a client may stay silent mid-request before it is disconnected",
       cxxopts::value<int>()->default_value("5"))
      ("watch", "seconds between checks of a run dir for a newer checkpoint (0: only on SIGHUP)",
       cxxopts::value<double>()->default_value("2"));
  // clang-format on
  const ModelArgs parsed =
      parse_model_args(options, argc, argv, "serve", "collab serve MODEL [--port 8080]");
  if (parsed.help) return 0;
  const ServeOptions serve = serve_options(parsed.result);
  const double watch = parsed.result["watch"].as<double>();
  if (!(watch >= 0)) throw std::invalid_argument("--watch must be >= 0 seconds");

  // Requests run side by side on the request threads, each scoring on its own thread: LibTorch's
  // own intra-op threads would only contend with them.
  torch::set_num_threads(1);
  install_interrupt_handlers(InterruptMode::kStopThenExit);
  install_reload_handler();
  // A client that hangs up while its answer is being written must not end the server.
  std::signal(SIGPIPE, SIG_IGN);
  ModelServer server(parsed.model, serve, std::cerr);
  server.start();
  std::cerr << "serving " << server.current()->loaded().path << " on http://" << serve.host << ":"
            << server.port() << "/ (Ctrl-C to stop)" << std::endl;
  auto next_check = std::chrono::steady_clock::now();
  while (interrupt_signal() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (take_reload_request()) server.reload();
    if (watch > 0 && std::chrono::steady_clock::now() >= next_check) {
      server.reload_if_newer();
      next_check = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(watch * 1000));
    }
  }
  server.stop();
  std::cerr << "collab serve: stopped after answering the requests in flight" << std::endl;
  return 0;
}

}  // namespace collab
