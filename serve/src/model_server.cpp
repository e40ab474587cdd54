#include "collab/serve/model_server.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include "collab/common/error.h"
#include "collab/common/utf8.h"
#include "collab/serve/page.h"
#include "collab/train/run_checkpoints.h"

namespace collab {

namespace {

namespace fs = std::filesystem;

// Titles were made UTF-8 when read; `replace` keeps a response whole whatever a field holds.
std::string json_body(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_error(httplib::Response& res, int status, const std::string& message,
                const std::string& field) {
  res.status = status;
  json body = {{"error", message}};
  if (!field.empty()) body["field"] = field;
  res.set_content(json_body(body), "application/json");
}

// A request's JSON: its body for POST (400 naming the position when it does not parse), its
// query parameters (as strings) for GET.
json request_json(const httplib::Request& req) {
  if (req.method == "POST") {
    if (req.body.empty()) return json::object();
    try {
      return json::parse(req.body);
    } catch (const json::parse_error& e) {
      throw RequestError(400, "", std::string("malformed JSON body: ") + e.what());
    }
  }
  json out = json::object();
  for (const auto& [name, value] : req.params) out[name] = value;
  return out;
}

// A file's identity for "has the run written a newer checkpoint": its path and modification
// time (checkpoints are renamed into place whole, so a new one is a new file).
std::string file_signature(const std::string& path) {
  std::error_code ec;
  const auto time = fs::last_write_time(path, ec);
  return path + "@" + (ec ? "?" : std::to_string(time.time_since_epoch().count()));
}

}  // namespace

ModelServer::ModelServer(std::string model_path, ServeOptions options, std::ostream& log)
    : model_path_(std::move(model_path)), options_(std::move(options)), log_(log) {
  model_ = std::make_shared<const ServedModel>(model_path_, options_.limits, log_);
  served_file_ = file_signature(newest_file());
  http_ = std::make_unique<httplib::Server>();
  add_routes();
}

ModelServer::~ModelServer() {
  stop();
}

std::shared_ptr<const ServedModel> ModelServer::current() const {
  return std::atomic_load(&model_);
}

std::string ModelServer::newest_file() const {
  return fs::is_directory(model_path_) ? latest_checkpoint(model_path_) : model_path_;
}

bool ModelServer::reload() {
  std::lock_guard<std::mutex> reloading(reload_mutex_);
  try {
    const std::string signature = file_signature(newest_file());
    std::ostringstream warnings;
    auto fresh = std::make_shared<const ServedModel>(model_path_, options_.limits, warnings);
    std::atomic_store(&model_, std::shared_ptr<const ServedModel>(std::move(fresh)));
    served_file_ = signature;
    const int64_t generation = ++generation_;
    std::lock_guard<std::mutex> logging(log_mutex_);
    log_ << warnings.str() << "serving " << current()->loaded().path << " (model " << generation
         << ")" << std::endl;
    return true;
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> logging(log_mutex_);
    log_ << "warning: kept the model being served; reloading failed: " << e.what() << std::endl;
    return false;
  }
}

bool ModelServer::reload_if_newer() {
  if (!fs::is_directory(model_path_)) return false;
  std::string signature;
  try {
    signature = file_signature(newest_file());
  } catch (const std::exception&) {
    return false;  // the run dir lost its checkpoints: keep serving what we have
  }
  {
    std::lock_guard<std::mutex> reloading(reload_mutex_);
    if (signature == served_file_) return false;
  }
  return reload();
}

void ModelServer::start() {
  http_->set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  http_->set_read_timeout(options_.read_timeout_seconds, 0);
  // The library writes a response's headers and body separately: with Nagle's algorithm the body
  // then waits for the client's delayed ACK, 40 ms on Linux, on every keep-alive request.
  http_->set_tcp_nodelay(true);
  // An idle keep-alive connection holds a request thread too: the same bound.
  http_->set_keep_alive_timeout(options_.read_timeout_seconds);
  // Each keep-alive connection holds a request thread while it is open, and a slow client holds
  // one until the read timeout: several threads per core keep both from starving the others.
  const int threads = options_.threads > 0
                          ? options_.threads
                          : std::max(8, 4 * static_cast<int>(std::thread::hardware_concurrency()));
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  port_ = options_.port == 0
              ? http_->bind_to_any_port(options_.host)
              : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port_ < 0) {
    throw Error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                " (the port is taken, or the host is not an address of this machine)");
  }
  serving_ = std::thread([this] { http_->listen_after_bind(); });
  // stop() before the serving thread is in its accept loop would find nothing running and leave
  // that loop waiting for ever: return only once it runs.
  while (!http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void ModelServer::stop() {
  if (!serving_.joinable()) return;
  http_->stop();
  serving_.join();
}

void ModelServer::add_routes() {
  using Answer = std::function<json(const httplib::Request&, const ServedModel&)>;
  const auto route = [this](Answer answer) {
    return [this, answer](const httplib::Request& req, httplib::Response& res) {
      try {
        // The model this request started with stays alive until it is answered, even when a
        // reload swaps in another meanwhile.
        const std::shared_ptr<const ServedModel> model = current();
        res.set_content(json_body(answer(req, *model)), "application/json");
      } catch (const RequestError& e) {
        send_error(res, e.status, e.what(), e.field);
      } catch (const std::exception& e) {
        send_error(res, 500, std::string("internal error: ") + e.what(), "");
      }
    };
  };
  auto& h = *http_;
  h.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(explorer_page(), "text/html; charset=utf-8");
  });
  h.Get("/health", route([this](const httplib::Request&, const ServedModel& m) -> json {
          return {{"status", "ok"}, {"model", m.loaded().path}, {"generation", generation()}};
        }));
  h.Get("/info", route([this](const httplib::Request&, const ServedModel& m) {
          json out = m.info();
          out["generation"] = generation();
          return out;
        }));
  const auto recommend =
      route([](const auto& req, const ServedModel& m) { return m.recommend(request_json(req)); });
  h.Get("/recommend", recommend).Post("/recommend", recommend);
  const auto similar =
      route([](const auto& req, const ServedModel& m) { return m.similar(request_json(req)); });
  h.Get("/similar", similar).Post("/similar", similar);
  h.Post("/predict",
         route([](const auto& req, const ServedModel& m) { return m.predict(request_json(req)); }));
  h.Get("/items", route([](const auto& req, const ServedModel& m) {
          return m.search_items(request_json(req));
        }));
  h.Get(R"(/users/([^/]+))", route([](const auto& req, const ServedModel& m) {
          return m.user_ratings(req.matches[1].str());
        }));
  h.Get("/map", route([](const auto&, const ServedModel& m) { return m.item_map(); }));
  h.Get("/biases",
        route([](const auto& req, const ServedModel& m) { return m.biases(request_json(req)); }));
  // Statuses the library sets itself (404 no such route, 413 body too large, 400 unreadable
  // request) get a JSON body too; answers that already have one keep it.
  h.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                  httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = "HTTP " + std::to_string(res.status);
    if (res.status == 404) message = "no such endpoint: " + req.method + " " + req.path;
    if (res.status == 405) message = "method not allowed: " + req.method + " " + req.path;
    if (res.status == 413) {
      message =
          "request body over the limit of " + std::to_string(options_.max_body_bytes) + " bytes";
    }
    send_error(res, res.status, message, "");
    return httplib::Server::HandlerResponse::Handled;
  }));
}

}  // namespace collab
