// `collab serve` over loopback: each endpoint's answer against the library path the one-shot
// commands take (recommend, similar, predict, fold-in), every documented error (malformed JSON,
// unknown user or item, huge k, oversized body, too many pairs, unknown endpoint, a slow client),
// a hot swap to a newer checkpoint while a client keeps asking, and the command itself: SIGHUP
// reloads, SIGTERM lets a request in flight finish and exits 0.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "collab/serve/model_server.h"
#include "collab/serve/queries.h"
#include "test_support.h"

namespace test_serve {

namespace {

using json = nlohmann::json;
using namespace collab::test;  // the shared helpers: test_support.h
namespace fs = std::filesystem;

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A server that answers 413 before reading a large body closes the connection under the
    // client still writing it: that must fail the write, not kill the test process.
    std::signal(SIGPIPE, SIG_IGN);
    dir_ = new std::string(temp_dir("collab-serve"));
    write_small_catalogue(*dir_);
    write_text(*dir_ + "/dot.json",
               R"({"data": {"train": "train.tsv", "valid": "valid.tsv", "items": "u.item"},
                   "model": {"arch": "DotProductBias", "n_factors": 4, "y_range": [0, 5.5]},
                   "train": {"epochs": 2, "batch_size": 16, "threads": 1}})");
    const auto r =
        run_collab("train '" + *dir_ + "/dot.json' --run-dir '" + run_dir() + "' --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string run_dir() { return *dir_ + "/dot-run"; }

  void SetUp() override { start(collab::ServeOptions()); }
  void TearDown() override {
    if (server_) server_->stop();
  }
  void start(collab::ServeOptions options, const std::string& model = "") {
    if (server_) server_->stop();
    options.port = 0;
    options.read_timeout_seconds = 1;
    server_ =
        std::make_unique<collab::ModelServer>(model.empty() ? run_dir() : model, options, log_);
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  json get(const std::string& path, int expected = 200) {
    const auto res = client_->Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return nullptr;
    EXPECT_EQ(res->status, expected) << path << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(res->body);
  }
  json post(const std::string& path, const std::string& body, int expected = 200) {
    const auto res = client_->Post(path.c_str(), body, "application/json");
    EXPECT_TRUE(res) << path;
    if (!res) return nullptr;
    EXPECT_EQ(res->status, expected) << path << " " << body << ": " << res->body;
    return json::parse(res->body);
  }
  const collab::LoadedModel& loaded() { return server_->current()->loaded(); }

  static std::string* dir_;
  std::ostringstream log_;
  std::unique_ptr<collab::ModelServer> server_;
  std::unique_ptr<httplib::Client> client_;
};
std::string* Serve::dir_ = nullptr;

// The items of a JSON list as (raw id, score) against a library list.
void expect_same_items(const json& items, const std::vector<collab::ScoredItem>& expected,
                       const collab::Vocabulary& vocabulary, const char* score = "score") {
  ASSERT_EQ(items.size(), expected.size()) << items.dump();
  for (size_t r = 0; r < expected.size(); ++r) {
    EXPECT_EQ(items[r]["rank"], r + 1);
    EXPECT_EQ(items[r]["item"], vocabulary.raw(expected[r].item)) << "rank " << r + 1;
    EXPECT_EQ(items[r]["title"], vocabulary.title(expected[r].item));
    // JSON carries the double as the library computed it.
    EXPECT_DOUBLE_EQ(items[r][score].get<double>(), expected[r].score);
  }
}

TEST_F(Serve, HealthInfoAndPage) {
  const json health = get("/health");
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["generation"], 1);
  const json info = get("/info");
  EXPECT_EQ(info["arch"], "DotProductBias");
  EXPECT_EQ(info["n_users"], 20);
  EXPECT_EQ(info["n_items"], 30);
  EXPECT_EQ(info["y_range"], json({0.0, 5.5}));
  EXPECT_EQ(info["config"]["model"]["n_factors"], 4);
  EXPECT_EQ(info["limits"]["max_k"], 1000);
  const auto page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(contains(page->body, "collab explorer"));
  EXPECT_TRUE(contains(page->get_header_value("Content-Type"), "text/html"));
}

TEST_F(Serve, RecommendForAKnownUserIsRecommendUsersList) {
  std::ostringstream warnings;
  const auto seen = collab::load_training_ratings(loaded(), warnings).rated_by_user;
  const collab::UserScorer scorer(*loaded().model, loaded().items.size());
  for (const std::string user : {"1", "7", "20"}) {
    const auto expected = collab::recommend_for_trained_user(scorer, loaded().users, user, seen, 5);
    const json by_get = get("/recommend?k=5&user=" + user);
    EXPECT_EQ(by_get["user"], user);
    EXPECT_EQ(by_get["mode"], "trained user");
    EXPECT_EQ(by_get["excluded"], expected.excluded);
    expect_same_items(by_get["items"], expected.items, loaded().items);
    EXPECT_EQ(post("/recommend", R"({"user": ")" + user + R"(", "k": 5})"), by_get);
  }
  // include_seen brings the rated items back.
  const auto all = collab::recommend_for_trained_user(scorer, loaded().users, "1", {}, 30);
  expect_same_items(post("/recommend", R"({"user": 1, "k": 30, "include_seen": true})")["items"],
                    all.items, loaded().items);
}

TEST_F(Serve, NewUsersAreFoldedInOrGetTheFallback) {
  const json folded =
      post("/recommend",
           R"({"ratings": [{"item": "3", "rating": 5}, {"item": "4", "rating": 1}], "k": 4})");
  EXPECT_EQ(folded["mode"], "fold-in");
  EXPECT_EQ(folded["excluded"], 2);
  const auto expected = collab::recommend_for_new_user(
      *loaded().model, {{*loaded().items.find("3"), 5.f}, {*loaded().items.find("4"), 1.f}}, 0.8,
      false, 4);
  expect_same_items(folded["items"], expected.items, loaded().items);
  const json fallback = post("/recommend", "{}");
  EXPECT_EQ(fallback["mode"], "fallback: item bias");
  EXPECT_EQ(fallback["items"].size(), 10u);
}

TEST_F(Serve, SimilarByTitleOrIdIsSimilarsList) {
  const auto query = collab::trained_item_query(loaded(), "5");
  const auto expected = collab::similar_items(loaded(), query, {}, 0, 6);
  const json by_id = get("/similar?item=5&k=6&min_ratings=0");
  EXPECT_EQ(by_id["item"], "5");
  expect_same_items(by_id["items"], expected, loaded().items, "cosine");
  const std::string title = loaded().items.title(*loaded().items.find("5"));
  EXPECT_EQ(post("/similar", json({{"item", title}, {"k", 6}, {"min_ratings", 0}}).dump()), by_id);
}

TEST_F(Serve, PredictScoresKnownPairsInOneBatchAndMarksUnknownOnes) {
  const json out = post("/predict", R"({"pairs": [{"user": "1", "item": "2"},
      {"user": "nobody", "item": "2"}, {"user": 3, "item": 9}, {"user": "1", "item": "999"}]})");
  const json& p = out["predictions"];
  ASSERT_EQ(p.size(), 4u);
  const auto& users = loaded().users;
  const auto& items = loaded().items;
  const auto expected = collab::predict_pairs(
      *loaded().model, {*users.find("1"), *items.find("2"), *users.find("3"), *items.find("9")});
  EXPECT_DOUBLE_EQ(p[0]["score"].get<double>(), expected[0]);
  EXPECT_TRUE(p[1]["score"].is_null());
  EXPECT_EQ(p[1]["error"], "unknown user");
  EXPECT_DOUBLE_EQ(p[2]["score"].get<double>(), expected[1]);
  EXPECT_EQ(p[3]["error"], "unknown item");
}

TEST_F(Serve, BadRequestsGetTheDocumentedAnswers) {
  const json malformed = post("/recommend", R"({"user": "1", "k": )", 400);
  EXPECT_TRUE(contains(malformed["error"], "malformed JSON")) << malformed;
  const json unknown = get("/recommend?user=nobody", 404);
  EXPECT_EQ(unknown["field"], "user");
  EXPECT_TRUE(contains(unknown["error"], "\"nobody\"")) << unknown;
  const json huge_k = get("/recommend?user=1&k=1000000", 400);
  EXPECT_EQ(huge_k["field"], "k");
  EXPECT_EQ(get("/recommend?user=1&k=0", 400)["field"], "k");
  EXPECT_EQ(get("/recommend?user=1&k=ten", 400)["field"], "k");
  EXPECT_EQ(post("/recommend", R"({"ratings": [{"item": "3", "rating": "x"}]})", 400)["field"],
            "ratings[0].rating");
  EXPECT_EQ(
      post("/recommend", R"({"ratings": [{"item": "no such film", "rating": 4}]})", 404)["field"],
      "ratings[0].item");
  EXPECT_EQ(post("/recommend", R"([1, 2])", 400)["error"],
            "the request body must be a JSON object");
  EXPECT_EQ(get("/similar?item=no%20such%20film", 404)["field"], "item");
  EXPECT_EQ(get("/similar?item=5&features=Drama", 400)["field"], "item");
  EXPECT_EQ(post("/predict", R"({"pairs": 3})", 400)["field"], "pairs");
  EXPECT_EQ(get("/users/nobody", 404)["field"], "user");
  EXPECT_TRUE(contains(get("/no/such/thing", 404)["error"], "no such endpoint"));
}

TEST_F(Serve, LimitsOnBodySizeAndBatchSize) {
  collab::ServeOptions options;
  options.max_body_bytes = 2000;
  options.limits.max_pairs = 3;
  start(options);
  const json too_big = post("/predict", std::string(3000, ' ') + "{}", 413);
  EXPECT_TRUE(contains(too_big["error"], "over the limit of 2000 bytes")) << too_big;
  const json too_many = post("/predict", R"({"pairs": [{"user": "1", "item": "2"},
      {"user": "1", "item": "2"}, {"user": "1", "item": "2"}, {"user": "1", "item": "2"}]})",
                             400);
  EXPECT_EQ(too_many["field"], "pairs");
  EXPECT_TRUE(contains(too_many["error"], "at most 3 pairs")) << too_many;
}

// A raw TCP connection to the server, for clients that misbehave.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

void send_text(int fd, const std::string& text) {
  ASSERT_EQ(::send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

// Everything the server sends until it closes the connection (or 5 s pass).
std::string read_until_closed(int fd) {
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) out.append(buffer, n);
  return out;
}

TEST_F(Serve, ASlowClientIsCutOffWithoutHoldingUpOthers) {
  const int slow = connect_to(server_->port());
  send_text(slow, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pa");
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(get("/health")["status"], "ok");  // answered while the slow one waits
  const std::string answer = read_until_closed(slow);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ::close(slow);
  // The read timeout is 1 s here: the server gives up on the body, answers 400 and closes the
  // connection once it has been idle as long again.
  EXPECT_LT(waited, 4.0);
  EXPECT_TRUE(contains(answer, "HTTP/1.1 400")) << answer;
  EXPECT_TRUE(contains(answer, R"({"error":)")) << answer;
}

TEST_F(Serve, SwapsToANewerCheckpointWhileAClientKeepsAsking) {
  // A copy of the run, so the suite's other tests keep theirs.
  const std::string run = *dir_ + "/swap-run";
  fs::remove_all(run);
  fs::copy(run_dir(), run, fs::copy_options::recursive);
  start(collab::ServeOptions(), run);
  EXPECT_FALSE(server_->reload_if_newer());
  const json before = get("/recommend?user=1&k=5");
  std::atomic<bool> done{false};
  std::atomic<int> answered{0}, failed{0};
  std::thread client([&] {
    httplib::Client c("127.0.0.1", server_->port());
    while (!done) {
      const auto res = c.Get("/recommend?user=2&k=5");
      (res && res->status == 200 ? answered : failed)++;
    }
  });
  const auto r = run_collab("resume '" + run + "' --epochs 4 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(server_->reload_if_newer());
  done = true;
  client.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(server_->generation(), 2);
  EXPECT_EQ(get("/health")["generation"], 2);
  EXPECT_NE(get("/recommend?user=1&k=5"), before);  // two more epochs moved the scores
  EXPECT_FALSE(server_->reload_if_newer());
}

TEST(ServeCli, ReloadsOnSighupAndFinishesARequestInFlightOnSigterm) {
  const std::string dir = temp_dir("collab-serve-cli");
  write_small_catalogue(dir);
  write_text(dir + "/c.json",
             R"({"data": {"train": "train.tsv", "valid": "valid.tsv", "items": "u.item"},
                 "model": {"arch": "DotProductBias", "n_factors": 4},
                 "train": {"epochs": 1, "batch_size": 16, "threads": 1}})");
  ASSERT_EQ(run_collab("train '" + dir + "/c.json' --run-dir '" + dir + "/run' --quiet").exit_code,
            0);
  const int port = free_port();
  const pid_t pid = start_collab({"serve", dir + "/run", "--port", std::to_string(port), "--watch",
                                  "0", "--read-timeout", "5"},
                                 dir + "/serve.log");
  httplib::Client client("127.0.0.1", port);
  ASSERT_TRUE(wait_until([&] { return static_cast<bool>(client.Get("/health")); }, 30.0))
      << read_text(dir + "/serve.log");
  ::kill(pid, SIGHUP);
  EXPECT_TRUE(wait_until(
      [&] {
        const auto res = client.Get("/health");
        return res && json::parse(res->body)["generation"] == 2;
      },
      10.0))
      << read_text(dir + "/serve.log");
  // A request whose body is still on its way when SIGTERM comes is answered, then the server
  // exits 0.
  const int fd = connect_to(port);
  const std::string body = R"({"pairs": [{"user": "1", "item": "2"}]})";
  send_text(fd, "POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(pid, SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  send_text(fd, body.substr(5));
  const std::string answer = read_until_closed(fd);
  ::close(fd);
  EXPECT_TRUE(contains(answer, "HTTP/1.1 200")) << answer;
  EXPECT_TRUE(contains(answer, "\"score\"")) << answer;
  EXPECT_EQ(wait_exit_code(pid), 0) << read_text(dir + "/serve.log");
  EXPECT_TRUE(contains(read_text(dir + "/serve.log"), "stopped after answering"));
}

TEST(ServeCli, RefusesWhatItCannotServe) {
  expect_refused("serve /no/such/run", "/no/such/run");
  expect_refused("serve x --port 70000", "--port must be 0..65535");
  expect_refused("serve x --max-k 0", "--max-k must be >= 1");
  expect_refused("serve", "missing MODEL");
}

}  // namespace

}  // namespace test_serve
