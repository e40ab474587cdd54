// The `data.split` section (data/protocol.h): its reader, the data section around it (the old
// split keys keep their meaning), loading each kind from a file, the run config's round trip
// through its resolved config (resume, recommend, ... read that) and compare's use of it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "collab/app/compare.h"
#include "collab/common/error.h"
#include "collab/data/protocol.h"
#include "collab/train/run_config.h"
#include "test_support.h"

namespace test_data_split {

namespace {

using collab::json;

collab::ProtocolConfig read(const json& eval) {
  collab::ConfigReader reader(eval, "eval", nullptr);
  return collab::read_protocol_config(reader);
}

collab::ProtocolConfig read_split(const json& split, json* resolved = nullptr) {
  collab::ConfigReader reader(split, "data.split", resolved);
  return collab::read_split_config(reader, "/data");
}

// The message of the error read_split throws for `split`.
std::string split_error(const json& split) {
  return collab::test::error_of([&] { read_split(split); }, "read_split(" + split.dump() + ")");
}

collab::DataConfig read_data(const json& data, json* resolved = nullptr) {
  collab::ConfigReader reader(data, "data", resolved);
  return collab::read_data_config(reader, "/data");
}

std::string data_error(const json& data) {
  return collab::test::error_of([&] { read_data(data); }, "read_data(" + data.dump() + ")");
}

// A ratings file with timestamps: users 1-3, user 3 rating only from time 500 on.
std::string write_timed_ratings(const std::string& dir) {
  collab::test::write_text(dir + "/timed.tsv",
                           "1\t10\t4\t100\n2\t10\t3\t200\n1\t20\t5\t300\n2\t30\t2\t400\n"
                           "3\t10\t1\t500\n1\t30\t4\t600\n3\t40\t5\t700\n2\t20\t3\t800\n");
  return dir + "/timed.tsv";
}

}  // namespace

TEST(SplitConfig, ReadsEachKind) {
  const auto random = read_split({{"kind", "random"}, {"seed", 7}, {"valid_pct", 0.1}});
  EXPECT_EQ(random.kind, collab::ProtocolKind::kRandom);
  EXPECT_EQ(random.seeds, (std::vector<uint64_t>{7}));
  EXPECT_EQ(collab::fold_count(random), 1);
  const auto kfold = read_split({{"kind", "kfold"}, {"folds", 4}, {"fold", 3}});
  EXPECT_EQ(kfold.fold, 2);  // 1-based in the config
  EXPECT_EQ(collab::fold_count(kfold), 1);
  EXPECT_EQ(collab::fold_name(kfold, 0), "fold3");
  EXPECT_EQ(read_split({{"kind", "kfold"}}).fold, 0);
  const auto temporal = read_split({{"kind", "temporal"}});
  EXPECT_EQ(temporal.kind, collab::ProtocolKind::kTemporal);
  EXPECT_EQ(temporal.test_fraction, 0.2);  // the default cut-off
  EXPECT_FALSE(temporal.before.has_value());
  EXPECT_EQ(collab::fold_name(temporal, 0), "latest20pct");
  const auto before = read_split({{"kind", "temporal"}, {"before", 888888888}});
  EXPECT_EQ(before.before, 888888888);
  EXPECT_FALSE(before.test_fraction.has_value());
  const auto strat = read_split({{"kind", "stratified"}, {"valid_pct", 0.3}, {"seed", 5}});
  EXPECT_EQ(strat.kind, collab::ProtocolKind::kStratified);
  EXPECT_DOUBLE_EQ(strat.valid_pct, 0.3);
  EXPECT_EQ(strat.seeds, (std::vector<uint64_t>{5}));
  json resolved;
  const auto pre =
      read_split({{"kind", "predefined"}, {"train", "a.base"}, {"valid", "a.test"}}, &resolved);
  EXPECT_EQ(pre.train_pattern, "/data/a.base");
  EXPECT_EQ(resolved["train"], "/data/a.base");  // recorded resolved, as data.train is
  EXPECT_EQ(collab::fold_name(pre, 0), "a");
  EXPECT_EQ(read_split(json::object()).kind, collab::ProtocolKind::kRandom);
  // compare's eval section takes the new kinds too.
  EXPECT_EQ(collab::fold_count(read({{"protocol", "stratified"}, {"seeds", {1, 2}}})), 2);
  EXPECT_EQ(read({{"protocol", "temporal"}, {"before", 5}}).before, 5);
}

TEST(SplitConfig, ErrorsNameTheKeyAndTheValue) {
  EXPECT_NE(split_error({{"kind", "bootstrap"}})
                .find("data.split.kind: expected one of \"random\", \"predefined\", \"kfold\", "
                      "\"leave_last_k_out\", \"temporal\", \"stratified\", got \"bootstrap\""),
            std::string::npos);
  EXPECT_NE(split_error({{"kind", "temporal"}, {"holdout", 2}})
                .find("data.split.holdout: not used by kind \"temporal\" (it belongs to "
                      "\"leave_last_k_out\")"),
            std::string::npos);
  EXPECT_NE(split_error({{"kind", "temporal"}, {"before", 5}, {"test_fraction", 0.2}})
                .find("data.split.test_fraction: give the cut-off either as \"before\""),
            std::string::npos);
  EXPECT_NE(split_error({{"kind", "temporal"}, {"unseen", "ignore"}})
                .find("data.split.unseen: expected one of \"keep\", \"drop\", got \"ignore\""),
            std::string::npos);
  EXPECT_NE(
      split_error({{"kind", "random"}, {"unseen", "drop"}})
          .find("data.split.unseen: not used by kind \"random\" (it belongs to \"temporal\")"),
      std::string::npos);
  EXPECT_NE(split_error({{"kind", "temporal"}, {"test_fraction", 1.5}})
                .find("data.split.test_fraction: expected a number in (0, 1)"),
            std::string::npos);
  EXPECT_NE(split_error({{"kind", "temporal"}, {"before", "yesterday"}}).find("data.split.before"),
            std::string::npos);
  EXPECT_NE(split_error({{"kind", "kfold"}, {"folds", 5}, {"fold", 6}}).find("data.split.fold"),
            std::string::npos);
  EXPECT_NE(split_error({{"kind", "stratified"}, {"valid_pct", 0}}).find("data.split.valid_pct"),
            std::string::npos);
  EXPECT_NE(split_error({{"kind", "predefined"}, {"train", "a.base"}})
                .find("data.split.valid: missing; data.split \"predefined\" needs both"),
            std::string::npos);
  // compare's plural "seeds" is not a data.split key: one split, one seed.
  EXPECT_NE(
      split_error({{"kind", "stratified"}, {"seeds", {1}}}).find("data.split.seeds: unknown key"),
      std::string::npos);
  EXPECT_NE(collab::test::error_of([] {
              read({{"protocol", "temporal"}, {"holdout", 1}});
            }).find("eval.holdout: not used by protocol \"temporal\""),
            std::string::npos);
}

TEST(DataSplit, ReplacesTheOldKeysWhichKeepTheirMeaning) {
  const json ratings = {{"ratings", "all.tsv"}};
  json with_split = ratings;
  with_split["split"] = {{"kind", "random"}, {"valid_pct", 0.3}, {"seed", 9}};
  const collab::DataConfig d = read_data(with_split);
  EXPECT_DOUBLE_EQ(d.valid_pct, 0.3);  // what load_dataset's random split reads
  EXPECT_EQ(d.split_seed, 9u);
  const collab::DataConfig old = read_data({{"ratings", "all.tsv"}, {"split_seed", 3}});
  EXPECT_EQ(old.split.kind, collab::ProtocolKind::kRandom);
  EXPECT_EQ(old.split_seed, 3u);
  json resolved;
  read_data({{"ratings", "all.tsv"}}, &resolved);
  EXPECT_FALSE(resolved.contains("split"));  // old configs' resolved configs stay as they were
  const collab::DataConfig pre =
      read_data({{"split", {{"kind", "predefined"}, {"train", "u1.base"}, {"valid", "u1.test"}}}});
  EXPECT_TRUE(pre.predefined_split());
  EXPECT_EQ(pre.train, "/data/u1.base");
  EXPECT_EQ(pre.valid, "/data/u1.test");
  EXPECT_TRUE(pre.ratings.empty());
}

// data.max_ratings_per_user caps the training part only: the validation part is as without it,
// and the set-apart ratings are kept for recommend to leave out.
TEST(DataSplit, MaxRatingsPerUserCapsOnlyTheTrainingPart) {
  const std::string dir = collab::test::temp_dir("collab-cap");
  const std::string path = write_timed_ratings(dir);
  const json base = {{"ratings", path}, {"split", {{"kind", "temporal"}, {"before", 700}}}};
  json capped_config = base;
  capped_config["max_ratings_per_user"] = 1;
  const collab::Dataset plain = collab::load_dataset(read_data(base));
  const collab::Dataset capped = collab::load_dataset(read_data(capped_config));
  EXPECT_EQ(plain.train.size(), 6u);  // user 1: 3 ratings, user 2: 2, user 3: 1 before 700
  EXPECT_EQ(capped.train.size(), 3u);
  EXPECT_EQ(capped.capped_out.size(), 3u);
  EXPECT_EQ(capped.users_capped, 2);
  EXPECT_EQ(capped.valid.size(), plain.valid.size());
  EXPECT_NE(data_error({{"ratings", path}, {"max_ratings_per_user", -1}}).find(
                "data.max_ratings_per_user"),
            std::string::npos);
}

TEST(DataSplit, ErrorsNameTheKey) {
  for (const char* key : {"valid_pct", "split_seed"}) {
    json data = {{"ratings", "all.tsv"}, {"split", {{"kind", "temporal"}}}};
    data[key] = key == std::string("valid_pct") ? json(0.2) : json(1);
    EXPECT_NE(data_error(data).find("data." + std::string(key) +
                                    ": data.split gives the split; remove this key"),
              std::string::npos)
        << key;
  }
  EXPECT_NE(data_error({{"train", "a"}, {"valid", "b"}, {"split", {{"kind", "temporal"}}}})
                .find("data.train: data.split gives the split"),
            std::string::npos);
  EXPECT_NE(data_error({{"split", {{"kind", "temporal"}}}})
                .find("data.ratings: missing; data.split \"temporal\" splits a ratings file"),
            std::string::npos);
  EXPECT_NE(data_error({{"ratings", "all.tsv"},
                        {"split", {{"kind", "predefined"}, {"train", "a"}, {"valid", "b"}}}})
                .find("data.ratings: not read by data.split \"predefined\""),
            std::string::npos);
  EXPECT_NE(data_error({{"ratings", "all.tsv"}, {"split", "temporal"}})
                .find("data.split: expected an object, got \"temporal\""),
            std::string::npos);
  EXPECT_NE(data_error({{"ratings", "all.tsv"}, {"split", {{"kind", "Temporal"}}}})
                .find("data.split.kind: expected one of"),
            std::string::npos);
}

TEST(DataSplit, RandomSplitErrorsNameTheKeyThatSetValidPct) {
  // 0.1 of the 8 ratings is none: the error names the key the fraction came from.
  const std::string dir = collab::test::temp_dir();
  const std::string file = write_timed_ratings(dir);
  auto load_error = [&](const json& data) {
    return collab::test::error_of([&] { collab::load_dataset(read_data(data)); });
  };
  EXPECT_EQ(load_error({{"ratings", file}, {"valid_pct", 0.1}})
                .rfind("data.valid_pct: 0.1 of 8 ratings leaves an empty", 0),
            0u);
  EXPECT_EQ(load_error({{"ratings", file}, {"split", {{"kind", "random"}, {"valid_pct", 0.1}}}})
                .rfind("data.split.valid_pct: 0.1 of 8", 0),
            0u);
  const std::string eval = collab::test::error_of([&] {
    collab::load_fold(read_data({{"ratings", file}}),
                      read({{"protocol", "random"}, {"valid_pct", 0.1}}), 0);
  });
  EXPECT_EQ(eval.rfind("eval.valid_pct: 0.1 of 8", 0), 0u) << eval;
}

TEST(DataSplit, TemporalSplitOfAFileKeepsLateUsersInTheTestSet) {
  const std::string dir = collab::test::temp_dir();
  const std::string file = write_timed_ratings(dir);
  const collab::DataConfig data =
      read_data({{"ratings", file}, {"split", {{"kind", "temporal"}, {"before", 500}}}});
  const collab::Dataset d = collab::load_dataset(data);
  // Vocabularies in the whole file's order; train before time 500, test from it, file order.
  EXPECT_EQ(d.users.raws(), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(d.train.timestamps, (std::vector<int64_t>{100, 200, 300, 400}));
  EXPECT_EQ(d.valid.timestamps, (std::vector<int64_t>{500, 600, 700, 800}));
  // User 3 arrives at time 500, item 40 at 700: kept in the test set, and counted.
  EXPECT_EQ(d.valid_unseen_users, 2);
  EXPECT_EQ(d.valid_unseen_items, 1);
  // The latest 25% (2 ratings) by quantile: times 700 and 800.
  const collab::Dataset q = collab::load_dataset(
      read_data({{"ratings", file}, {"split", {{"kind", "temporal"}, {"test_fraction", 0.25}}}}));
  EXPECT_EQ(q.valid.timestamps, (std::vector<int64_t>{700, 800}));
  // "unseen": "drop" removes those test ratings (times 500 and 700) and counts them.
  const collab::Dataset dropped = collab::load_dataset(read_data(
      {{"ratings", file}, {"split", {{"kind", "temporal"}, {"before", 500}, {"unseen", "drop"}}}}));
  EXPECT_EQ(dropped.valid.timestamps, (std::vector<int64_t>{600, 800}));
  EXPECT_EQ(dropped.valid_dropped_unseen, 2);
  EXPECT_EQ(dropped.valid_unseen_users + dropped.valid_unseen_items, 0);
  EXPECT_EQ(d.valid_dropped_unseen, 0);  // "keep", the default, drops nothing
  // A test set of unseen ids only, dropped whole: an error saying why it is empty.
  collab::test::write_text(dir + "/cold.tsv", "1\t10\t4\t100\n2\t10\t3\t200\n3\t20\t5\t300\n");
  const std::string all_cold = collab::test::error_of([&] {
    collab::load_dataset(
        read_data({{"ratings", dir + "/cold.tsv"},
                   {"split", {{"kind", "temporal"}, {"before", 300}, {"unseen", "drop"}}}}));
  });
  EXPECT_NE(
      all_cold.find(dir + "/cold.tsv: data.split.kind \"temporal\" leaves an empty test set (after "
                          "dropping the 1 ratings of users or items unseen in training)"),
      std::string::npos)
      << all_cold;
  // A cut-off after every rating names the key and the file.
  const std::string message = collab::test::error_of([&] {
    collab::load_dataset(
        read_data({{"ratings", file}, {"split", {{"kind", "temporal"}, {"before", 900}}}}));
  });
  EXPECT_NE(message.find("data.split.before: the cut-off at time 900 leaves an empty test set"),
            std::string::npos)
      << message;
}

TEST(DataSplit, StratifiedAndLeaveLastKOutOfAFile) {
  const std::string dir = collab::test::temp_dir();
  const std::string file = write_timed_ratings(dir);
  // Users 1 and 2 have 3 ratings (round(0.2 * 3) = 1 in test), user 3 has 2 (1 in test).
  const collab::Dataset s = collab::load_dataset(
      read_data({{"ratings", file}, {"split", {{"kind", "stratified"}, {"seed", 1}}}}));
  std::vector<int> test(3);
  for (const int32_t u : s.valid.users) ++test[static_cast<size_t>(u)];
  EXPECT_EQ(test, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(s.valid_unseen_users, 0);  // every user is trained on
  // Leave-last-1-out through data.split: each user's latest rating.
  const collab::Dataset l = collab::load_dataset(
      read_data({{"ratings", file}, {"split", {{"kind", "leave_last_k_out"}}}}));
  EXPECT_EQ(l.valid.timestamps, (std::vector<int64_t>{600, 700, 800}));
  // A holdout no user exceeds leaves no test set: an error naming the file and the key.
  const std::string message = collab::test::error_of([&] {
    collab::load_dataset(
        read_data({{"ratings", file}, {"split", {{"kind", "leave_last_k_out"}, {"holdout", 3}}}}));
  });
  EXPECT_NE(message.find(file + ": data.split.kind \"leave_last_k_out\" leaves an empty test set"),
            std::string::npos)
      << message;
}

TEST(DataSplit, OldKeysAndDataSplitMakeTheSameSplit) {
  const std::string dir = collab::test::temp_dir();
  const std::string file = write_timed_ratings(dir);
  const collab::Dataset old =
      collab::load_dataset(read_data({{"ratings", file}, {"valid_pct", 0.25}, {"split_seed", 5}}));
  const collab::Dataset now = collab::load_dataset(read_data(
      {{"ratings", file}, {"split", {{"kind", "random"}, {"valid_pct", 0.25}, {"seed", 5}}}}));
  EXPECT_EQ(old.valid.timestamps, now.valid.timestamps);
  EXPECT_EQ(old.train.timestamps, now.train.timestamps);
  // A k-fold fold through data.split is compare's kfold fold.
  const collab::Dataset fold = collab::load_dataset(
      read_data({{"ratings", file}, {"split", {{"kind", "kfold"}, {"folds", 4}, {"fold", 2}}}}));
  collab::DataConfig shared = read_data({{"ratings", file}});
  const collab::Dataset compared =
      collab::load_fold(shared, read({{"protocol", "kfold"}, {"folds", 4}}), 1);
  EXPECT_EQ(fold.valid.timestamps, compared.valid.timestamps);
}

TEST(DataSplit, CompareProtocolsOfTheNewKindsAreDataSplitsOfEachSeed) {
  const std::string dir = collab::test::temp_dir();
  const std::string file = write_timed_ratings(dir);
  const collab::DataConfig shared = read_data({{"ratings", file}});
  const collab::ProtocolConfig p = read({{"protocol", "stratified"}, {"seeds", {1, 2}}});
  ASSERT_EQ(collab::fold_count(p), 2);
  EXPECT_EQ(collab::fold_name(p, 1), "seed2");
  for (int64_t f = 0; f < 2; ++f) {
    const collab::Dataset d = collab::load_dataset(
        read_data({{"ratings", file}, {"split", {{"kind", "stratified"}, {"seed", f + 1}}}}));
    EXPECT_EQ(collab::load_fold(shared, p, f).valid.timestamps, d.valid.timestamps) << f;
  }
  // An eval protocol's errors name the eval key.
  const std::string message = collab::test::error_of([&] {
    collab::load_fold(shared, read({{"protocol", "temporal"}, {"before", 900}}), 0);
  });
  EXPECT_NE(message.find("eval.before: the cut-off at time 900 leaves an empty test set"),
            std::string::npos)
      << message;
}

TEST(DataSplit, RunConfigRoundTripsThroughItsResolvedConfig) {
  // resume, recommend and the other commands read a run's resolved config: data.split must read
  // back as it was.
  const std::string dir = collab::test::temp_dir();
  write_timed_ratings(dir);
  const json config = {
      {"data", {{"ratings", "timed.tsv"}, {"split", {{"kind", "temporal"}, {"before", 500}}}}},
      {"model", {{"arch", "DotProductBias"}, {"n_factors", 2}, {"y_range", {0, 5.5}}}}};
  collab::test::write_text(dir + "/config.json", config.dump());
  const collab::RunConfig run = collab::load_run_config(dir + "/config.json", {});
  EXPECT_EQ(run.resolved["data"]["split"]["before"], 500);
  const collab::RunConfig again = collab::run_config_from_json(run.resolved, "resolved", {});
  EXPECT_EQ(again.data.split.kind, collab::ProtocolKind::kTemporal);
  EXPECT_EQ(again.data.split.before, 500);
  EXPECT_EQ(again.data.ratings, dir + "/timed.tsv");
  EXPECT_EQ(collab::load_dataset(again.data).valid.size(), 4u);
}

TEST(DataSplit, CompareTakesDataSplitAsItsOneSplit) {
  const std::string dir = collab::test::temp_dir();
  write_timed_ratings(dir);
  json config = {
      {"data", {{"ratings", "timed.tsv"}, {"split", {{"kind", "temporal"}, {"before", 500}}}}},
      {"eval", {{"k", 3}}},
      {"candidates", {{{"name", "b"}, {"model", {{"arch", "Biases"}, {"y_range", {0, 5.5}}}}}}}};
  collab::test::write_text(dir + "/compare.json", config.dump());
  const collab::CompareConfig c = collab::load_compare_config(dir + "/compare.json", {});
  EXPECT_EQ(c.protocol.kind, collab::ProtocolKind::kTemporal);
  EXPECT_EQ(collab::fold_count(c.protocol), 1);
  EXPECT_EQ(collab::fold_name(c.protocol, 0), "before500");
  EXPECT_EQ(c.candidates[0].run.data.split.before, 500);  // each candidate sees the same split
  EXPECT_EQ(collab::load_fold(c.data, c.protocol, 0).valid.size(), 4u);
  const std::string message = collab::test::error_of(
      [&] { collab::load_compare_config(dir + "/compare.json", {"eval.protocol=\"kfold\""}); });
  EXPECT_NE(message.find("eval.protocol: data.split already gives the split"), std::string::npos)
      << message;
}

}  // namespace test_data_split
