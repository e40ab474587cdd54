#include "collab/common/digest.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "collab/common/error.h"
#include "collab/common/file_io.h"

namespace collab {

namespace {

const char* name_of(DigestKind kind) {
  return kind == DigestKind::kMd5 ? "MD5" : "SHA-256";
}

}  // namespace

// EVP, the interface not deprecated in OpenSSL 3.
Digest::Digest(DigestKind kind) : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free), kind_(kind) {
  const EVP_MD* md = kind == DigestKind::kMd5 ? EVP_md5() : EVP_sha256();
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1) {
    throw Error(std::string(name_of(kind)) + ": OpenSSL cannot initialise a digest");
  }
}

void Digest::update(const void* data, size_t size) {
  if (size > 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1) {
    throw Error(std::string(name_of(kind_)) + ": OpenSSL digest update failed");
  }
}

std::string Digest::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out, &size) != 1) {
    throw Error(std::string(name_of(kind_)) + ": OpenSSL digest failed");
  }
  return std::string(reinterpret_cast<const char*>(out), size);
}

std::string Digest::finish_hex() {
  return to_hex(finish());
}

std::string to_hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string file_digest_hex(DigestKind kind, const std::string& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  Digest digest(kind);
  std::vector<char> buffer(1 << 16);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    digest.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(path + ": cannot read (" + std::strerror(errno) + ")");
  return digest.finish_hex();
}

}  // namespace collab
