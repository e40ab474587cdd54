// Shared by the libFuzzer targets: what counts as an expected rejection and how a broken
// invariant is reported. A target calls a parser on the fuzzer's bytes; a collab::Error (the
// one-line message a user sees) is the parser doing its job, anything else — another exception
// type, a sanitizer report, a crash, a timeout, running out of memory — is a finding.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collab/common/error.h"

namespace collab::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Aborts (a finding libFuzzer records with its input) when a parser accepted bytes but returned
// something inconsistent.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

// Runs `parse`, swallowing the rejections a user is meant to see. An error message must say
// something (main prints it as the whole explanation), on one line of printable text: the
// input's bytes it quotes are escaped (quoted_for_message), none of its control bytes or NULs
// reach the terminal, and a huge field is cut rather than echoed.
template <typename Parse>
void expect_accept_or_error(Parse&& parse) {
  try {
    parse();
  } catch (const collab::Error& e) {
    const std::string_view what = e.what();
    check(!what.empty(), "collab::Error with an empty message");
    for (const char c : what) {
      const auto byte = static_cast<unsigned char>(c);
      check(byte >= 0x20 && byte != 0x7f, "collab::Error message with a control byte");
    }
    check(what.size() < 4096, "collab::Error message longer than 4 KiB");
  }
}

}  // namespace collab::fuzz
