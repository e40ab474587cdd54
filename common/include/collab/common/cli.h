// The one way a collab command reads its command line (over cxxopts), so that every command
// answers the same mistakes with the same words:
//   collab recommend --bogus     ->  unknown option --bogus (see collab recommend --help)
//   collab recommend -k abc      ->  option -k: "abc" is not a valid value (see ...)
//   collab recommend --user      ->  option --user needs a value (see ...)
//   collab recommend             ->  missing MODEL; usage: collab recommend MODEL --user ID
//   collab recommend a b         ->  unexpected argument "b"; usage: collab recommend MODEL ...
// and prints the same --help: cxxopts' option table, then the command's footer.
#pragma once

// cxxopts splits the values of vector options at commas by default, which cut
// `--set model.y_range=[1,5]` into "model.y_range=[1" and "5]" and a path with a comma in two.
// A NUL delimiter cannot occur in argv. collab_common defines it for everything that links it
// (common/CMakeLists.txt): every file including cxxopts.hpp must see the same definition.
#ifndef CXXOPTS_VECTOR_DELIMITER
#error "CXXOPTS_VECTOR_DELIMITER must be defined (link collab_common) before cxxopts.hpp"
#endif
#include <cxxopts.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace collab {

// What a command is called and takes besides its options.
struct CommandSpec {
  std::string command;       // "recommend": messages say "see collab recommend --help"
  std::string usage;         // "collab recommend MODEL --user ID", shown with positional errors
  std::string positional;    // "MODEL", named when missing ("" with max_positionals 0)
  size_t min_positionals = 1;
  size_t max_positionals = 1;
  std::string help_footer;   // lines printed after the option table on --help ("" for none)
};

struct CommandLine {
  cxxopts::ParseResult options;          // the command's own options
  std::vector<std::string> positionals;  // between min_positionals and max_positionals of them
  bool help = false;                     // --help was given and printed: the command returns 0
};

// Adds -h/--help and the positionals to `options` (the command adds only its own options, in the
// default group), parses argv (argv[0] being the command's name) and checks the positionals'
// count. Every mistake is a std::invalid_argument with the wording above; main prints it as
// "collab <command>: error: <message>".
CommandLine parse_command_line(cxxopts::Options& options, int argc, char** argv,
                               const CommandSpec& spec);

// `message` as a command-line mistake of `spec`'s command: "<message> (see collab X --help)".
[[noreturn]] void throw_usage_error(const CommandSpec& spec, const std::string& message);

}  // namespace collab
