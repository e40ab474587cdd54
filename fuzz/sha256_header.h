// The COLLABCK header for a payload (magic, format version, length, SHA-256), so that the
// checkpoint fuzzer and its seed generator can build files the reader's integrity check passes.
// Mirrors the layout documented in collab/train/checkpoint.h.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collab/train/checkpoint.h"

namespace collab::fuzz {

inline std::string with_checkpoint_header(std::string_view payload,
                                          uint32_t version = kCheckpointFormatVersion) {
  std::string file = "COLLABCK";
  for (int k = 0; k < 4; ++k) file += static_cast<char>((version >> (8 * k)) & 0xff);
  const uint64_t length = payload.size();
  for (int k = 0; k < 8; ++k) file += static_cast<char>((length >> (8 * k)) & 0xff);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (EVP_Digest(payload.data(), payload.size(), digest, &digest_size, EVP_sha256(), nullptr) !=
      1) {
    std::abort();
  }
  file.append(reinterpret_cast<const char*>(digest), digest_size);
  file.append(payload);
  return file;
}

}  // namespace collab::fuzz
