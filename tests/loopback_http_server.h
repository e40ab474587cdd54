// The loopback HTTP server the fetch tests download from (these machines are offline): serves
// an in-memory set of files with Range support and scripted cut-offs. Test-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace collab::test {

// Serves `files` (path -> body) over HTTP/1.0, 404 for anything else, one connection at a
// time; honours "Range: bytes=N-" (206, or 416 past the end) unless told to ignore ranges, and
// can cut its next responses off half-way (a full Content-Length, half the body, then close).
// It stops when destroyed, and by itself after a minute so a hung test cannot keep it.
class HttpServer {
 public:
  explicit HttpServer(std::map<std::string, std::string> files) : files_(std::move(files)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // the kernel picks a free port
    socklen_t len = sizeof addr;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void cut_next(int responses) { cuts_left_ = responses; }
  void ignore_ranges() { honour_ranges_ = false; }
  // The Range header of every request so far ("" for none), in order.
  std::vector<std::string> ranges() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return ranges_;
  }

 private:
  void serve() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int client = accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      respond(client);
      close(client);
    }
  }
  // The N of a "Range: bytes=N-" header, -1 without one; logs the header.
  long long requested_offset(const std::string& request) {
    const size_t at = request.find("\r\nRange: bytes=");
    const std::lock_guard<std::mutex> lock(mutex_);
    if (at == std::string::npos) {
      ranges_.push_back("");
      return -1;
    }
    const size_t start = at + 2;
    ranges_.push_back(request.substr(start + 7, request.find("\r\n", start) - start - 7));
    return std::stoll(request.substr(at + 15));
  }
  void respond(int client) {
    timeval timeout{5, 0};
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      const ssize_t n = recv(client, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      request.append(buffer, static_cast<size_t>(n));
    }
    const size_t start = request.find(' ') + 1;
    const auto it = files_.find(request.substr(start, request.find(' ', start) - start));
    const long long offset = requested_offset(request);
    std::string status = "HTTP/1.0 404 Not Found";
    std::string body = "not found\n";
    std::string extra;
    if (it != files_.end()) {
      status = "HTTP/1.0 200 OK";
      body = it->second;
      if (offset >= 0 && honour_ranges_) {
        const auto size = static_cast<long long>(body.size());
        if (offset >= size) {
          status = "HTTP/1.0 416 Range Not Satisfiable";
          body = "";
        } else {
          status = "HTTP/1.0 206 Partial Content";
          extra = "\r\nContent-Range: bytes " + std::to_string(offset) + "-" +
                  std::to_string(size - 1) + "/" + std::to_string(size);
          body = body.substr(static_cast<size_t>(offset));
        }
      }
    }
    std::string reply = status + "\r\nContent-Length: " + std::to_string(body.size()) + extra +
                        "\r\nConnection: close\r\n\r\n" + body;
    if (cuts_left_ > 0 && !body.empty()) {
      --cuts_left_;
      reply.resize(reply.size() - (body.size() + 1) / 2);  // the connection breaks mid-body
    }
    for (size_t sent = 0; sent < reply.size();) {  // MSG_NOSIGNAL: clients may hang up early
      const ssize_t n = send(client, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  std::map<std::string, std::string> files_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> cuts_left_{0};
  std::atomic<bool> honour_ranges_{true};
  std::mutex mutex_;
  std::vector<std::string> ranges_;
  std::thread thread_;
};

}  // namespace collab::test
