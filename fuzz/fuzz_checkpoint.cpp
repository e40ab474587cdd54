// Fuzzes the checkpoint reader: decode_checkpoint, the bytes of a COLLABCK file.
// An input that starts with "COLLABCK" is decoded as a whole file (the header checks: magic,
// version, length, SHA-256). Any other input is taken as a payload and given a correct header
// first (frame_checkpoint), so the fuzzer reaches the manifest, the tensor records and our
// reading of them, which the SHA-256 check would otherwise stop almost every mutation from
// reaching.
#include <cstdio>
#include <string>

#include "collab/train/checkpoint.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = collab::fuzz::as_text(data, size);
  const bool whole_file = input.substr(0, 8) == "COLLABCK";
  const std::string bytes = whole_file ? std::string(input) : collab::frame_checkpoint(input);
  collab::fuzz::expect_accept_or_error([&] {
    const collab::Checkpoint c = collab::decode_checkpoint(bytes, "fuzz.ckpt");
    using collab::fuzz::check;
    check(c.config.is_object() && c.metrics.is_array(), "config or metrics of the wrong type");
    check(c.state.cpu_generator.defined() && c.state.order_generator.defined(),
          "a generator state is missing");
    for (int64_t i = 0; i < c.items.size(); ++i) c.items.title(i);  // titles readable
    // What was accepted encodes again and reads back the same: the writer holds all of it.
    collab::Checkpoint again;
    try {
      again = collab::decode_checkpoint(collab::encode_checkpoint(c), "fuzz-again.ckpt");
    } catch (const collab::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      check(false, "an accepted checkpoint cannot be encoded and decoded again");
    }
    check(again.state.parameters.size() == c.state.parameters.size() &&
              again.state.optimizer.size() == c.state.optimizer.size() &&
              again.users.size() == c.users.size() && again.items.size() == c.items.size() &&
              again.config == c.config && again.metrics == c.metrics,
          "an accepted checkpoint does not survive a second encode and decode");
  });
  return 0;
}
