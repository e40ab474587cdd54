// common/cli.h: every command reads its command line the same way. Unit tests of
// parse_command_line, then the built binary: the same mistake gets the same sentence from each
// converted command.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "collab/common/cli.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "test_support.h"

namespace test_command_line {

namespace {

const collab::CommandSpec kSpec{"demo", "collab demo MODEL [-k N]", "MODEL", 1, 1, ""};

// parse_command_line over `args` (after the command's name) with -k, --count and --name.
collab::CommandLine parse(std::vector<std::string> args) {
  cxxopts::Options options("collab demo", "a demo");
  options.add_options()("k", "how many", cxxopts::value<int64_t>()->default_value("10"))(
      "count", "how many more", cxxopts::value<int64_t>())("name", "a name",
                                                          cxxopts::value<std::string>());
  args.insert(args.begin(), "demo");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return collab::parse_command_line(options, static_cast<int>(argv.size()), argv.data(), kSpec);
}

std::string error_of(const std::vector<std::string>& args) {
  try {
    parse(args);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(CommandLine, ParsesOptionsAndPositionals) {
  const collab::CommandLine line = parse({"m.ckpt", "-k", "3", "--name=x"});
  EXPECT_FALSE(line.help);
  EXPECT_EQ(line.positionals, std::vector<std::string>{"m.ckpt"});
  EXPECT_EQ(line.options["k"].as<int64_t>(), 3);
  EXPECT_EQ(line.options["name"].as<std::string>(), "x");
}

TEST(CommandLine, MistakesInOneWording) {
  EXPECT_EQ(error_of({"m", "--bogus"}), "unknown option --bogus (see collab demo --help)");
  EXPECT_EQ(error_of({"m", "-k", "abc"}),
            "option -k: \"abc\" is not a valid value (see collab demo --help)");
  EXPECT_EQ(error_of({"m", "-kabc"}),
            "option -k: \"abc\" is not a valid value (see collab demo --help)");
  EXPECT_EQ(error_of({"m", "--count=abc"}),
            "option --count: \"abc\" is not a valid value (see collab demo --help)");
  EXPECT_EQ(error_of({"m", "--name"}), "option --name needs a value (see collab demo --help)");
  EXPECT_EQ(error_of({}), "missing MODEL; usage: collab demo MODEL [-k N]");
  EXPECT_EQ(error_of({"a", "b"}), "unexpected argument \"b\"; usage: collab demo MODEL [-k N]");
}

TEST(CommandLine, HelpListsTheOptionsButNotThePositionalSink) {
  testing::internal::CaptureStdout();
  const collab::CommandLine line = parse({"--help"});
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_TRUE(line.help);
  EXPECT_NE(out.find("--name"), std::string::npos) << out;
  EXPECT_NE(out.find("-h, --help"), std::string::npos) << out;
  EXPECT_EQ(out.find("--positional"), std::string::npos) << out;
}

// The converted commands, through the binary: the same mistake, the same sentence.
TEST(CommandLine, CommandsAnswerTheSameMistakeTheSameWay) {
  for (const std::string command :
       {"data", "export", "predict", "recommend", "similar", "interpret", "audit"}) {
    const auto r = collab::test::run_collab(command + " --bogus");
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_EQ(r.err, "collab " + command + ": error: unknown option --bogus (see collab " +
                         command + " --help)\n");
    const auto help = collab::test::run_collab(command + " --help");
    EXPECT_EQ(help.exit_code, 0) << command << help.err;
    EXPECT_NE(help.out.find("-h, --help"), std::string::npos) << command << help.out;
    EXPECT_EQ(help.out.find("--positional"), std::string::npos) << command << help.out;
  }
  for (const std::string command : {"recommend", "similar", "interpret", "predict", "audit"}) {
    const auto r = collab::test::run_collab(command);
    EXPECT_EQ(r.err.rfind("collab " + command + ": error: missing MODEL; usage: collab " + command,
                          0),
              0u)
        << r.err;
  }
  const auto bad_value = collab::test::run_collab("recommend m.ckpt -k abc");
  EXPECT_EQ(bad_value.err,
            "collab recommend: error: option -k: \"abc\" is not a valid value (see collab "
            "recommend --help)\n");
}

TEST(Utf8, WidthAndShortening) {
  EXPECT_EQ(collab::utf8_width(""), 0u);
  EXPECT_EQ(collab::utf8_width("0.81 \xc2\xb1 0.02"), 11u);  // "±" is one column
  EXPECT_EQ(collab::utf8_shorten("abc", 3), "abc");
  EXPECT_EQ(collab::utf8_shorten("abcd", 3), "ab\xe2\x80\xa6");
  // Never half a character: "é" is two bytes.
  EXPECT_EQ(collab::utf8_shorten("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3), "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
}

TEST(Text, FormatDuration) {
  EXPECT_EQ(collab::format_duration(0), "00:00");
  EXPECT_EQ(collab::format_duration(59.6), "01:00");
  EXPECT_EQ(collab::format_duration(4503), "75:03");
}

}  // namespace test_command_line
