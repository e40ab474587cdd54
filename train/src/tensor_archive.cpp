#include "tensor_archive.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "collab/common/error.h"

namespace collab {

namespace {

constexpr size_t kManifestLengthSize = 8;
constexpr size_t kAlignment = 64;
constexpr size_t kMaxRank = 8;      // our tensors have at most 2 dimensions
constexpr size_t kMaxNesting = 64;  // a config is 3 levels deep, the manifest adds 2

size_t aligned(size_t n) {
  return (n + kAlignment - 1) / kAlignment * kAlignment;
}

// The element types an archive holds (parameters and moments: float32; BatchNorm's
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

// `s` as a JSON string of ASCII characters, cut to about 80: manifest strings are arbitrary
// (newlines, megabytes) and an error message is one short line.
std::string quoted(const std::string& s) {
  std::string q = json(s).dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
  if (q.size() > 80) q = q.substr(0, 76) + "...\"";
  return q;
}

}  // namespace

json double_json(double value) {
  if (std::isfinite(value)) return value;
  return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
}

// --- writing ------------------------------------------------------------------------------

void TensorArchiveWriter::tensor(const std::string& key, const torch::Tensor& t) {
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

void TensorArchiveWriter::strings(const std::string& key, const std::vector<std::string>& strings) {
  std::string joined;
  std::vector<int64_t> ends;
  for (const auto& s : strings) {
    joined += s;
    ends.push_back(static_cast<int64_t>(joined.size()));
  }
  tensor(key + "_bytes",
         torch::from_blob(joined.data(), {static_cast<int64_t>(joined.size())}, torch::kUInt8)
             .clone());
  tensor(key + "_ends",
         torch::from_blob(ends.data(), {static_cast<int64_t>(ends.size())}, torch::kLong).clone());
}

std::string TensorArchiveWriter::file(json manifest, size_t header_size) {
  manifest["tensors"] = std::move(records_);
  const std::string text = manifest.dump();
  std::string file(header_size, '\0');
  file.reserve(aligned(header_size + kManifestLengthSize + text.size()) + size_);
  put_le<uint64_t>(file, text.size());
  file += text;
  const size_t data_start = aligned(file.size());
  file.resize(data_start + size_, '\0');
  for (const Placed& p : placed_) {
    if (p.nbytes > 0) std::memcpy(&file[data_start + p.offset], p.cpu.data_ptr(), p.nbytes);
  }
  return file;
}

// --- reading ------------------------------------------------------------------------------

TensorArchiveReader::TensorArchiveReader(std::string_view payload, size_t header_size,
                                         const std::string& path, std::string kind)
    : path_(path), kind_(std::move(kind)) {
  if (payload.size() < kManifestLengthSize) {
    fail("its payload is " + std::to_string(payload.size()) + " bytes, too short for a manifest");
  }
  const auto length = get_le<uint64_t>(payload, 0);
  if (length > payload.size() - kManifestLengthSize) {
    fail("its manifest claims " + std::to_string(length) + " bytes, the payload holds " +
         std::to_string(payload.size() - kManifestLengthSize));
  }
  parse_manifest(payload.substr(kManifestLengthSize, static_cast<size_t>(length)));
  // Tensor data starts at the first 64-byte boundary of the file after the manifest.
  const size_t data_start =
      aligned(header_size + kManifestLengthSize + static_cast<size_t>(length)) - header_size;
  if (data_start > payload.size()) fail("it ends before its tensor data starts");
  data_ = payload.substr(data_start);
  const json& table = field("tensors");
  if (!table.is_array()) fail("manifest \"tensors\" is not an array");
  for (size_t k = 0; k < table.size(); ++k) add_record(table[k], k);
}

void TensorArchiveReader::parse_manifest(std::string_view text) {
  if (nesting_depth(text) > kMaxNesting) {
    fail("its manifest nests arrays and objects more than " + std::to_string(kMaxNesting) +
         " levels deep");
  }
  try {
    manifest_ = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  } catch (const json::exception&) {  // not expected with allow_exceptions false; belt and braces
    manifest_ = json(json::value_t::discarded);
  }
  if (manifest_.is_discarded()) fail("its manifest is not valid JSON");
  if (!manifest_.is_object()) fail("its manifest is not a JSON object");
}

void TensorArchiveReader::fail(const std::string& what) const {
  throw Error(path_ + ": not a valid " + kind_ + " (" + what + ")");
}

const json& TensorArchiveReader::field(const std::string& key) const {
  const auto it = manifest_.find(key);
  if (it == manifest_.end()) fail("its manifest has no \"" + key + "\"");
  return *it;
}

json TensorArchiveReader::object(const std::string& key) const {
  const json& v = field(key);
  if (!v.is_object()) fail("manifest \"" + key + "\" is not an object");
  return v;
}

json TensorArchiveReader::array(const std::string& key) const {
  const json& v = field(key);
  if (!v.is_array()) fail("manifest \"" + key + "\" is not an array");
  return v;
}

std::string TensorArchiveReader::string(const std::string& key) const {
  const json& v = field(key);
  if (!v.is_string()) fail("manifest \"" + key + "\" is not a string");
  return v.get<std::string>();
}

int64_t TensorArchiveReader::integer(const std::string& key) const {
  return integer_in(field(key), "manifest \"" + key + "\"");
}

double TensorArchiveReader::number(const std::string& key) const {
  const json& v = field(key);
  if (v.is_number()) return v.get<double>();
  if (v == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (v == "inf") return std::numeric_limits<double>::infinity();
  if (v == "-inf") return -std::numeric_limits<double>::infinity();
  fail("manifest \"" + key + "\" is not a number");
}

std::vector<std::string> TensorArchiveReader::names(const std::string& key) const {
  std::vector<std::string> names;
  for (const json& n : array(key)) {
    if (!n.is_string()) fail("manifest \"" + key + "\" holds a non-string");
    names.push_back(n.get<std::string>());
  }
  return names;
}

int64_t TensorArchiveReader::integer_in(const json& v, const std::string& what) const {
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() &&
       v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
    fail(what + " is not a 64-bit integer");
  }
  return v.get<int64_t>();
}

torch::Tensor TensorArchiveReader::tensor(const std::string& key) const {
  const auto it = records_.find(key);
  if (it == records_.end()) fail("no tensor \"" + key + "\"");
  const Record& r = it->second;
  torch::Tensor t = torch::empty(r.shape, torch::TensorOptions().dtype(r.type));
  if (r.nbytes > 0) std::memcpy(t.data_ptr(), data_.data() + r.offset, r.nbytes);
  return t;
}

torch::Tensor TensorArchiveReader::vector_of(const std::string& key,
                                             torch::ScalarType type) const {
  const torch::Tensor t = tensor(key);
  if (t.scalar_type() != type || t.dim() != 1) {
    fail("tensor \"" + key + "\" is not a vector of " + c10::toString(type));
  }
  return t;
}

std::vector<std::string> TensorArchiveReader::strings(const std::string& key) const {
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

void TensorArchiveReader::add_record(const json& entry, size_t index) {
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
  size_t bytes = 0;
  Record r{dtype->type, read_shape(shape, tensor, dtype->size, bytes), 0, 0};
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

std::vector<int64_t> TensorArchiveReader::read_shape(const json& shape, const std::string& tensor,
                                                     size_t element_size, size_t& nbytes) const {
  if (!shape.is_array()) fail(tensor + ": \"shape\" is not an array");
  if (shape.size() > kMaxRank) {
    fail(tensor + " has " + std::to_string(shape.size()) + " dimensions (at most " +
         std::to_string(kMaxRank) + ")");
  }
  std::vector<int64_t> sizes;
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
    sizes.push_back(static_cast<int64_t>(size));
  }
  if (__builtin_mul_overflow(static_cast<size_t>(numel), element_size, &nbytes)) {
    fail(tensor + " has a shape too large to address");
  }
  return sizes;
}

}  // namespace collab
