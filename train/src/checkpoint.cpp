#include "collab/train/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "collab/common/error.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'C', 'O', 'L', 'L', 'A', 'B', 'C', 'K'};
constexpr size_t kHashSize = 32;
constexpr size_t kHeaderSize = sizeof kMagic + 4 + 8 + kHashSize;

// SHA-256 through OpenSSL's EVP interface (the one not deprecated in OpenSSL 3).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
      throw Error("SHA-256: OpenSSL cannot initialise a digest");
    }
  }
  void update(const void* data, size_t size) {
    if (size > 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1) {
      throw Error("SHA-256: OpenSSL digest update failed");
    }
  }
  template <typename T>
  void update_vector(const std::vector<T>& v) {
    update_value(static_cast<uint64_t>(v.size()));
    update(v.data(), v.size() * sizeof(T));
  }
  // A sequence hashed as if it were a std::vector<To>, size prefix included.
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
  template <typename T>
  void update_value(T value) {
    update(&value, sizeof value);
  }
  std::string digest() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), out, &size) != 1 || size != kHashSize) {
      throw Error("SHA-256: OpenSSL digest failed");
    }
    return std::string(reinterpret_cast<const char*>(out), size);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

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

// Fills the first kHeaderSize bytes of `file`: the magic, `version`, and the length and SHA-256
// of everything after the header (the payload).
void fill_header(std::string& file, uint32_t version) {
  std::string header(kMagic, sizeof kMagic);
  put_le<uint32_t>(header, version);
  put_le<uint64_t>(header, file.size() - kHeaderSize);
  Sha256 sha;
  sha.update(file.data() + kHeaderSize, file.size() - kHeaderSize);
  header += sha.digest();
  file.replace(0, kHeaderSize, header);
}

// --- payload ------------------------------------------------------------------------------
// uint64 manifest length | manifest (UTF-8 JSON) | zeros up to a 64-byte boundary of the file |
// tensor data. The manifest holds the config, the metrics, the scalars of the trainer's state,
// the names and a table of tensor records {name, dtype, shape, offset, nbytes}; offsets count
// from the start of the tensor data, and each record starts on a 64-byte boundary of the file
// (so that a reader could map it). Tensors are stored contiguous, little-endian, as they lie in
// memory on the machines we build for.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint tensors are copied as they lie in memory, which must be little-endian"
#endif

constexpr size_t kManifestLengthSize = 8;
constexpr size_t kAlignment = 64;
constexpr size_t kMaxRank = 8;  // our tensors have at most 2 dimensions

size_t aligned(size_t n) {
  return (n + kAlignment - 1) / kAlignment * kAlignment;
}

// The element types a checkpoint holds (parameters and moments: float32; BatchNorm's
// num_batches_tracked, string offsets: int64; generator states, string bytes: uint8) and float64
// for models built in double precision. No other type is written or accepted.
struct DType {
  const char* name;
  torch::ScalarType type;
  size_t size;
};
constexpr DType kDTypes[] = {{"float32", torch::kFloat, 4},
                             {"float64", torch::kDouble, 8},
                             {"int64", torch::kLong, 8},
                             {"uint8", torch::kByte, 1}};
constexpr const char* kDTypeList = "float32, float64, int64 or uint8";

// The deepest nesting of arrays and objects in JSON text (brackets inside strings skipped; exact
// for valid JSON). nlohmann's parser is iterative, but copying, comparing and printing a value
// recurse once per level: a crafted manifest a million levels deep would overflow the stack.
size_t nesting_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char ch : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}
constexpr size_t kMaxNesting = 64;  // a config is 3 levels deep, the manifest adds 2

// A double as JSON: a number, or "nan", "inf", "-inf", which JSON numbers cannot be.
json double_json(double value) {
  if (std::isfinite(value)) return value;
  return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
}

// `s` as a JSON string of ASCII characters, cut to about 80: manifest strings are arbitrary
// (newlines, megabytes) and an error message is one short line.
std::string quoted(const std::string& s) {
  std::string q = json(s).dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
  if (q.size() > 80) q = q.substr(0, 76) + "...\"";
  return q;
}

// Collects the tensors and their records, then lays out the file.
class PayloadWriter {
 public:
  void tensor(const std::string& key, const torch::Tensor& t) {
    if (!t.defined()) throw Error("cannot checkpoint tensor \"" + key + "\": it is undefined");
    const DType* dtype = nullptr;
    for (const DType& d : kDTypes) {
      if (d.type == t.scalar_type()) dtype = &d;
    }
    if (dtype == nullptr) {
      throw Error("cannot checkpoint tensor \"" + key + "\" of type " +
                  std::string(c10::toString(t.scalar_type())) + " (checkpoints hold " + kDTypeList +
                  ")");
    }
    const torch::Tensor cpu = t.detach().to(torch::kCPU).contiguous();
    const size_t nbytes = static_cast<size_t>(cpu.numel()) * dtype->size;
    size_ = aligned(size_);
    records_.push_back({{"name", key},
                        {"dtype", dtype->name},
                        {"shape", cpu.sizes().vec()},
                        {"offset", size_},
                        {"nbytes", nbytes}});
    placed_.push_back({cpu, size_, nbytes});
    size_ += nbytes;
  }
  // Strings as one byte tensor and their end offsets: raw ids and titles are arbitrary bytes
  // from data files, which JSON (UTF-8 only) could not carry unchanged.
  void strings(const std::string& key, const std::vector<std::string>& strings) {
    std::string joined;
    std::vector<int64_t> ends;
    for (const auto& s : strings) {
      joined += s;
      ends.push_back(static_cast<int64_t>(joined.size()));
    }
    tensor(key + "_bytes",
           torch::from_blob(joined.data(), {static_cast<int64_t>(joined.size())}, torch::kUInt8)
               .clone());
    tensor(
        key + "_ends",
        torch::from_blob(ends.data(), {static_cast<int64_t>(ends.size())}, torch::kLong).clone());
  }
  void vocabulary(const std::string& key, const Vocabulary& v) {
    strings(key + "_raws", v.raws());
    std::vector<std::string> titles;
    if (v.has_titles()) {
      for (int64_t i = 0; i < v.size(); ++i) titles.push_back(v.title(i));
    }
    strings(key + "_titles", titles);
    // Aliases (item ids of a title-keyed vocabulary) only where there are any, so id-keyed
    // checkpoints keep their layout.
    if (v.aliases().empty()) return;
    std::vector<std::string> names;
    std::vector<int64_t> rows;
    for (const auto& [alias, row] : v.aliases()) {
      names.push_back(alias);
      rows.push_back(row);
    }
    strings(key + "_aliases", names);
    tensor(
        key + "_alias_rows",
        torch::from_blob(rows.data(), {static_cast<int64_t>(rows.size())}, torch::kLong).clone());
  }

  // The whole file: `manifest` gets the tensor table, then header, manifest and tensor data are
  // laid out in one buffer (a model's tensors are copied once, not once per layer of framing).
  std::string file(json manifest, uint32_t version) {
    manifest["tensors"] = std::move(records_);
    const std::string text = manifest.dump();
    std::string file(kHeaderSize, '\0');  // filled in last, once the SHA-256 can be computed
    file.reserve(aligned(kHeaderSize + kManifestLengthSize + text.size()) + size_);
    put_le<uint64_t>(file, text.size());
    file += text;
    const size_t data_start = aligned(file.size());
    file.resize(data_start + size_, '\0');
    for (const Placed& p : placed_) {
      if (p.nbytes > 0) std::memcpy(&file[data_start + p.offset], p.cpu.data_ptr(), p.nbytes);
    }
    fill_header(file, version);
    return file;
  }

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

// Reads a payload. Everything is checked before memory is touched: the manifest's length, its
// JSON, the type of every field, and each tensor record's dtype, shape and byte range, with
// overflow-checked arithmetic; a record becomes a tensor only through torch::empty and a memcpy
// of exactly the bytes its shape needs. Every failure is a collab::Error naming the file.
class PayloadReader {
 public:
  PayloadReader(std::string_view payload, const std::string& path) : path_(path) {
    if (payload.size() < kManifestLengthSize) {
      fail("its payload is " + std::to_string(payload.size()) + " bytes, too short for a manifest");
    }
    const auto length = get_le<uint64_t>(payload, 0);
    if (length > payload.size() - kManifestLengthSize) {
      fail("its manifest claims " + std::to_string(length) + " bytes, the payload holds " +
           std::to_string(payload.size() - kManifestLengthSize));
    }
    const char* text = payload.data() + kManifestLengthSize;
    if (nesting_depth(std::string_view(text, length)) > kMaxNesting) {
      fail("its manifest nests arrays and objects more than " + std::to_string(kMaxNesting) +
           " levels deep");
    }
    try {
      manifest_ = json::parse(text, text + length, nullptr, /*allow_exceptions=*/false);
    } catch (const json::exception&) {  // not expected with allow_exceptions false; belt and braces
      manifest_ = json(json::value_t::discarded);
    }
    if (manifest_.is_discarded()) fail("its manifest is not valid JSON");
    if (!manifest_.is_object()) fail("its manifest is not a JSON object");
    // Tensor data starts at the first 64-byte boundary of the file after the manifest.
    const size_t data_start =
        aligned(kHeaderSize + kManifestLengthSize + static_cast<size_t>(length)) - kHeaderSize;
    if (data_start > payload.size()) fail("it ends before its tensor data starts");
    data_ = payload.substr(data_start);
    const json& table = field("tensors");
    if (!table.is_array()) fail("manifest \"tensors\" is not an array");
    for (size_t k = 0; k < table.size(); ++k) add_record(table[k], k);
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ": not a valid collab checkpoint (" + what + ")");
  }

  const json& field(const std::string& key) const {
    const auto it = manifest_.find(key);
    if (it == manifest_.end()) fail("its manifest has no \"" + key + "\"");
    return *it;
  }
  json object(const std::string& key) const {
    const json& v = field(key);
    if (!v.is_object()) fail("manifest \"" + key + "\" is not an object");
    return v;
  }
  json array(const std::string& key) const {
    const json& v = field(key);
    if (!v.is_array()) fail("manifest \"" + key + "\" is not an array");
    return v;
  }
  std::string string(const std::string& key) const {
    const json& v = field(key);
    if (!v.is_string()) fail("manifest \"" + key + "\" is not a string");
    return v.get<std::string>();
  }
  int64_t integer(const std::string& key) const {
    return integer_in(field(key), "manifest \"" + key + "\"");
  }
  double number(const std::string& key) const {
    const json& v = field(key);
    if (v.is_number()) return v.get<double>();
    if (v == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (v == "inf") return std::numeric_limits<double>::infinity();
    if (v == "-inf") return -std::numeric_limits<double>::infinity();
    fail("manifest \"" + key + "\" is not a number");
  }
  // A JSON array of strings.
  std::vector<std::string> names(const std::string& key) const {
    std::vector<std::string> names;
    for (const json& n : array(key)) {
      if (!n.is_string()) fail("manifest \"" + key + "\" holds a non-string");
      names.push_back(n.get<std::string>());
    }
    return names;
  }
  int64_t integer_in(const json& v, const std::string& what) const {
    if (!v.is_number_integer() ||
        (v.is_number_unsigned() &&
         v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
      fail(what + " is not a 64-bit integer");
    }
    return v.get<int64_t>();
  }

  torch::Tensor tensor(const std::string& key) const {
    const auto it = records_.find(key);
    if (it == records_.end()) fail("no tensor \"" + key + "\"");
    const Record& r = it->second;
    torch::Tensor t = torch::empty(r.shape, torch::TensorOptions().dtype(r.type));
    if (r.nbytes > 0) std::memcpy(t.data_ptr(), data_.data() + r.offset, r.nbytes);
    return t;
  }
  // A tensor that must be one-dimensional of `type` (string tables, generator states).
  torch::Tensor vector_of(const std::string& key, torch::ScalarType type) const {
    const torch::Tensor t = tensor(key);
    if (t.scalar_type() != type || t.dim() != 1) {
      fail("tensor \"" + key + "\" is not a vector of " + c10::toString(type));
    }
    return t;
  }
  std::vector<std::string> strings(const std::string& key) const {
    const torch::Tensor bytes = vector_of(key + "_bytes", torch::kUInt8);
    const torch::Tensor ends = vector_of(key + "_ends", torch::kLong);
    const char* data = reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>());
    const int64_t* end = ends.data_ptr<int64_t>();
    std::vector<std::string> out;
    int64_t start = 0;
    for (int64_t k = 0; k < ends.numel(); ++k) {
      if (end[k] < start || end[k] > bytes.numel()) fail("\"" + key + "\" has a bad offset");
      out.emplace_back(data + start, static_cast<size_t>(end[k] - start));
      start = end[k];
    }
    return out;
  }
  Vocabulary vocabulary(const std::string& key) const {
    Vocabulary v;
    const std::vector<std::string> raws = strings(key + "_raws");
    for (const auto& raw : raws) v.add(raw);
    if (v.size() != static_cast<int64_t>(raws.size())) {
      fail("\"" + key + "\" has repeated raw ids");
    }
    const std::vector<std::string> titles = strings(key + "_titles");
    if (!titles.empty() && static_cast<int64_t>(titles.size()) != v.size()) {
      fail("\"" + key + "\" has " + std::to_string(titles.size()) + " titles for " +
           std::to_string(v.size()) + " ids");
    }
    for (size_t i = 0; i < titles.size(); ++i) v.set_title(static_cast<int64_t>(i), titles[i]);
    if (records_.count(key + "_aliases_bytes") == 0) return v;
    const std::vector<std::string> aliases = strings(key + "_aliases");
    const torch::Tensor rows = vector_of(key + "_alias_rows", torch::kLong);
    if (rows.numel() != static_cast<int64_t>(aliases.size())) {
      fail("\"" + key + "\" has " + std::to_string(aliases.size()) + " aliases for " +
           std::to_string(rows.numel()) + " rows");
    }
    for (size_t k = 0; k < aliases.size(); ++k) {
      try {
        v.add_alias(aliases[k], rows.data_ptr<int64_t>()[k]);
      } catch (const Error& e) {
        fail("\"" + key + "\" alias: " + std::string(e.what()));
      }
    }
    return v;
  }

 private:
  struct Record {
    torch::ScalarType type;
    std::vector<int64_t> shape;
    size_t offset;  // from the start of the tensor data
    size_t nbytes;
  };

  void add_record(const json& entry, size_t index) {
    const std::string at = "tensor record " + std::to_string(index);
    if (!entry.is_object()) fail(at + " is not an object");
    const auto member = [&](const char* key) -> const json& {
      const auto it = entry.find(key);
      if (it == entry.end()) fail(at + " has no \"" + key + "\"");
      return *it;
    };
    const json& name = member("name");
    if (!name.is_string()) fail(at + ": \"name\" is not a string");
    const std::string tensor = "tensor " + quoted(name.get<std::string>());

    const json& dtype_name = member("dtype");
    const DType* dtype = nullptr;
    for (const DType& d : kDTypes) {
      if (dtype_name == d.name) dtype = &d;
    }
    if (dtype == nullptr) {
      fail(tensor + " has dtype " +
           (dtype_name.is_string() ? quoted(dtype_name.get<std::string>())
                                   : std::string("of JSON type ") + dtype_name.type_name()) +
           " (checkpoints hold " + kDTypeList + ")");
    }

    const json& shape = member("shape");
    if (!shape.is_array()) fail(tensor + ": \"shape\" is not an array");
    if (shape.size() > kMaxRank) {
      fail(tensor + " has " + std::to_string(shape.size()) + " dimensions (at most " +
           std::to_string(kMaxRank) + ")");
    }
    Record r{dtype->type, {}, 0, 0};
    // The number of elements, and the same product with empty dimensions counted as 1 (LibTorch
    // multiplies those for strides: a [0, 2^40, 2^40] tensor holds nothing but overflows them).
    int64_t numel = 1, extent = 1;
    for (const json& d : shape) {
      if (!d.is_number_integer() || (!d.is_number_unsigned() && d.get<int64_t>() < 0)) {
        fail(tensor + " has a dimension that is not a non-negative integer");
      }
      const uint64_t size = d.get<uint64_t>();
      if (size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          __builtin_mul_overflow(numel, static_cast<int64_t>(size), &numel) ||
          __builtin_mul_overflow(extent, std::max<int64_t>(static_cast<int64_t>(size), 1),
                                 &extent)) {
        fail(tensor + " has a shape too large to address");
      }
      r.shape.push_back(static_cast<int64_t>(size));
    }
    size_t bytes = 0;
    if (__builtin_mul_overflow(static_cast<size_t>(numel), dtype->size, &bytes)) {
      fail(tensor + " has a shape too large to address");
    }

    const json& offset = member("offset");
    const json& nbytes = member("nbytes");
    if (!offset.is_number_unsigned() || !nbytes.is_number_unsigned()) {
      fail(tensor + ": \"offset\" and \"nbytes\" must be non-negative integers");
    }
    r.offset = offset.get<size_t>();
    r.nbytes = nbytes.get<size_t>();
    if (r.nbytes != bytes) {
      fail(tensor + " is " + shape.dump() + " " + dtype->name + ", " + std::to_string(bytes) +
           " bytes, but its record says " + std::to_string(r.nbytes));
    }
    if (r.offset > data_.size() || r.nbytes > data_.size() - r.offset) {
      fail(tensor + " lies past the end of the tensor data (bytes " + std::to_string(r.offset) +
           " + " + std::to_string(r.nbytes) + " of " + std::to_string(data_.size()) + ")");
    }
    if (!records_.emplace(name.get<std::string>(), std::move(r)).second) {
      fail("two tensor records are named " + quoted(name.get<std::string>()));
    }
  }

  const std::string& path_;
  json manifest_;
  std::string_view data_;  // the tensor data, after the manifest
  std::unordered_map<std::string, Record> records_;
};

std::string errno_text(int error) {
  return std::strerror(error);
}

}  // namespace

std::string data_fingerprint(const Dataset& data) {
  Sha256 sha;
  const std::string tag = "collab data fingerprint v1";
  sha.update(tag.data(), tag.size());
  sha.update_value(static_cast<int64_t>(data.users.size()));
  sha.update_value(static_cast<int64_t>(data.items.size()));
  for (const Ratings* r : {&data.train, &data.valid}) {
    // Indices hashed as the int64 and ratings as the floats they were before their storage
    // shrank, so that checkpoints written then still match their data.
    sha.update_as<int64_t>(r->users);
    sha.update_as<int64_t>(r->items);
    sha.update_as<float>(r->ratings);
  }
  return hex(sha.digest());
}

std::string frame_checkpoint(std::string_view payload, uint32_t version) {
  std::string file(kHeaderSize, '\0');
  file += payload;
  fill_header(file, version);
  return file;
}

std::string encode_checkpoint(const Checkpoint& c) {
  const TrainerState& s = c.state;
  PayloadWriter w;
  json parameters = json::array(), buffers = json::array(), optimizer = json::array();
  for (size_t i = 0; i < s.parameters.size(); ++i) {
    parameters.push_back(s.parameters[i].first);
    w.tensor("parameter_" + std::to_string(i), s.parameters[i].second);
  }
  for (size_t i = 0; i < s.buffers.size(); ++i) {
    buffers.push_back(s.buffers[i].first);
    w.tensor("buffer_" + std::to_string(i), s.buffers[i].second);
  }
  for (size_t i = 0; i < s.optimizer.size(); ++i) {
    optimizer.push_back({{"name", s.optimizer[i].name}, {"step", s.optimizer[i].step}});
    w.tensor("adam_exp_avg_" + std::to_string(i), s.optimizer[i].exp_avg);
    w.tensor("adam_exp_avg_sq_" + std::to_string(i), s.optimizer[i].exp_avg_sq);
  }
  w.tensor("cpu_generator", s.cpu_generator);
  for (size_t i = 0; i < s.cuda_generators.size(); ++i) {
    w.tensor("cuda_generator_" + std::to_string(i), s.cuda_generators[i]);
  }
  w.tensor("order_generator", s.order_generator);
  w.vocabulary("users", c.users);
  w.vocabulary("items", c.items);
  const json manifest = {{"config", c.config},
                         {"metrics", c.metrics},
                         {"data_fingerprint", c.data_fingerprint},
                         {"global_step", s.global_step},
                         {"epoch", s.epoch},
                         {"batch", s.batch},
                         {"epoch_loss_sum", double_json(s.epoch_loss_sum)},
                         {"smoothed_loss_average", double_json(s.smoothed_loss_average)},
                         {"smoothed_loss_count", s.smoothed_loss_count},
                         {"parameters", parameters},
                         {"buffers", buffers},
                         {"optimizer", optimizer},
                         {"cuda_generators", s.cuda_generators.size()}};
  return w.file(manifest, c.format_version);
}

Checkpoint decode_checkpoint(std::string_view bytes, const std::string& path) {
  // The header, checked field by field so each kind of damage gets its own message.
  const size_t magic_seen = std::min(bytes.size(), sizeof kMagic);
  if (bytes.compare(0, magic_seen, std::string_view(kMagic, magic_seen)) != 0 || bytes.empty()) {
    throw Error(path + ": not a collab checkpoint (it does not start with \"COLLABCK\")");
  }
  if (bytes.size() < kHeaderSize) {
    throw Error(path + ": truncated checkpoint (" + std::to_string(bytes.size()) +
                " bytes, shorter than its " + std::to_string(kHeaderSize) + "-byte header)");
  }
  const auto version = get_le<uint32_t>(bytes, sizeof kMagic);
  if (version != kCheckpointFormatVersion) {
    throw Error(path + ": checkpoint format version " + std::to_string(version) +
                ", but this collab reads version " + std::to_string(kCheckpointFormatVersion) +
                (version < kCheckpointFormatVersion
                     ? " (it was written by an older collab: resume it with that collab, or "
                       "train again)"
                     : " (it was written by a newer collab)"));
  }
  const auto length = get_le<uint64_t>(bytes, sizeof kMagic + 4);
  const uint64_t present = bytes.size() - kHeaderSize;
  if (present < length) {
    throw Error(path + ": truncated checkpoint (" + std::to_string(present) + " of " +
                std::to_string(length) + " payload bytes present)");
  }
  if (present > length) {
    throw Error(path + ": corrupted checkpoint (" + std::to_string(present - length) +
                " bytes after the end of its payload)");
  }
  const std::string_view payload = bytes.substr(kHeaderSize);
  Sha256 sha;
  sha.update(payload.data(), payload.size());
  if (sha.digest() != bytes.substr(sizeof kMagic + 12, kHashSize)) {
    throw Error(path + ": corrupted checkpoint (the SHA-256 of its contents does not match)");
  }

  const PayloadReader r(payload, path);
  Checkpoint c;
  c.format_version = version;
  TrainerState& s = c.state;
  c.config = r.object("config");
  c.metrics = r.array("metrics");
  c.data_fingerprint = r.string("data_fingerprint");
  s.global_step = r.integer("global_step");
  s.epoch = r.integer("epoch");
  s.batch = r.integer("batch");
  s.epoch_loss_sum = r.number("epoch_loss_sum");
  s.smoothed_loss_average = r.number("smoothed_loss_average");
  s.smoothed_loss_count = r.integer("smoothed_loss_count");
  const std::vector<std::string> parameters = r.names("parameters");
  for (size_t i = 0; i < parameters.size(); ++i) {
    s.parameters.emplace_back(parameters[i], r.tensor("parameter_" + std::to_string(i)));
  }
  const std::vector<std::string> buffers = r.names("buffers");
  for (size_t i = 0; i < buffers.size(); ++i) {
    s.buffers.emplace_back(buffers[i], r.tensor("buffer_" + std::to_string(i)));
  }
  const json optimizer = r.array("optimizer");
  for (size_t i = 0; i < optimizer.size(); ++i) {
    const json& entry = optimizer[i];
    const std::string at = "manifest \"optimizer\" entry " + std::to_string(i);
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
        !entry.contains("step")) {
      r.fail(at + " is not {\"name\": ..., \"step\": ...}");
    }
    s.optimizer.push_back({entry["name"].get<std::string>(),
                           r.tensor("adam_exp_avg_" + std::to_string(i)),
                           r.tensor("adam_exp_avg_sq_" + std::to_string(i)),
                           r.integer_in(entry["step"], at + " \"step\"")});
  }
  s.cpu_generator = r.vector_of("cpu_generator", torch::kUInt8);
  const int64_t n_cuda = r.integer("cuda_generators");
  if (n_cuda < 0) r.fail("manifest \"cuda_generators\" is not a count");
  for (int64_t i = 0; i < n_cuda; ++i) {
    s.cuda_generators.push_back(r.vector_of("cuda_generator_" + std::to_string(i), torch::kUInt8));
  }
  s.order_generator = r.vector_of("order_generator", torch::kUInt8);
  c.users = r.vocabulary("users");
  c.items = r.vocabulary("items");
  return c;
}

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  write_file_atomically(path, encode_checkpoint(checkpoint));
}

Checkpoint read_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the checkpoint (" + errno_text(errno) + ")");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw Error(path + ": cannot read the checkpoint (" + errno_text(errno) + ")");
  return decode_checkpoint(bytes.str(), path);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const fs::path target(path);
  const std::string tmp = path + kTempFileSuffix + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot create " + tmp + " (" + errno_text(errno) + ")");
  // Any failure from here on removes the temporary file: the old `path` stays as it was.
  const auto fail = [&](const std::string& action, int error) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(path + ": cannot " + action + " (" + errno_text(error) + ")");
  };
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write " + tmp, n < 0 ? errno : ENOSPC);
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail("flush " + tmp + " to disk", errno);
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    throw Error(path + ": cannot write " + tmp + " (" + errno_text(error) + ")");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    throw Error(path + ": cannot rename " + tmp + " onto it (" + errno_text(error) + ")");
  }
  // The rename lives in the folder's entries: without this fsync a power loss could bring back
  // the old name (still a complete file, but not the newest).
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    throw Error(dir + ": cannot open the folder to sync it (" + errno_text(errno) + ")");
  const int synced = ::fsync(dir_fd);
  const int error = errno;
  ::close(dir_fd);
  if (synced != 0) throw Error(dir + ": cannot sync the folder (" + errno_text(error) + ")");
}

}  // namespace collab
