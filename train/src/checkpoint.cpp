#include "collab/train/checkpoint.h"

#include <algorithm>
#include <string>
#include <vector>

#include "collab/common/digest.h"
#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "tensor_archive.h"

namespace collab {

namespace {

constexpr char kMagic[8] = {'C', 'O', 'L', 'L', 'A', 'B', 'C', 'K'};
constexpr size_t kHashSize = 32;
constexpr size_t kHeaderSize = sizeof kMagic + 4 + 8 + kHashSize;
constexpr const char* kKind = "collab checkpoint";

std::string sha256(std::string_view bytes) {
  Digest sha(DigestKind::kSha256);
  sha.update(bytes);
  return sha.finish();
}

// Fills the first kHeaderSize bytes of `file`: the magic, `version`, and the length and SHA-256
// of everything after the header (the payload).
void fill_header(std::string& file, uint32_t version) {
  std::string header(kMagic, sizeof kMagic);
  put_le<uint32_t>(header, version);
  put_le<uint64_t>(header, file.size() - kHeaderSize);
  header += sha256(std::string_view(file).substr(kHeaderSize));
  file.replace(0, kHeaderSize, header);
}

// The payload of a checkpoint file, after checking its header field by field so that each kind
// of damage gets its own message.
std::string_view checked_payload(std::string_view bytes, const std::string& path) {
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
  if (sha256(payload) != bytes.substr(sizeof kMagic + 12, kHashSize)) {
    throw Error(path + ": corrupted checkpoint (the SHA-256 of its contents does not match)");
  }
  return payload;
}

// A vocabulary as string tables: "<key>_raws", "<key>_titles" and, only where there are any (so
// id-keyed checkpoints keep their layout), "<key>_aliases" and "<key>_alias_rows".
void write_vocabulary(TensorArchiveWriter& w, const std::string& key, const Vocabulary& v) {
  w.strings(key + "_raws", v.raws());
  std::vector<std::string> titles;
  if (v.has_titles()) {
    for (int64_t i = 0; i < v.size(); ++i) titles.push_back(v.title(i));
  }
  w.strings(key + "_titles", titles);
  if (v.aliases().empty()) return;
  std::vector<std::string> names;
  std::vector<int64_t> rows;
  for (const auto& [alias, row] : v.aliases()) {
    names.push_back(alias);
    rows.push_back(row);
  }
  w.strings(key + "_aliases", names);
  w.tensor(key + "_alias_rows",
           torch::from_blob(rows.data(), {static_cast<int64_t>(rows.size())}, torch::kLong).clone());
}

Vocabulary read_vocabulary(const TensorArchiveReader& r, const std::string& key) {
  Vocabulary v;
  const std::vector<std::string> raws = r.strings(key + "_raws");
  for (const auto& raw : raws) v.add(raw);
  if (v.size() != static_cast<int64_t>(raws.size())) r.fail("\"" + key + "\" has repeated raw ids");
  const std::vector<std::string> titles = r.strings(key + "_titles");
  if (!titles.empty() && static_cast<int64_t>(titles.size()) != v.size()) {
    r.fail("\"" + key + "\" has " + std::to_string(titles.size()) + " titles for " +
           std::to_string(v.size()) + " ids");
  }
  for (size_t i = 0; i < titles.size(); ++i) v.set_title(static_cast<int64_t>(i), titles[i]);
  if (!r.has_tensor(key + "_aliases_bytes")) return v;
  const std::vector<std::string> aliases = r.strings(key + "_aliases");
  const torch::Tensor rows = r.vector_of(key + "_alias_rows", torch::kLong);
  if (rows.numel() != static_cast<int64_t>(aliases.size())) {
    r.fail("\"" + key + "\" has " + std::to_string(aliases.size()) + " aliases for " +
           std::to_string(rows.numel()) + " rows");
  }
  for (size_t k = 0; k < aliases.size(); ++k) {
    try {
      v.add_alias(aliases[k], rows.data_ptr<int64_t>()[k]);
    } catch (const Error& e) {
      r.fail("\"" + key + "\" alias: " + std::string(e.what()));
    }
  }
  return v;
}

// The trainer's state from a checkpoint's manifest and tensors.
TrainerState read_trainer_state(const TensorArchiveReader& r) {
  TrainerState s;
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
  // Checkpoints of the dense path, and of collab before sparse runs could resume, have none.
  if (r.has_field("sparse")) {
    const std::vector<std::string> sparse = r.names("sparse");
    for (size_t i = 0; i < sparse.size(); ++i) {
      s.sparse.emplace_back(sparse[i], r.tensor("sparse_" + std::to_string(i)));
    }
  }
  return s;
}

}  // namespace

std::string data_fingerprint(const Dataset& data) {
  Digest sha(DigestKind::kSha256);
  sha.update(std::string_view("collab data fingerprint v1"));
  sha.update_value(static_cast<int64_t>(data.users.size()));
  sha.update_value(static_cast<int64_t>(data.items.size()));
  for (const Ratings* r : {&data.train, &data.valid}) {
    // Indices hashed as the int64 and ratings as the floats they were before their storage
    // shrank, so that checkpoints written then still match their data.
    sha.update_as<int64_t>(r->users);
    sha.update_as<int64_t>(r->items);
    sha.update_as<float>(r->ratings);
  }
  return sha.finish_hex();
}

std::string frame_checkpoint(std::string_view payload, uint32_t version) {
  std::string file(kHeaderSize, '\0');
  file += payload;
  fill_header(file, version);
  return file;
}

std::string encode_checkpoint(const Checkpoint& c) {
  const TrainerState& s = c.state;
  TensorArchiveWriter w;
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
  json sparse = json::array();
  for (size_t i = 0; i < s.sparse.size(); ++i) {
    sparse.push_back(s.sparse[i].first);
    w.tensor("sparse_" + std::to_string(i), s.sparse[i].second);
  }
  write_vocabulary(w, "users", c.users);
  write_vocabulary(w, "items", c.items);
  json manifest = {{"config", c.config},
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
  // Written only when present, so that a dense checkpoint without a run identity encodes to the
  // bytes it always did (tests/test_tensor_archive.cpp).
  if (!c.run_id.empty()) manifest["run_id"] = c.run_id;
  if (!s.sparse.empty()) manifest["sparse"] = sparse;
  if (!c.item_feature_names.empty()) manifest["item_feature_names"] = c.item_feature_names;
  std::string file = w.file(manifest, kHeaderSize);
  fill_header(file, c.format_version);
  return file;
}

Checkpoint decode_checkpoint(std::string_view bytes, const std::string& path) {
  const TensorArchiveReader r(checked_payload(bytes, path), kHeaderSize, path, kKind);
  Checkpoint c;
  c.format_version = kCheckpointFormatVersion;  // checked_payload accepts no other
  c.config = r.object("config");
  c.metrics = r.array("metrics");
  c.data_fingerprint = r.string("data_fingerprint");
  // Checkpoints of collab before run identities have none: they belong to whichever run dir
  // holds them.
  if (r.has_field("run_id")) c.run_id = r.string("run_id");
  if (r.has_field("item_feature_names")) {
    for (const auto& name : r.array("item_feature_names")) {
      if (!name.is_string()) throw Error(path + ": item_feature_names holds a non-string");
      c.item_feature_names.push_back(name.get<std::string>());
    }
  }
  c.state = read_trainer_state(r);
  c.users = read_vocabulary(r, "users");
  c.items = read_vocabulary(r, "items");
  return c;
}

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  write_file_atomically(path, encode_checkpoint(checkpoint));
}

Checkpoint read_checkpoint(const std::string& path) {
  return decode_checkpoint(read_file(path), path);
}

}  // namespace collab
