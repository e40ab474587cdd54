#include "collab/train/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

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
  // An int32 vector hashed as if its elements were int64 (size prefix included).
  void update_widened(const std::vector<int32_t>& v) {
    update_value(static_cast<uint64_t>(v.size()));
    int64_t chunk[1024];
    for (size_t start = 0; start < v.size(); start += 1024) {
      const size_t n = std::min<size_t>(1024, v.size() - start);
      for (size_t k = 0; k < n; ++k) chunk[k] = v[start + k];
      update(chunk, n * sizeof(int64_t));
    }
  }
  // Rating values hashed as the float vector they were before they were stored as codes.
  void update_ratings(const RatingValues& v) {
    update_value(static_cast<uint64_t>(v.size()));
    float chunk[1024];
    for (size_t start = 0; start < v.size(); start += 1024) {
      const size_t n = std::min<size_t>(1024, v.size() - start);
      for (size_t k = 0; k < n; ++k) chunk[k] = v[start + k];
      update(chunk, n * sizeof(float));
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

// --- payload ------------------------------------------------------------------------------
// Archive keys are flat and free of dots (LibTorch's archive treats keys as attribute names):
// tensors are numbered, and a JSON manifest maps the numbers to parameter names.

void put_tensor(torch::serialize::OutputArchive& a, const std::string& key,
                const torch::Tensor& t) {
  a.write(key, t.detach().to(torch::kCPU), /*is_buffer=*/true);
}

void put_string(torch::serialize::OutputArchive& a, const std::string& key, std::string value) {
  a.write(key, c10::IValue(std::move(value)));
}

// Strings as one byte tensor and their end offsets: raw ids are arbitrary bytes from data files,
// which JSON (UTF-8 only) could not carry unchanged.
void put_strings(torch::serialize::OutputArchive& a, const std::string& key,
                 const std::vector<std::string>& strings) {
  std::string joined;
  std::vector<int64_t> ends;
  for (const auto& s : strings) {
    joined += s;
    ends.push_back(static_cast<int64_t>(joined.size()));
  }
  put_tensor(a, key + "_bytes",
             torch::from_blob(joined.data(), {static_cast<int64_t>(joined.size())}, torch::kUInt8)
                 .clone());
  put_tensor(
      a, key + "_ends",
      torch::from_blob(ends.data(), {static_cast<int64_t>(ends.size())}, torch::kLong).clone());
}

void put_vocabulary(torch::serialize::OutputArchive& a, const std::string& key,
                    const Vocabulary& v) {
  put_strings(a, key + "_raws", v.raws());
  std::vector<std::string> titles;
  if (v.has_titles()) {
    for (int64_t i = 0; i < v.size(); ++i) titles.push_back(v.title(i));
  }
  put_strings(a, key + "_titles", titles);
}

// Reads from an archive, turning a missing or mistyped entry into an error naming the file.
class PayloadReader {
 public:
  PayloadReader(torch::serialize::InputArchive& archive, const std::string& path)
      : archive_(archive), path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ": not a valid collab checkpoint (" + what + ")");
  }

  c10::IValue value(const std::string& key) {
    c10::IValue v;
    bool found = false;
    try {
      found = archive_.try_read(key, v);
    } catch (const std::exception&) {  // c10::Error, and what LibTorch lets escape besides
    }
    if (!found) fail("no \"" + key + "\" entry");
    return v;
  }
  std::string string(const std::string& key) {
    const c10::IValue v = value(key);
    if (!v.isString()) fail("\"" + key + "\" is not a string");
    return v.toStringRef();
  }
  int64_t integer(const std::string& key) {
    const c10::IValue v = value(key);
    if (!v.isInt()) fail("\"" + key + "\" is not an integer");
    return v.toInt();
  }
  double number(const std::string& key) {
    const c10::IValue v = value(key);
    if (!v.isDouble()) fail("\"" + key + "\" is not a number");
    return v.toDouble();
  }
  json json_value(const std::string& key) {
    json j = json::parse(string(key), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) fail("\"" + key + "\" is not valid JSON");
    return j;
  }
  torch::Tensor tensor(const std::string& key) {
    torch::Tensor t;
    bool found = false;
    try {
      found = archive_.try_read(key, t, /*is_buffer=*/true);
    } catch (const std::exception&) {  // c10::Error, and what LibTorch lets escape besides
    }
    if (!found || !t.defined()) fail("no tensor \"" + key + "\"");
    if (!within_storage(t)) fail("tensor \"" + key + "\" extends past its data");
    return t;
  }
  // A damaged archive can give a tensor sizes, strides or an offset reaching past its storage;
  // reading it (here, or when a model copies it) would run past the end. This does not catch a
  // storage that claims more bytes than its record holds: LibTorch 1.13 takes a storage's size
  // from the pickle, not from the record (fuzz/known-crashes/checkpoint/, README).
  static bool within_storage(const torch::Tensor& t) {
    if (t.layout() != torch::kStrided || t.is_quantized() || !t.has_storage()) return false;
    if (t.numel() == 0) return true;
    int64_t last = t.storage_offset();  // the element furthest into the storage
    if (last < 0) return false;
    for (int64_t d = 0; d < t.dim(); ++d) {
      int64_t step = 0;
      if (t.stride(d) < 0 || __builtin_mul_overflow(t.size(d) - 1, t.stride(d), &step) ||
          __builtin_add_overflow(last, step, &last)) {
        return false;
      }
    }
    int64_t bytes = 0;
    if (__builtin_mul_overflow(last + 1, static_cast<int64_t>(t.element_size()), &bytes)) {
      return false;
    }
    return static_cast<uint64_t>(bytes) <= t.storage().nbytes();
  }
  std::vector<std::string> strings(const std::string& key) {
    const torch::Tensor bytes = tensor(key + "_bytes").contiguous();
    const torch::Tensor ends = tensor(key + "_ends").contiguous();
    if (bytes.scalar_type() != torch::kUInt8 || ends.scalar_type() != torch::kLong ||
        bytes.dim() != 1 || ends.dim() != 1) {
      fail("\"" + key + "\" is not a string table");
    }
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
  Vocabulary vocabulary(const std::string& key) {
    Vocabulary v;
    for (const auto& raw : strings(key + "_raws")) v.add(raw);
    if (v.size() != static_cast<int64_t>(strings(key + "_raws").size())) {
      fail("\"" + key + "\" has repeated raw ids");
    }
    const std::vector<std::string> titles = strings(key + "_titles");
    if (!titles.empty() && static_cast<int64_t>(titles.size()) != v.size()) {
      fail("\"" + key + "\" has " + std::to_string(titles.size()) + " titles for " +
           std::to_string(v.size()) + " ids");
    }
    for (size_t i = 0; i < titles.size(); ++i) v.set_title(static_cast<int64_t>(i), titles[i]);
    return v;
  }

 private:
  torch::serialize::InputArchive& archive_;
  const std::string& path_;
};

std::vector<std::string> names_in(const json& manifest, const char* key, PayloadReader& r) {
  if (!manifest.contains(key) || !manifest[key].is_array())
    r.fail(std::string("manifest lacks ") + key);
  std::vector<std::string> names;
  for (const auto& n : manifest[key]) {
    if (!n.is_string()) r.fail(std::string("manifest ") + key + " holds a non-string");
    names.push_back(n.get<std::string>());
  }
  return names;
}

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
    // Indices hashed as the int64 they were before storage became int32, so that checkpoints
    // written then still match their data.
    sha.update_widened(r->users);
    sha.update_widened(r->items);
    sha.update_ratings(r->ratings);
  }
  return hex(sha.digest());
}

std::string encode_checkpoint(const Checkpoint& c) {
  const TrainerState& s = c.state;
  torch::serialize::OutputArchive a;
  json manifest = {
      {"parameters", json::array()}, {"buffers", json::array()}, {"optimizer", json::array()}};
  for (size_t i = 0; i < s.parameters.size(); ++i) {
    manifest["parameters"].push_back(s.parameters[i].first);
    put_tensor(a, "parameter_" + std::to_string(i), s.parameters[i].second);
  }
  for (size_t i = 0; i < s.buffers.size(); ++i) {
    manifest["buffers"].push_back(s.buffers[i].first);
    put_tensor(a, "buffer_" + std::to_string(i), s.buffers[i].second);
  }
  std::vector<int64_t> adam_steps;
  for (size_t i = 0; i < s.optimizer.size(); ++i) {
    manifest["optimizer"].push_back(s.optimizer[i].name);
    put_tensor(a, "adam_exp_avg_" + std::to_string(i), s.optimizer[i].exp_avg);
    put_tensor(a, "adam_exp_avg_sq_" + std::to_string(i), s.optimizer[i].exp_avg_sq);
    adam_steps.push_back(s.optimizer[i].step);
  }
  put_tensor(
      a, "adam_steps",
      torch::from_blob(adam_steps.data(), {static_cast<int64_t>(adam_steps.size())}, torch::kLong)
          .clone());
  manifest["cuda_generators"] = s.cuda_generators.size();
  put_string(a, "manifest", manifest.dump());
  put_string(a, "config", c.config.dump());
  put_string(a, "metrics", c.metrics.dump());
  put_string(a, "data_fingerprint", c.data_fingerprint);
  a.write("global_step", c10::IValue(s.global_step));
  a.write("epoch", c10::IValue(s.epoch));
  a.write("batch", c10::IValue(s.batch));
  a.write("epoch_loss_sum", c10::IValue(s.epoch_loss_sum));
  a.write("smoothed_loss_average", c10::IValue(s.smoothed_loss_average));
  a.write("smoothed_loss_count", c10::IValue(s.smoothed_loss_count));
  put_tensor(a, "cpu_generator", s.cpu_generator);
  for (size_t i = 0; i < s.cuda_generators.size(); ++i) {
    put_tensor(a, "cuda_generator_" + std::to_string(i), s.cuda_generators[i]);
  }
  put_tensor(a, "order_generator", s.order_generator);
  put_vocabulary(a, "users", c.users);
  put_vocabulary(a, "items", c.items);

  std::string payload;
  a.save_to([&payload](const void* data, size_t size) {
    payload.append(static_cast<const char*>(data), size);
    return size;
  });
  Sha256 sha;
  sha.update(payload.data(), payload.size());
  std::string file(kMagic, sizeof kMagic);
  put_le<uint32_t>(file, c.format_version);
  put_le<uint64_t>(file, payload.size());
  file += sha.digest();
  file += payload;
  return file;
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
                ", but this collab reads version " + std::to_string(kCheckpointFormatVersion));
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

  torch::serialize::InputArchive archive;
  try {
    archive.load_from(payload.data(), payload.size(), torch::Device(torch::kCPU));
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    what = what.substr(0, what.find('\n'));
    throw Error(path + ": not a valid collab checkpoint (LibTorch cannot read it: " + what + ")");
  } catch (const std::exception& e) {
    // LibTorch's unpickler also lets std::out_of_range and others escape on damaged archives
    // ("Argument passed to at() was not in the map."), which would name neither file nor cause.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw Error(path + ": not a valid collab checkpoint (LibTorch cannot read it: " + what + ")");
  }
  PayloadReader r(archive, path);
  Checkpoint c;
  c.format_version = version;
  TrainerState& s = c.state;
  const json manifest = r.json_value("manifest");
  const auto parameters = names_in(manifest, "parameters", r);
  const auto buffers = names_in(manifest, "buffers", r);
  const auto optimizer = names_in(manifest, "optimizer", r);
  for (size_t i = 0; i < parameters.size(); ++i) {
    s.parameters.emplace_back(parameters[i], r.tensor("parameter_" + std::to_string(i)));
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    s.buffers.emplace_back(buffers[i], r.tensor("buffer_" + std::to_string(i)));
  }
  const torch::Tensor steps = r.tensor("adam_steps").contiguous();
  if (steps.scalar_type() != torch::kLong ||
      steps.numel() != static_cast<int64_t>(optimizer.size())) {
    r.fail("\"adam_steps\" does not match the optimizer entries");
  }
  for (size_t i = 0; i < optimizer.size(); ++i) {
    s.optimizer.push_back({optimizer[i], r.tensor("adam_exp_avg_" + std::to_string(i)),
                           r.tensor("adam_exp_avg_sq_" + std::to_string(i)),
                           steps.data_ptr<int64_t>()[i]});
  }
  const json n_cuda = manifest.value("cuda_generators", json(0));
  if (!n_cuda.is_number_unsigned()) r.fail("manifest cuda_generators is not a count");
  c.config = r.json_value("config");
  c.metrics = r.json_value("metrics");
  if (!c.config.is_object() || !c.metrics.is_array()) r.fail("config or metrics of the wrong type");
  c.data_fingerprint = r.string("data_fingerprint");
  s.global_step = r.integer("global_step");
  s.epoch = r.integer("epoch");
  s.batch = r.integer("batch");
  s.epoch_loss_sum = r.number("epoch_loss_sum");
  s.smoothed_loss_average = r.number("smoothed_loss_average");
  s.smoothed_loss_count = r.integer("smoothed_loss_count");
  s.cpu_generator = r.tensor("cpu_generator");
  for (size_t i = 0; i < n_cuda.get<size_t>(); ++i) {
    s.cuda_generators.push_back(r.tensor("cuda_generator_" + std::to_string(i)));
  }
  s.order_generator = r.tensor("order_generator");
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
