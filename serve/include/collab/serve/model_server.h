// `collab serve`: a trained model behind an HTTP/1.1 JSON API (cpp-httplib, from Debian's
// libcpp-httplib-dev) and the page that explores it (served at /). Requests run on a thread
// pool and read the current ServedModel through a shared pointer; reload() builds a new one
// from the model's path (a run dir's newest checkpoint) and swaps it in, so requests in flight
// finish on the model they started with and none is dropped. stop() closes the listening socket
// and returns once the requests in flight have been answered.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

#include "collab/serve/served_model.h"

namespace httplib {
class Server;
}

namespace collab {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0: any free port (port() tells which)
  int threads = 0;                   // request threads; 0: 4 per core (see model_server.cpp)
  int64_t max_body_bytes = 1 << 20;  // larger request bodies get 413
  int read_timeout_seconds = 5;      // a client silent this long mid-request gets 400 and is
                                     // disconnected; an idle keep-alive connection is closed
  RequestLimits limits;
};

class ModelServer {
 public:
  // Loads `model_path` (throws collab::Error as load_trained_model does) and sets up the routes.
  ModelServer(std::string model_path, ServeOptions options, std::ostream& log);
  ~ModelServer();
  ModelServer(const ModelServer&) = delete;
  ModelServer& operator=(const ModelServer&) = delete;

  // Binds host:port (throws collab::Error naming them when it cannot) and serves on a thread.
  void start();
  int port() const { return port_; }
  // Stops accepting, answers the requests in flight, joins the serving thread.
  void stop();

  // Loads the model's path anew and swaps it in; on failure logs why and keeps serving the
  // current model. Returns whether it swapped.
  bool reload();
  // reload() when the path is a run dir whose newest checkpoint is not the one being served.
  bool reload_if_newer();
  // How many models have been served: 1 after construction, +1 for each swap.
  int64_t generation() const { return generation_.load(); }
  std::shared_ptr<const ServedModel> current() const;

 private:
  void add_routes();
  std::string newest_file() const;

  std::string model_path_;
  ServeOptions options_;
  std::ostream& log_;
  std::mutex log_mutex_;
  std::shared_ptr<const ServedModel> model_;  // read and replaced with std::atomic_load/store
  std::string served_file_;                   // guarded by reload_mutex_
  std::mutex reload_mutex_;                   // one reload at a time
  std::atomic<int64_t> generation_{1};
  std::unique_ptr<httplib::Server> http_;
  std::thread serving_;
  int port_ = 0;
};

}  // namespace collab
