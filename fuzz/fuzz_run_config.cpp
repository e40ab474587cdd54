// Fuzzes the config path of `collab train`: JSON text -> parse_json_text -> run_config_from_json
// (the strict ConfigReader over every section, the model built on a 1x1 stand-in shape), with
// `--set` overrides. Input: the config text, then optional overrides, each after a NUL byte.
#include <cstdio>
#include <string>
#include <vector>

#include "collab/train/run_config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = collab::fuzz::as_text(data, size);
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t nul = input.find('\0', start);
    parts.emplace_back(input.substr(start, nul == input.npos ? input.npos : nul - start));
    if (nul == input.npos) break;
    start = nul + 1;
  }
  const std::vector<std::string> overrides(parts.begin() + 1, parts.end());
  collab::json resolved;
  collab::fuzz::expect_accept_or_error([&] {
    try {
      collab::json config = collab::parse_json_text(parts[0], "/fuzz/config.json");
      resolved =
          collab::run_config_from_json(std::move(config), "/fuzz/config.json", overrides).resolved;
    } catch (const std::invalid_argument&) {
      // apply_override's message for a malformed --set (main prints it like collab::Error).
    }
  });
  if (resolved.is_null()) return 0;  // rejected
  // The resolved config is written into the run folder and every checkpoint, and `collab resume`
  // reads it back: whatever was accepted must read back, to the same resolved config.
  try {
    const collab::RunConfig again =
        collab::run_config_from_json(resolved, "/fuzz/resolved.json", {});
    collab::fuzz::check(again.resolved == resolved, "the resolved config reads back differently");
  } catch (const collab::Error& e) {
    std::fprintf(stderr, "resolved config rejected: %s\n%s\n", e.what(), resolved.dump().c_str());
    collab::fuzz::check(false, "the resolved config of an accepted config is rejected");
  }
  return 0;
}
