// Evaluation protocols (data/protocol.h): generated k-fold, per-user leave-last-k-out, the
// `eval` section reader, and predefined folds loading as `collab train` loads data.train/valid.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "collab/common/error.h"
#include "collab/data/protocol.h"
#include "test_support.h"

namespace test_protocol {

namespace {

using collab::json;

// n ratings whose timestamp is the row number, so rows can be told apart.
collab::Ratings numbered(int64_t n) {
  collab::Ratings r;
  for (int64_t i = 0; i < n; ++i) r.push_back(i % 7, i % 11, static_cast<float>(i % 5 + 1), i);
  return r;
}

collab::ProtocolConfig read(const json& eval) {
  collab::ConfigReader reader(eval, "eval", nullptr);
  return collab::read_protocol_config(reader);
}

}  // namespace

TEST(KFold, FoldsPartitionTheRowsAndTrainOnTheRest) {
  const collab::Ratings all = numbered(103);
  std::multiset<int64_t> tested;
  for (int64_t f = 0; f < 5; ++f) {
    const collab::Split s = collab::kfold_split(all, 5, 42, f);
    EXPECT_EQ(s.valid.size(), static_cast<size_t>((f + 1) * 103 / 5 - f * 103 / 5));
    EXPECT_EQ(s.train.size() + s.valid.size(), 103u);
    std::set<int64_t> train(s.train.timestamps.begin(), s.train.timestamps.end());
    for (const int64_t t : s.valid.timestamps) {
      EXPECT_EQ(train.count(t), 0u);
      tested.insert(t);
    }
    // Both parts keep file order.
    EXPECT_TRUE(std::is_sorted(s.train.timestamps.begin(), s.train.timestamps.end()));
    EXPECT_TRUE(std::is_sorted(s.valid.timestamps.begin(), s.valid.timestamps.end()));
  }
  EXPECT_EQ(tested.size(), 103u);  // every row tested exactly once
  EXPECT_EQ(std::set<int64_t>(tested.begin(), tested.end()).size(), 103u);
  // The seed decides the folds.
  EXPECT_EQ(collab::kfold_split(all, 5, 42, 0).valid.timestamps,
            collab::kfold_split(all, 5, 42, 0).valid.timestamps);
  EXPECT_NE(collab::kfold_split(all, 5, 42, 0).valid.timestamps,
            collab::kfold_split(all, 5, 7, 0).valid.timestamps);
  EXPECT_THROW(collab::kfold_split(all, 1, 42, 0), collab::Error);
}

TEST(LeaveLastKOut, HoldsOutEachUsersLatestRatings) {
  collab::Ratings all;
  // user 0: times 30, 10, 20 -> last 2 are 30 and 20. user 1: one rating, stays in training.
  // user 2: times 5, 5, 1 -> the tie keeps file order: the later row (2nd "5") is the latest.
  all.push_back(0, 0, 5, 30);
  all.push_back(0, 1, 4, 10);
  all.push_back(1, 2, 3, 99);
  all.push_back(0, 2, 2, 20);
  all.push_back(2, 0, 1, 5);
  all.push_back(2, 1, 2, 5);
  all.push_back(2, 2, 3, 1);
  const collab::Split s = collab::leave_last_k_out(all, 2);
  // Test rows in file order: u0 i0 (30), u0 i2 (20), u2 i0 (5), u2 i1 (5).
  EXPECT_EQ(s.valid.items, (std::vector<int32_t>{0, 2, 0, 1}));
  EXPECT_EQ(s.valid.users, (std::vector<int32_t>{0, 0, 2, 2}));
  EXPECT_EQ(s.train.users, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(s.train.items, (std::vector<int32_t>{1, 2, 2}));

  const collab::Split one = collab::leave_last_k_out(all, 1);
  EXPECT_EQ(one.valid.timestamps, (std::vector<int64_t>{30, 5}));
  EXPECT_EQ(one.valid.items, (std::vector<int32_t>{0, 1}));
}

TEST(ProtocolConfig, DefaultsToPredefinedFiveFold) {
  const collab::ProtocolConfig p = read(json::object());
  EXPECT_EQ(p.kind, collab::ProtocolKind::kPredefinedKFold);
  EXPECT_EQ(collab::fold_count(p), 5);
  EXPECT_EQ(collab::fold_name(p, 0), "u1");
  EXPECT_EQ(collab::fold_name(p, 4), "u5");
}

TEST(ProtocolConfig, ReadsEachProtocol) {
  const auto r = read({{"protocol", "random"}, {"seeds", {1, 2, 3}}, {"valid_pct", 0.1}});
  EXPECT_EQ(collab::fold_count(r), 3);
  EXPECT_EQ(collab::fold_name(r, 1), "seed2");
  EXPECT_DOUBLE_EQ(r.valid_pct, 0.1);
  const auto k = read({{"protocol", "kfold"}, {"folds", 4}, {"seed", 7}});
  EXPECT_EQ(collab::fold_count(k), 4);
  EXPECT_EQ(k.seed, 7u);
  EXPECT_EQ(collab::fold_name(k, 0), "fold1");
  const auto l = read({{"protocol", "leave_last_k_out"}, {"holdout", 2}});
  EXPECT_EQ(collab::fold_count(l), 1);
  EXPECT_EQ(l.holdout, 2);
}

TEST(ProtocolConfig, ErrorsNameTheKey) {
  auto message = [](const json& eval) {
    try {
      read(eval);
    } catch (const collab::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"protocol", "bootstrap"}}).find("eval.protocol: expected one of"),
            std::string::npos);
  EXPECT_NE(message({{"protocol", "random"}, {"folds", 3}})
                .find("eval.folds: not used by protocol \"random\""),
            std::string::npos);
  EXPECT_NE(message({{"protocol", "random"}, {"seeds", json::array()}}).find("eval.seeds"),
            std::string::npos);
  EXPECT_NE(message({{"protocol", "kfold"}, {"folds", 1}}).find("eval.folds"), std::string::npos);
  EXPECT_NE(message({{"train_pattern", "u.base"}}).find("eval.train_pattern"), std::string::npos);
}

TEST(LoadFold, PredefinedFoldsLoadAsCollabTrainLoadsThem) {
  const std::string dir = collab::test::temp_dir();
  collab::test::write_text(dir + "/f1.base", "1\t10\t4\t1\n2\t20\t3\t2\n");
  collab::test::write_text(dir + "/f1.test", "2\t10\t5\t3\n3\t30\t1\t4\n");
  collab::test::write_text(dir + "/f2.base", "3\t30\t2\t1\n1\t10\t4\t2\n");
  collab::test::write_text(dir + "/f2.test", "2\t20\t3\t3\n");
  collab::DataConfig data;
  data.dir = dir;
  collab::ProtocolConfig p =
      read({{"folds", 2}, {"train_pattern", "f{fold}.base"}, {"test_pattern", "f{fold}.test"}});
  EXPECT_EQ(collab::fold_name(p, 1), "f2");
  const collab::DataConfig d2 = collab::fold_data_config(data, p, 1);
  EXPECT_EQ(d2.train, dir + "/f2.base");
  EXPECT_EQ(d2.valid, dir + "/f2.test");
  const collab::Dataset fold = collab::load_fold(data, p, 1);
  const collab::Dataset direct = collab::load_dataset(d2);
  EXPECT_EQ(fold.users.raws(), direct.users.raws());
  EXPECT_EQ(fold.users.raws(), (std::vector<std::string>{"3", "1", "2"}));  // train, then test
  EXPECT_EQ(fold.train.items, direct.train.items);
  EXPECT_EQ(fold.valid.ratings.to_vector(), direct.valid.ratings.to_vector());

  p.folds = 3;  // f3.* does not exist: the error names the file
  try {
    collab::load_fold(data, p, 2);
    ADD_FAILURE() << "expected an error";
  } catch (const collab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("f3.base"), std::string::npos) << e.what();
  }
}

TEST(LoadFold, GeneratedFoldsSplitTheRatingsFile) {
  const std::string dir = collab::test::temp_dir();
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += std::to_string(i % 6) + "\t" + std::to_string(i % 9) + "\t" +
            std::to_string(i % 5 + 1) + "\t" + std::to_string(1000 + i) + "\n";
  }
  collab::test::write_text(dir + "/all.tsv", text);
  collab::DataConfig data;
  data.dir = dir;
  data.ratings = dir + "/all.tsv";
  const auto k = read({{"protocol", "kfold"}, {"folds", 4}});
  size_t tested = 0;
  for (int64_t f = 0; f < 4; ++f) tested += collab::load_fold(data, k, f).valid.size();
  EXPECT_EQ(tested, 40u);
  const auto l = read({{"protocol", "leave_last_k_out"}});
  const collab::Dataset last = collab::load_fold(data, l, 0);
  EXPECT_EQ(last.valid.size(), 6u);  // one per user
  EXPECT_EQ(last.train.size(), 34u);
}

TEST(LoadFold, GeneratedFoldsKeyItemsAsTheDataConfigSays) {
  // Items 1 and 2 are one film under two ids: with data.item_key "title" every fold has one row
  // for it; a rated id missing from the catalogue is an error naming the ratings file.
  const std::string dir = collab::test::temp_dir();
  std::string flags;
  for (int g = 0; g < collab::kMovieLensGenres; ++g) flags += "|0";
  collab::test::write_text(dir + "/u.item", "1|Twice (1997)|||" + flags + "\n2|Twice (1997)|||" +
                                                flags + "\n3|Once (1995)|||" + flags + "\n");
  std::string text;
  for (int i = 0; i < 30; ++i) {
    text += std::to_string(i % 5) + "\t" + std::to_string(i % 3 + 1) + "\t4\t" +
            std::to_string(1000 + i) + "\n";
  }
  collab::test::write_text(dir + "/all.tsv", text);
  collab::DataConfig data;
  data.dir = dir;
  data.ratings = dir + "/all.tsv";
  data.items = dir + "/u.item";
  data.item_key = collab::ItemKey::kTitle;
  for (const char* protocol : {"kfold", "leave_last_k_out"}) {
    const collab::Dataset d = collab::load_fold(data, read({{"protocol", protocol}}), 0);
    EXPECT_EQ(d.items.raws(), (std::vector<std::string>{"Twice (1997)", "Once (1995)"}))
        << protocol;
    EXPECT_EQ(d.catalog.genres.size(), 2u) << protocol;
    EXPECT_EQ(d.train.size() + d.valid.size(), 30u) << protocol;
  }
  data.item_key = collab::ItemKey::kId;
  EXPECT_EQ(collab::load_fold(data, read({{"protocol", "kfold"}}), 0).items.size(), 3);

  collab::test::write_text(dir + "/all.tsv", text + "0\t7\t4\t2000\n");
  data.item_key = collab::ItemKey::kTitle;
  try {
    collab::load_fold(data, read({{"protocol", "kfold"}}), 0);
    ADD_FAILURE() << "expected an error";
  } catch (const collab::Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/all.tsv: item 7 is not in"), std::string::npos)
        << e.what();
  }
}

}  // namespace test_protocol
