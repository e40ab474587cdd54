// The one exception type collab throws for anything a user can get wrong: a config key, a data
// file line, a checkpoint. Its message is a single sentence that names the file, line, key or
// value at fault; `main` catches it once and prints it without a stack trace.
#pragma once

#include <stdexcept>
#include <string>

namespace collab {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace collab
