// A validated container of named tensors with a JSON manifest: the payload format of checkpoints
// (checkpoint.cpp adds the framing header and the schema of what the tensors and keys mean).
//
// Layout, from the start of the payload: uint64 manifest length | manifest (UTF-8 JSON) | zeros
// up to a 64-byte boundary of the file | tensor data. The manifest's "tensors" is a table of
// records {name, dtype, shape, offset, nbytes}; offsets count from the start of the tensor data,
// and each record starts on a 64-byte boundary of the file (so that a reader could map it).
// Tensors are stored contiguous, little-endian, as they lie in memory on the machines we build
// for. Strings are a uint8 tensor of their bytes and an int64 tensor of their end offsets: raw
// ids and titles are arbitrary bytes from data files, which JSON (UTF-8 only) could not carry.
//
// The reader checks everything before memory is touched: the manifest's length, its JSON and
// nesting, the type of every field, and each tensor record's dtype, shape and byte range, with
// overflow-checked arithmetic; a record becomes a tensor only through torch::empty and a memcpy
// of exactly the bytes its shape needs. Every failure is a collab::Error naming the file.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "collab/common/config_reader.h"

namespace collab {

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "archive tensors are copied as they lie in memory, which must be little-endian"
#endif

template <typename T>
void put_le(std::string& out, T value) {
  for (size_t k = 0; k < sizeof(T); ++k) out += static_cast<char>((value >> (8 * k)) & 0xff);
}

template <typename T>
T get_le(std::string_view bytes, size_t offset) {
  T value = 0;
  for (size_t k = 0; k < sizeof(T); ++k) {
    value |= static_cast<T>(static_cast<unsigned char>(bytes[offset + k])) << (8 * k);
  }
  return value;
}

// Collects tensors and their records, then lays out the payload.
class TensorArchiveWriter {
 public:
  // Float32/float64/int64/uint8 tensors only; others are a collab::Error naming `key`.
  void tensor(const std::string& key, const torch::Tensor& t);
  // "<key>_bytes" and "<key>_ends".
  void strings(const std::string& key, const std::vector<std::string>& strings);

  // `header_size` zero bytes (for the caller's header) followed by the payload: `manifest` with
  // the tensor table added, and the tensor data. One buffer: a model's tensors are copied once.
  std::string file(json manifest, size_t header_size);

 private:
  struct Placed {
    torch::Tensor cpu;  // contiguous, on the CPU
    size_t offset;      // from the start of the tensor data
    size_t nbytes;
  };
  json records_ = json::array();
  std::vector<Placed> placed_;  // one per record
  size_t size_ = 0;             // bytes of tensor data so far
};

class TensorArchiveReader {
 public:
  // `payload` follows a header of `header_size` bytes in the file (alignment counts from the
  // file's start). Errors read "<path>: not a valid <kind> (<what is wrong>)".
  TensorArchiveReader(std::string_view payload, size_t header_size, const std::string& path,
                      std::string kind);

  [[noreturn]] void fail(const std::string& what) const;

  // Typed manifest fields; a missing key or another type is an error naming the key.
  const json& field(const std::string& key) const;
  bool has_field(const std::string& key) const { return manifest_.contains(key); }
  json object(const std::string& key) const;
  json array(const std::string& key) const;
  std::string string(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  // A number, or "nan", "inf", "-inf" (see double_json).
  double number(const std::string& key) const;
  std::vector<std::string> names(const std::string& key) const;  // an array of strings
  int64_t integer_in(const json& v, const std::string& what) const;

  bool has_tensor(const std::string& key) const { return records_.count(key) > 0; }
  torch::Tensor tensor(const std::string& key) const;
  // A tensor that must be one-dimensional of `type` (string tables, generator states).
  torch::Tensor vector_of(const std::string& key, torch::ScalarType type) const;
  std::vector<std::string> strings(const std::string& key) const;

 private:
  struct Record {
    torch::ScalarType type;
    std::vector<int64_t> shape;
    size_t offset;  // from the start of the tensor data
    size_t nbytes;
  };

  void parse_manifest(std::string_view text);
  void add_record(const json& entry, size_t index);
  // The record's dimensions; `nbytes` gets the bytes they need at `element_size` bytes each.
  std::vector<int64_t> read_shape(const json& shape, const std::string& tensor,
                                  size_t element_size, size_t& nbytes) const;

  std::string path_;
  std::string kind_;
  json manifest_;
  std::string_view data_;  // the tensor data, after the manifest
  std::unordered_map<std::string, Record> records_;
};

// A double as JSON: a number, or "nan", "inf", "-inf", which JSON numbers cannot be.
json double_json(double value);

}  // namespace collab
