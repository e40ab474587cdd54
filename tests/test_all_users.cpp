// `collab recommend MODEL --all-users | --users FILE` end to end on tiny trained models (a
// DotProductBias, scored by matrix products, and a CollabNN, by batched forward passes): every
// user's rows equal the list `recommend --user` gives (its library path for every user, the
// command itself for a few), in any block size; JSON Lines parse; --users keeps the file's order
// and names an unknown id's file and line; option misuse is refused in one line; an interrupted
// run leaves no output file and exits 130; the per-row top-k agrees with top_k().
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collab/app/interrupt.h"
#include "collab/serve/model_source.h"
#include "collab/app/recommendation_lists.h"
#include "collab/infer/top_k.h"
#include "collab/infer/user_scores.h"
#include "test_support.h"

namespace test_all_users {

namespace {

using json = nlohmann::json;
using namespace collab::test;  // the shared helpers: test_support.h
namespace fs = std::filesystem;

// A row of the output, whichever format.
struct Row {
  std::string user, item;
  int rank;
  double score;
};

// CSV rows as collab writes them for this catalogue (no field holds a comma or a quote).
std::vector<Row> parse_csv(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "user,rank,item,title,score");
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
    EXPECT_EQ(f.size(), 5u) << line;
    if (f.size() == 5) rows.push_back({f[0], f[2], std::stoi(f[1]), std::stod(f[4])});
  }
  return rows;
}

std::vector<Row> parse_jsonl(const std::string& text) {
  std::istringstream in(text);
  std::vector<Row> rows;
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);  // throws, failing the test, when a line is not JSON
    EXPECT_TRUE(j.contains("title")) << line;
    rows.push_back({j["user"], j["item"], j["rank"], j["score"]});
  }
  return rows;
}

// Rows by user, in output order.
std::map<std::string, std::vector<Row>> by_user(const std::vector<Row>& rows) {
  std::map<std::string, std::vector<Row>> out;
  for (const Row& r : rows) out[r.user].push_back(r);
  return out;
}

// Scores are printed as the shortest text of a float: equal to a float's precision.
void expect_same_list(const std::vector<Row>& rows, const std::vector<collab::ScoredItem>& list,
                      const collab::Vocabulary& items, const std::string& user) {
  ASSERT_EQ(rows.size(), list.size()) << "user " << user;
  for (size_t r = 0; r < list.size(); ++r) {
    EXPECT_EQ(rows[r].rank, static_cast<int>(r + 1));
    EXPECT_EQ(rows[r].item, items.raw(list[r].item)) << "user " << user << " rank " << r + 1;
    EXPECT_NEAR(rows[r].score, list[r].score, 1e-6 * std::abs(list[r].score) + 1e-6);
  }
}

class AllUsersCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir("collab-all-users"));
    write_small_catalogue(*dir_);
    train("dot", R"({"arch": "DotProductBias", "n_factors": 4, "y_range": [0, 5.5]})");
    train("nn", R"({"arch": "CollabNN", "layers": [8], "y_range": [0, 5.5]})");
  }
  static void TearDownTestSuite() { delete dir_; }
  static void train(const std::string& name, const std::string& model) {
    write_text(*dir_ + "/" + name + ".json",
               R"({"data": {"train": "train.tsv", "valid": "valid.tsv", "items": "u.item"},
                   "model": )" +
                   model + R"(,
                   "train": {"epochs": 2, "batch_size": 16, "threads": 1}})");
    const auto r =
        run_collab("train '" + *dir_ + "/" + name + ".json' --run-dir '" + run(name) + "' --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static std::string run(const std::string& name) { return *dir_ + "/" + name + "-run"; }

  // Every user's rows of `rows` against the library path `recommend --user` takes (a block of
  // one user), and the command itself for users 1 and 20.
  static void expect_recommend_user_lists(const std::string& name, const std::vector<Row>& rows,
                                          int64_t k) {
    const auto lists = by_user(rows);
    const collab::LoadedModel loaded = collab::load_trained_model(run(name));
    ASSERT_EQ(lists.size(), static_cast<size_t>(loaded.users.size()));
    std::ostringstream warnings;
    const auto seen = collab::load_training_ratings(loaded, warnings).rated_by_user;
    const collab::UserScorer scorer(*loaded.model, loaded.items.size());
    for (int64_t u = 0; u < loaded.users.size(); ++u) {
      collab::top_k_for_users(scorer, {u}, seen, k, [&](std::vector<collab::UserTopK>&& one) {
        expect_same_list(lists.at(loaded.users.raw(u)), one.front().items, loaded.items,
                         loaded.users.raw(u));
      });
    }
    for (const std::string user : {"1", "20"}) {
      const json one = run_collab_json("recommend '" + run(name) + "' --user " + user + " -k " +
                                       std::to_string(k) + " --json");
      std::vector<collab::ScoredItem> list;
      for (const auto& item : one["items"])
        list.push_back({*loaded.items.find(item["item"].get<std::string>()), item["score"]});
      expect_same_list(lists.at(user), list, loaded.items, user);
    }
  }

  static std::string* dir_;
};
std::string* AllUsersCli::dir_ = nullptr;

TEST_F(AllUsersCli, CsvEqualsRecommendUserForEveryUserOfDotProductBias) {
  const std::string out = *dir_ + "/dot.csv";
  const auto r =
      run_collab("recommend '" + run("dot") + "' --all-users -k 5 --output '" + out + "'");
  expect_ok(r);
  EXPECT_TRUE(r.out.empty()) << r.out;
  const auto rows = parse_csv(read_text(out));
  EXPECT_EQ(rows.size(), 20u * 5u);
  expect_recommend_user_lists("dot", rows, 5);
}

TEST_F(AllUsersCli, JsonLinesEqualRecommendUserForEveryUserOfCollabNN) {
  const auto r = run_collab("recommend '" + run("nn") + "' --all-users -k 0 --format jsonl");
  expect_ok(r);
  const auto rows = parse_jsonl(r.out);
  EXPECT_EQ(rows.size(), 20u * 19u);  // every item but the 11 each user rated (train + valid)
  expect_recommend_user_lists("nn", rows, 0);
}

TEST_F(AllUsersCli, ListsDoNotDependOnTheBlockSize) {
  const collab::LoadedModel loaded = collab::load_trained_model(run("dot"));
  collab::ListsRequest request;
  for (int64_t u = 0; u < loaded.users.size(); ++u) request.users.push_back(u);
  std::ostringstream warnings;
  request.seen = collab::load_training_ratings(loaded, warnings).rated_by_user;
  std::vector<std::string> outputs;
  for (const int64_t block_pairs : {int64_t{0}, int64_t{30 * 3}, int64_t{1}}) {
    const collab::UserScorer scorer(*loaded.model, loaded.items.size(), torch::kCPU, block_pairs);
    std::string text;
    int64_t calls = 0;
    EXPECT_TRUE(collab::write_recommendation_lists(
        scorer, loaded.users, loaded.items, request, [&](std::string_view t) { text += t; }, {},
        [&](int64_t) { ++calls; }));
    EXPECT_EQ(calls, (20 + scorer.users_per_block() - 1) / scorer.users_per_block());
    outputs.push_back(text);
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(outputs[0], outputs[2]);
}

TEST_F(AllUsersCli, UsersFileKeepsItsOrderAndIncludeSeen) {
  const std::string users = *dir_ + "/users.txt";
  write_text(users, "3\n\n  1 \n3\n");
  const auto r =
      run_collab("recommend '" + run("dot") + "' --users '" + users + "' -k 30 --include-seen");
  expect_ok(r);
  const auto rows = parse_csv(r.out);
  ASSERT_EQ(rows.size(), 90u);
  EXPECT_EQ(rows[0].user, "3");
  EXPECT_EQ(rows[30].user, "1");
  EXPECT_EQ(rows[60].user, "3");
}

TEST_F(AllUsersCli, UnknownUserInFileNamesFileLineAndId) {
  const std::string users = *dir_ + "/bad-users.txt";
  write_text(users,
             "1\n2\nno\x1b"
             "body\n");
  const auto r = run_collab("recommend '" + run("dot") + "' --users '" + users + "'");
  expect_one_line_error(r, "recommend", {users + ":3:", "\"no\\x1bbody\"", "20 users"});
  const auto missing = run_collab("recommend '" + run("dot") + "' --users '" + *dir_ + "/none'");
  expect_one_line_error(missing, "recommend", {*dir_ + "/none"});
}

TEST_F(AllUsersCli, RefusesOptionsThatDoNotGoTogether) {
  const std::string m = "recommend '" + run("dot") + "' ";
  expect_refused(m + "--all-users --users x", "not both");
  expect_refused(m + "--all-users --user 1", "--user is for one user's list");
  expect_refused(m + "--all-users --json", "--format jsonl");
  expect_refused(m + "--all-users --format xml", "\"xml\"");
  expect_refused(m + "--user 1 --output x.csv", "--output goes with --all-users");
  expect_refused(m + "--all-users --output '" + *dir_ + "/no/such/folder/x.csv'", "no/such/folder");
}

// The per-row top-k the blocks use picks what top_k() picks: ties to the lower index, NaN last,
// exclusions (with repeats and out-of-range entries) skipped, k past the candidates, k = 0 all.
TEST(TopKOfRow, AgreesWithTopK) {
  torch::manual_seed(3);
  torch::Tensor scores = torch::randint(0, 6, {200}).to(torch::kFloat);  // many ties
  scores[17] = std::nanf("");
  scores[90] = std::nanf("");
  scores[5] = -std::numeric_limits<float>::infinity();
  const std::vector<int64_t> exclude = {-1, 0, 3, 3, 50, 199, 400};
  for (const int64_t k : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{198}, int64_t{500}}) {
    const auto expected = collab::top_k(scores, k, exclude);
    const auto got = collab::top_k_of_row(scores.data_ptr<float>(), 200, exclude, k);
    ASSERT_EQ(got.size(), expected.size()) << "k " << k;
    for (size_t r = 0; r < got.size(); ++r) {
      EXPECT_EQ(got[r].item, expected[r].item) << "k " << k << " rank " << r;
    }
  }
}

// Its own suite (a process of its own under CTest): the signal it raises stays recorded.
TEST(AllUsersInterrupt, InterruptedRunLeavesNoFileAndExits130) {
  const std::string dir = temp_dir("collab-all-users-interrupt");
  write_small_catalogue(dir);
  write_text(dir + "/config.json", R"({
    "data": {"train": "train.tsv", "valid": "valid.tsv", "items": "u.item"},
    "model": {"arch": "DotProduct", "n_factors": 2},
    "train": {"epochs": 1, "batch_size": 64, "threads": 1}})");
  expect_ok(run_collab("train '" + dir + "/config.json' --run-dir '" + dir + "/run' --quiet"));
  const collab::LoadedModel loaded = collab::load_trained_model(dir + "/run");
  collab::ListsRequest request;
  request.users = {0, 1, 2};
  // As if Ctrl-C came just before the first block.
  collab::install_interrupt_handlers(collab::InterruptMode::kStopThenExit);
  std::raise(SIGINT);
  const std::string out = dir + "/lists.csv";
  EXPECT_EQ(collab::recommend_for_users(loaded, request, out), 130);
  EXPECT_FALSE(fs::exists(out));
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find("lists.csv"), std::string::npos)
        << entry.path();
}

}  // namespace

}  // namespace test_all_users
