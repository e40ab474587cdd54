#include "collab/common/cli.h"

#include <cstring>
#include <iostream>
#include <stdexcept>

#include "collab/common/utf8.h"

namespace collab {

namespace {

constexpr const char* kPositionalKey = "positional";

// The name cxxopts puts in quotes in its messages ("Option ‘bogus’ does not exist"): cxxopts'
// exceptions carry no fields, only their text.
std::string quoted_name(const std::string& what) {
  for (const auto& [open, close] : {std::pair<const char*, const char*>{"\u2018", "\u2019"},
                                    std::pair<const char*, const char*>{"'", "'"}}) {
    const size_t b = what.find(open);
    if (b == std::string::npos) continue;
    const size_t start = b + std::strlen(open);
    const size_t e = what.find(close, start);
    if (e != std::string::npos) return what.substr(start, e - start);
  }
  return "";
}

std::string dashed(const std::string& name) {
  return (name.size() == 1 ? "-" : "--") + name;
}

// The option whose value `value` was on the command line ("--k abc", "--k=abc", "-kabc").
std::string option_of_value(int argc, char** argv, const std::string& value) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') continue;
    if (i + 1 < argc && value == argv[i + 1]) return arg;
    const size_t eq = arg.find('=');
    if (arg.compare(0, 2, "--") == 0 && eq != std::string::npos && arg.substr(eq + 1) == value) {
      return arg.substr(0, eq);
    }
    if (arg[1] != '-' && arg.size() > 2 && arg.substr(2) == value) return arg.substr(0, 2);
  }
  return "";
}

// cxxopts' exception as one sentence in collab's words.
std::string in_our_words(const cxxopts::exceptions::exception& e, int argc, char** argv) {
  const std::string what = e.what();
  const std::string name = quoted_name(what);
  if (dynamic_cast<const cxxopts::exceptions::no_such_option*>(&e)) {
    return "unknown option " + dashed(name);
  }
  if (dynamic_cast<const cxxopts::exceptions::missing_argument*>(&e) ||
      dynamic_cast<const cxxopts::exceptions::option_requires_argument*>(&e)) {
    return "option " + dashed(name) + " needs a value";
  }
  if (dynamic_cast<const cxxopts::exceptions::incorrect_argument_type*>(&e)) {
    const std::string option = option_of_value(argc, argv, name);
    return (option.empty() ? std::string("an option") : "option " + option) + ": " +
           quoted_for_message(name) + " is not a valid value";
  }
  if (dynamic_cast<const cxxopts::exceptions::gratuitous_argument_for_option*>(&e)) {
    return "option " + dashed(name) + " takes no value";
  }
  if (dynamic_cast<const cxxopts::exceptions::invalid_option_syntax*>(&e)) {
    return "cannot read argument " + quoted_for_message(name);
  }
  return what;
}

}  // namespace

void throw_usage_error(const CommandSpec& spec, const std::string& message) {
  throw std::invalid_argument(message + " (see collab " + spec.command + " --help)");
}

CommandLine parse_command_line(cxxopts::Options& options, int argc, char** argv,
                               const CommandSpec& spec) {
  options.add_options()("h,help", "print this help");
  // In a group of its own, which --help does not list: the positionals are in the usage line.
  options.add_options(kPositionalKey)(kPositionalKey, "",
                                      cxxopts::value<std::vector<std::string>>());
  options.parse_positional({kPositionalKey});
  CommandLine line;
  try {
    line.options = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw_usage_error(spec, in_our_words(e, argc, argv));
  }
  if (line.options.count("help")) {
    std::string help = options.help({""});
    if (help.empty() || help.back() != '\n') help += '\n';
    std::cout << help << spec.help_footer;
    line.help = true;
    return line;
  }
  if (line.options.count(kPositionalKey)) {
    line.positionals = line.options[kPositionalKey].as<std::vector<std::string>>();
  }
  if (line.positionals.size() < spec.min_positionals) {
    throw std::invalid_argument("missing " + spec.positional + "; usage: " + spec.usage);
  }
  if (line.positionals.size() > spec.max_positionals) {
    throw std::invalid_argument("unexpected argument " +
                                quoted_for_message(line.positionals[spec.max_positionals]) +
                                "; usage: " + spec.usage);
  }
  return line;
}

}  // namespace collab
