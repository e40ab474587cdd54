// ConfigReader: strict, path-aware reading of config objects with exact error messages, and the
// "resolved" record of every value read, defaults included.
#include <gtest/gtest.h>

#include <string>

#include "collab/common/config_reader.h"
#include "collab/common/error.h"
#include "test_support.h"

namespace test_config_reader {

namespace {

using collab::ConfigReader;
using collab::json;
using collab::NumberRange;
using namespace collab::test;  // the shared helpers: test_support.h

}  // namespace

TEST(ConfigReader, UnknownKeyNamesItsPathAndListsKnownKeys) {
  const json config = json::parse(R"({"train": {"lr_max": 0.01, "epoch": 3, "batch_size": 64}})");
  ConfigReader root(config, "", nullptr);
  ConfigReader train = root.object("train");
  train.number("lr_max", 5e-3, NumberRange::positive());
  train.integer("epochs", 5, 1);
  train.integer("batch_size", 64, 1);
  const std::string message = error_of([&] { train.finish(); });
  EXPECT_EQ(message.rfind("train.epoch: ", 0), 0u) << message;
  EXPECT_NE(message.find("unknown key"), std::string::npos) << message;
  EXPECT_NE(message.find("batch_size, epochs, lr_max"), std::string::npos) << message;
  root.finish();  // "train" was read: no error at the top
}

TEST(ConfigReader, UnknownTopLevelKeyHasNoLeadingDot) {
  const json config = json::parse(R"({"trian": {}})");
  ConfigReader root(config, "", nullptr);
  root.object("train");
  const std::string message = error_of([&] { root.finish(); });
  EXPECT_EQ(message.rfind("trian: unknown key", 0), 0u) << message;
  EXPECT_NE(message.find("train"), std::string::npos) << message;
}

TEST(ConfigReader, WrongTypeExactMessage) {
  const json config = json::parse(R"({"train": {"lr_max": "fast"}})");
  ConfigReader root(config, "", nullptr);
  ConfigReader train = root.object("train");
  EXPECT_EQ(error_of([&] { train.number("lr_max", 5e-3, NumberRange::positive()); }),
            "train.lr_max: expected a positive number, got \"fast\"");
}

TEST(ConfigReader, NumberRanges) {
  const json config = json::parse(R"({"a": 0, "b": -1, "c": 1, "d": 0.5})");
  ConfigReader r(config, "x", nullptr);
  EXPECT_EQ(error_of([&] { r.number("a", std::nullopt, NumberRange::positive()); }),
            "x.a: expected a positive number, got 0");
  EXPECT_EQ(r.number("a", std::nullopt, NumberRange::non_negative()), 0.0);
  EXPECT_EQ(error_of([&] { r.number("b", std::nullopt, NumberRange::non_negative()); }),
            "x.b: expected a non-negative number, got -1");
  EXPECT_EQ(error_of([&] { r.number("c", std::nullopt, NumberRange::unit_interval_open_right()); }),
            "x.c: expected a number in [0, 1), got 1");
  EXPECT_EQ(r.number("d", std::nullopt, NumberRange::unit_interval_open_right()), 0.5);
  EXPECT_EQ(error_of([&] { r.number("missing"); }), "x.missing: missing; expected a number");
}

TEST(ConfigReader, IntegerRanges) {
  const json config =
      json::parse(R"({"zero": 0, "neg": -3, "big": 2000, "half": 64.5, "whole": 64.0, "s": "8"})");
  ConfigReader r(config, "train", nullptr);
  EXPECT_EQ(error_of([&] { r.integer("zero", std::nullopt, 1); }),
            "train.zero: expected a positive integer, got 0");
  EXPECT_EQ(r.integer("zero", std::nullopt, 0), 0);
  EXPECT_EQ(error_of([&] { r.integer("neg", std::nullopt, 0); }),
            "train.neg: expected a non-negative integer, got -3");
  EXPECT_EQ(error_of([&] { r.integer("big", std::nullopt, 0, 1024); }),
            "train.big: expected an integer in [0, 1024], got 2000");
  EXPECT_EQ(r.integer("big", std::nullopt, 0, 2000), 2000);
  EXPECT_EQ(error_of([&] { r.integer("half", std::nullopt, 1); }),
            "train.half: expected a positive integer, got 64.5");
  EXPECT_EQ(r.integer("whole", std::nullopt, 1), 64);  // 64.0 is an integer written as a float
  EXPECT_EQ(error_of([&] { r.integer("s"); }), "train.s: expected an integer, got \"8\"");
  EXPECT_EQ(r.integer("absent", 7, 1), 7);
}

TEST(ConfigReader, OtherTypes) {
  const json config = json::parse(R"({"flag": 1, "name": 3, "arch": "Dot", "layers": [10, 0]})");
  ConfigReader r(config, "m", nullptr);
  EXPECT_EQ(error_of([&] { r.boolean("flag"); }), "m.flag: expected true or false, got 1");
  EXPECT_EQ(error_of([&] { r.string("name"); }), "m.name: expected a string, got 3");
  EXPECT_EQ(error_of([&] {
              r.choice("arch", {"DotProduct", "CollabNN"});
            }),
            "m.arch: expected one of \"DotProduct\", \"CollabNN\", got \"Dot\"");
  EXPECT_EQ(error_of([&] { r.integers("layers", {}, 1); }),
            "m.layers: expected an array of positive integers, got [10,0]");
}

TEST(ConfigReader, OptionalRange) {
  const json config =
      json::parse(R"({"ok": [0, 5.5], "null": null, "equal": [1, 1], "reversed": [5, 1],
                      "short": [1], "text": "0-5"})");
  ConfigReader r(config, "model", nullptr);
  const auto ok = r.optional_range("ok");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->first, 0.0);
  EXPECT_EQ(ok->second, 5.5);
  EXPECT_FALSE(r.optional_range("null").has_value());
  EXPECT_FALSE(r.optional_range("absent").has_value());
  EXPECT_EQ(error_of([&] { r.optional_range("equal"); }),
            "model.equal: expected null or [lo, hi] with lo < hi, got [1,1]");
  EXPECT_EQ(error_of([&] { r.optional_range("reversed"); }),
            "model.reversed: expected null or [lo, hi] with lo < hi, got [5,1]");
  EXPECT_NE(error_of([&] { r.optional_range("short"); }).find("model.short: expected null or"),
            std::string::npos);
  EXPECT_NE(error_of([&] { r.optional_range("text"); }).find("model.text: expected null or"),
            std::string::npos);
}

TEST(ConfigReader, NonObjectIsRejected) {
  const json config = json::parse(R"({"train": [1, 2]})");
  ConfigReader root(config, "", nullptr);
  EXPECT_EQ(error_of([&] { root.object("train"); }), "train: expected an object, got [1,2]");
  EXPECT_EQ(error_of([] { ConfigReader(json(3), "", nullptr); }),
            "config: expected an object, got 3");
}

TEST(ConfigReader, ResolvedRecordsValuesAndDefaults) {
  const json config = json::parse(R"({"train": {"lr_max": 0.01}, "data": {"dir": "x"}})");
  json resolved;
  ConfigReader root(config, "", &resolved);
  ConfigReader train = root.object("train");
  train.number("lr_max", 5e-3, NumberRange::positive());
  train.integer("epochs", 5, 1);
  train.boolean("quiet", false);
  train.string("device", "cpu");
  train.integers("layers", {100, 50});
  train.optional_range("y_range");
  train.finish();
  ConfigReader data = root.object("data");
  data.string("dir");
  data.set_resolved("dir", "/abs/x");
  data.finish();
  root.finish();
  const json expected = json::parse(R"({
    "train": {"lr_max": 0.01, "epochs": 5, "quiet": false, "device": "cpu",
              "layers": [100, 50], "y_range": null},
    "data": {"dir": "/abs/x"}})");
  EXPECT_EQ(resolved, expected) << resolved.dump();
}

TEST(ConfigReader, DescribeShortensLongValues) {
  EXPECT_EQ(collab::describe(json("fast")), "\"fast\"");
  EXPECT_EQ(collab::describe(json::array({1, 2})), "[1,2]");
  const std::string long_text = collab::describe(json(std::string(100, 'a')));
  EXPECT_EQ(long_text.size(), 60u);
  EXPECT_EQ(long_text.substr(57), "...");
}

}  // namespace test_config_reader
