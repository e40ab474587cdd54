// Message digests through OpenSSL (MD5 for checking downloads against published sums, SHA-256
// for checkpoint integrity and data fingerprints), behind one small class so that no other file
// includes OpenSSL or manages its contexts.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace collab {

enum class DigestKind { kMd5, kSha256 };

class Digest {
 public:
  explicit Digest(DigestKind kind);

  void update(const void* data, size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // The bytes of a trivially copyable value, as it lies in memory.
  template <typename T>
  void update_value(T value) {
    update(&value, sizeof value);
  }
  // A sequence hashed as if it were a std::vector<To>: its size as uint64, then its elements
  // converted to To (so a table whose storage type shrank still hashes as before).
  template <typename To, typename Sequence>
  void update_as(const Sequence& v) {
    update_value(static_cast<uint64_t>(v.size()));
    To chunk[1024];
    for (size_t start = 0; start < v.size(); start += 1024) {
      const size_t n = std::min<size_t>(1024, v.size() - start);
      for (size_t k = 0; k < n; ++k) chunk[k] = static_cast<To>(v[start + k]);
      update(chunk, n * sizeof(To));
    }
  }

  // The raw digest (16 bytes for MD5, 32 for SHA-256); the object is spent afterwards.
  std::string finish();
  std::string finish_hex();

 private:
  std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> ctx_;
  DigestKind kind_;
};

// Lower-case hexadecimal of `bytes`.
std::string to_hex(std::string_view bytes);

// The hex digest of the whole of `path`; collab::Error names the file when it cannot be read.
std::string file_digest_hex(DigestKind kind, const std::string& path);

}  // namespace collab
