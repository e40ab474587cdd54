// Checkpoint files: every field survives a write and a read bit for bit; a truncated, corrupted,
// foreign or newer-format file is refused with a one-line error naming it; the atomic writer
// leaves the previous file intact when a write fails half-way.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"
#include "test_support.h"

namespace test_checkpoint {

namespace fs = std::filesystem;
using collab::Checkpoint;
using collab::json;
using collab::TrainerState;
using namespace collab::test;  // the shared helpers: test_support.h

namespace {

// 300 ratings of 25 users and 40 items; raw ids include bytes that are not UTF-8.
collab::Dataset synthetic_dataset() {
  collab::Dataset d;
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    const int64_t u =
        d.users.add(i % 25 == 3 ? std::string("u\xff") : "u" + std::to_string(i % 25));
    const int64_t it = d.items.add("i" + std::to_string(rng() % 40));
    (i % 5 ? d.train : d.valid).push_back(u, it, static_cast<float>(1 + rng() % 5), 0);
  }
  for (int64_t i = 0; i < d.items.size(); ++i)
    d.items.set_title(i, "Film \xc3\xa9 " + std::to_string(i));
  return d;
}

collab::CollabModel make_model(const collab::Dataset& d, const json& section) {
  torch::manual_seed(1);
  collab::ConfigReader reader(section, "model", nullptr);
  return collab::build_model(reader, {d.users.size(), d.items.size()});
}

TrainerState clone(const TrainerState& s) {
  TrainerState c = s;
  for (auto& [name, t] : c.parameters) t = t.clone();
  for (auto& [name, t] : c.buffers) t = t.clone();
  for (auto& e : c.optimizer) {
    e.exp_avg = e.exp_avg.clone();
    e.exp_avg_sq = e.exp_avg_sq.clone();
  }
  c.cpu_generator = c.cpu_generator.clone();
  c.order_generator = c.order_generator.clone();
  return c;
}

void expect_same_vocabulary(const collab::Vocabulary& a, const collab::Vocabulary& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.has_titles(), b.has_titles());
  for (int64_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a.raw(i), b.raw(i));
    EXPECT_EQ(a.title(i), b.title(i));
    EXPECT_EQ(b.find(a.raw(i)), std::optional<int64_t>(i));
  }
}

// A checkpoint of a CollabNN (batchnorm buffers, dropout) taken mid-epoch, cloned so later
// training cannot change it.
Checkpoint mid_epoch_checkpoint() {
  const collab::Dataset data = synthetic_dataset();
  collab::CollabModel model = make_model(data, {{"arch", "CollabNN"},
                                                {"layers", {8}},
                                                {"batchnorm", true},
                                                {"dropout", {0.2}},
                                                {"y_range", {0, 5.5}}});
  collab::TrainConfig config;
  config.epochs = 2;
  config.batch_size = 16;
  collab::Trainer trainer(model, data, config, torch::kCPU);
  Checkpoint c;
  collab::FitHooks hooks;
  hooks.checkpoint.every_steps = 20;  // 15 batches an epoch: step 20 is batch 5 of epoch 1
  hooks.on_checkpoint = [&](const TrainerState& s) {
    if (c.state.global_step == 0) c.state = clone(s);
  };
  hooks.on_epoch = [&](const collab::EpochMetrics& m) {
    c.metrics.push_back({{"epoch", m.epoch}, {"valid_mse", m.valid.mse}});
  };
  trainer.fit(hooks);
  c.config = {{"model", {{"arch", "CollabNN"}}}, {"train", {{"batch_size", 16}}}};
  c.users = data.users;
  c.items = data.items;
  c.data_fingerprint = collab::data_fingerprint(data);
  return c;
}

const Checkpoint& sample() {
  static const Checkpoint c = mid_epoch_checkpoint();
  return c;
}

}  // namespace

TEST(Checkpoint, RoundTripsEveryField) {
  Checkpoint c = sample();
  ASSERT_EQ(c.state.global_step, 20);
  ASSERT_EQ(c.state.epoch, 1);
  ASSERT_EQ(c.state.batch, 5);
  c.state.cuda_generators = {torch::arange(16, torch::kUInt8)};  // stands in for a CUDA run's
  const std::string path = collab::test::temp_dir() + "/a.ckpt";
  collab::write_checkpoint(path, c);
  const Checkpoint r = collab::read_checkpoint(path);

  EXPECT_EQ(r.format_version, collab::kCheckpointFormatVersion);
  EXPECT_EQ(r.config, c.config);
  EXPECT_EQ(r.metrics, c.metrics);
  EXPECT_EQ(r.data_fingerprint, c.data_fingerprint);
  EXPECT_EQ(r.data_fingerprint.size(), 64u);
  expect_same_vocabulary(c.users, r.users);
  expect_same_vocabulary(c.items, r.items);
  EXPECT_FALSE(r.users.has_titles());
  EXPECT_TRUE(r.items.has_titles());

  const TrainerState &a = c.state, &b = r.state;
  EXPECT_EQ(a.global_step, b.global_step);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.batch, b.batch);
  EXPECT_EQ(a.epoch_loss_sum, b.epoch_loss_sum);  // exactly: doubles are stored in binary
  EXPECT_EQ(a.smoothed_loss_average, b.smoothed_loss_average);
  EXPECT_EQ(a.smoothed_loss_count, b.smoothed_loss_count);
  EXPECT_GT(a.parameters.size(), 4u);
  expect_same_tensors(a.parameters, b.parameters);
  ASSERT_FALSE(a.buffers.empty());  // BatchNorm's running stats and num_batches_tracked
  expect_same_tensors(a.buffers, b.buffers);
  ASSERT_EQ(a.optimizer.size(), a.parameters.size());
  ASSERT_EQ(a.optimizer.size(), b.optimizer.size());
  for (size_t k = 0; k < a.optimizer.size(); ++k) {
    EXPECT_EQ(a.optimizer[k].name, b.optimizer[k].name);
    EXPECT_EQ(a.optimizer[k].step, b.optimizer[k].step);
    EXPECT_EQ(a.optimizer[k].step, 20);
    EXPECT_TRUE(torch::equal(a.optimizer[k].exp_avg, b.optimizer[k].exp_avg));
    EXPECT_TRUE(torch::equal(a.optimizer[k].exp_avg_sq, b.optimizer[k].exp_avg_sq));
  }
  EXPECT_TRUE(torch::equal(a.cpu_generator, b.cpu_generator));
  EXPECT_TRUE(torch::equal(a.order_generator, b.order_generator));
  ASSERT_EQ(b.cuda_generators.size(), 1u);
  EXPECT_TRUE(torch::equal(a.cuda_generators[0], b.cuda_generators[0]));
}

TEST(Checkpoint, RoundTripsVocabularyAliases) {
  // A title-keyed item vocabulary (data.item_key "title") keeps its item ids as aliases.
  Checkpoint c = sample();
  c.items.add_alias("id-0", 0);
  c.items.add_alias("id-0b", 0);
  c.items.add_alias("id-5", 5);
  const std::string path = collab::test::temp_dir() + "/aliases.ckpt";
  collab::write_checkpoint(path, c);
  const Checkpoint r = collab::read_checkpoint(path);
  expect_same_vocabulary(c.items, r.items);
  EXPECT_EQ(r.items.aliases(), c.items.aliases());
  EXPECT_EQ(r.items.find("id-0b"), 0);
  EXPECT_EQ(r.items.find("id-5"), 5);
  EXPECT_TRUE(r.users.aliases().empty());
}

TEST(Checkpoint, FingerprintFollowsTheRatings) {
  collab::Dataset d = synthetic_dataset();
  const std::string before = collab::data_fingerprint(d);
  EXPECT_EQ(before, collab::data_fingerprint(synthetic_dataset()));
  d.valid.ratings.set(3, d.valid.ratings[3] + 1);
  EXPECT_NE(before, collab::data_fingerprint(d));
}

TEST(Checkpoint, DamagedFilesAreRefusedNamingTheFile) {
  const std::string dir = collab::test::temp_dir();
  const std::string bytes = collab::encode_checkpoint(sample());
  const auto write = [&](const std::string& name, const std::string& content) {
    const std::string path = dir + "/" + name;
    collab::test::write_text(path, content);
    return path;
  };
  const auto read = [](const std::string& path) {
    return [path] { collab::read_checkpoint(path); };
  };

  std::string p = write("half.ckpt", bytes.substr(0, bytes.size() / 2));
  expect_one_line_error_thrown(read(p), {p, "truncated"});
  p = write("short.ckpt", bytes.substr(0, 20));
  expect_one_line_error_thrown(read(p), {p, "truncated"});
  p = write("short-magic.ckpt", bytes.substr(0, 5));
  expect_one_line_error_thrown(read(p), {p, "truncated"});

  for (const size_t at : {bytes.size() / 2, bytes.size() - 1, size_t{30}}) {  // payload, hash
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    p = write("flipped-" + std::to_string(at) + ".ckpt", flipped);
    expect_one_line_error_thrown(read(p), {p, "corrupted"});
  }
  p = write("longer.ckpt", bytes + "x");
  expect_one_line_error_thrown(read(p), {p, "corrupted"});

  std::string random(4096, '\0');
  std::mt19937 rng(3);
  for (auto& ch : random) ch = static_cast<char>(rng());
  p = write("random.ckpt", random);
  expect_one_line_error_thrown(read(p), {p, "not a collab checkpoint"});
  p = write("empty.ckpt", "");
  expect_one_line_error_thrown(read(p), {p, "not a collab checkpoint"});
  p = write("text.ckpt", "{\"model\": 1}\n");
  expect_one_line_error_thrown(read(p), {p, "not a collab checkpoint"});

  std::string newer = bytes;
  newer[8] = 3;  // the version follows the 8-byte magic
  p = write("v3.ckpt", newer);
  expect_one_line_error_thrown(read(p), {p, "format version 3", "reads version 2", "newer collab"});

  expect_one_line_error_thrown(read(dir + "/missing.ckpt"), {dir + "/missing.ckpt", "cannot open"});
}

// Version 1 checkpoints were LibTorch archives, read by LibTorch's unpickler; this collab no
// longer runs it on files. fuzz_checkpoint's findings in that format (an exception LibTorch let
// escape; a storage claiming more bytes than its record held, which read past the buffer) are
// now refused at the header, with what to do.
TEST(Checkpoint, FormatVersion1IsRefusedWithWhatToDo) {
  for (const char* name : {"unpickler-out-of-range.bin", "tensor-storage-beyond-its-record.bin"}) {
    const std::string path =
        std::string(COLLAB_SOURCE_DIR) + "/fuzz/regressions/checkpoint/" + name;
    expect_one_line_error_thrown(
        [&] { collab::read_checkpoint(path); },
        {path + ": checkpoint format version 1, but this collab reads version 2",
         "written by an older collab", "resume it with that collab, or train again"});
  }
  // The third, a version 1 payload alone, is what the fuzzer gives a version 2 header: its
  // zip signature read as a manifest length claims far more bytes than there are.
  const std::string payload =
      collab::test::read_text(std::string(COLLAB_SOURCE_DIR) +
                              "/fuzz/regressions/checkpoint/unpickler-claims-1gb-string.bin");
  expect_one_line_error_thrown(
      [&] { collab::decode_checkpoint(collab::frame_checkpoint(payload), "p.ckpt"); },
      {"p.ckpt: not a valid collab checkpoint (its manifest claims "});
}

namespace {

constexpr size_t kHeaderSize = 52;  // "COLLABCK", version, length, SHA-256

size_t aligned64(size_t n) {
  return (n + 63) / 64 * 64;
}

// A version 2 payload taken apart: its JSON manifest and its tensor data.
struct Payload {
  json manifest;
  std::string data;
};

Payload take_apart(const std::string& file) {
  const std::string payload = file.substr(kHeaderSize);
  uint64_t length = 0;
  for (int k = 0; k < 8; ++k) length |= uint64_t{static_cast<unsigned char>(payload[k])} << (8 * k);
  Payload p;
  p.manifest = json::parse(payload.substr(8, length));
  p.data = payload.substr(aligned64(kHeaderSize + 8 + length) - kHeaderSize);
  return p;
}

// A file of `manifest_text` and `data` laid out as encode_checkpoint does, with a correct
// header: damage behind a right checksum, as a crafted or miswritten file would have.
std::string put_together(const std::string& manifest_text, const std::string& data) {
  std::string payload;
  for (int k = 0; k < 8; ++k)
    payload += static_cast<char>((manifest_text.size() >> (8 * k)) & 0xff);
  payload += manifest_text;
  payload.resize(aligned64(kHeaderSize + payload.size()) - kHeaderSize, '\0');
  return collab::frame_checkpoint(payload + data);
}

json& record(json& manifest, const std::string& name) {
  for (json& r : manifest["tensors"]) {
    if (r["name"] == name) return r;
  }
  throw std::runtime_error("no record " + name);
}

}  // namespace

TEST(Checkpoint, TakenApartAndPutTogetherItReadsTheSame) {
  // The helpers below are right: unchanged, a taken-apart file is put together byte for byte.
  const std::string bytes = collab::encode_checkpoint(sample());
  const Payload p = take_apart(bytes);
  EXPECT_EQ(put_together(p.manifest.dump(), p.data), bytes);
  for (const json& r : p.manifest["tensors"]) {
    EXPECT_EQ(r["offset"].get<size_t>() % 64, 0u) << r["name"];
  }
}

// Each way a payload behind a correct checksum can be wrong gets its own message naming the file,
// and no memory is touched first (the fuzzer runs these paths under ASan).
TEST(Checkpoint, DamagedPayloadsAreRefusedSayingWhatIsWrong) {
  const Payload good = take_apart(collab::encode_checkpoint(sample()));
  const auto refused = [&](const std::string& file, const std::string& what) {
    SCOPED_TRACE(what);
    expect_one_line_error_thrown([&] { collab::decode_checkpoint(file, "bad.ckpt"); },
                                 {"bad.ckpt: not a valid collab checkpoint (" + what});
  };
  const auto edited = [&](const std::function<void(json&)>& edit) {
    json m = good.manifest;
    edit(m);
    return put_together(m.dump(), good.data);
  };

  refused(put_together("{\"config\": {}, ", good.data), "its manifest is not valid JSON");
  refused(put_together("[1, 2]", good.data), "its manifest is not a JSON object");
  // A config nested a million levels deep would overflow the stack when copied.
  refused(put_together("{\"tensors\": [], \"config\": " + std::string(1000000, '[') +
                           std::string(1000000, ']') + "}",
                       good.data),
          "its manifest nests arrays and objects more than 64 levels deep");
  // Brackets inside strings do not count.
  refused(edited([](json& m) {
            m["data_fingerprint"] = std::string(100, '[');
            m.erase("epoch");
          }),
          "its manifest has no \"epoch\"");
  refused(collab::frame_checkpoint(std::string("\x10\0\0\0\0\0\0\x80{}", 10)),
          "its manifest claims 9223372036854775824 bytes, the payload holds 2");
  refused(collab::frame_checkpoint("abc"), "its payload is 3 bytes, too short for a manifest");
  // The manifest's end, rounded up to 64 bytes, is past the end of the file.
  refused(collab::frame_checkpoint(std::string("\x02\0\0\0\0\0\0\0{}", 10)),
          "it ends before its tensor data starts");

  refused(edited([](json& m) { m.erase("epoch"); }), "its manifest has no \"epoch\"");
  refused(edited([](json& m) { m["epoch"] = "one"; }),
          "manifest \"epoch\" is not a 64-bit integer");
  refused(edited([](json& m) { m["global_step"] = 18446744073709551615u; }),
          "manifest \"global_step\" is not a 64-bit integer");
  refused(edited([](json& m) { m["epoch_loss_sum"] = "lots"; }),
          "manifest \"epoch_loss_sum\" is not a number");
  refused(edited([](json& m) { m["config"] = json::array(); }),
          "manifest \"config\" is not an object");
  refused(edited([](json& m) { m["parameters"][0] = 7; }),
          "manifest \"parameters\" holds a non-string");
  refused(edited([](json& m) { m["optimizer"][1].erase("step"); }),
          "manifest \"optimizer\" entry 1 is not {\"name\": ..., \"step\": ...}");
  refused(edited([](json& m) { m["tensors"] = json::object(); }),
          "manifest \"tensors\" is not an array");

  refused(edited([](json& m) { record(m, "parameter_0")["dtype"] = "int8"; }),
          "tensor \"parameter_0\" has dtype \"int8\" (checkpoints hold float32, float64, int64 "
          "or uint8)");
  refused(edited([](json& m) { record(m, "parameter_0")["dtype"] = 4; }),
          "tensor \"parameter_0\" has dtype of JSON type number");
  refused(edited([](json& m) { record(m, "users_raws_ends")["nbytes"] = 4; }),
          "tensor \"users_raws_ends\" is [25] int64, 200 bytes, but its record says 4");
  refused(edited([](json& m) {
            record(m, "users_raws_ends")["shape"] = json::array({25, 2});
          }),
          "tensor \"users_raws_ends\" is [25,2] int64, 400 bytes, but its record says 200");
  refused(edited([](json& m) { record(m, "users_raws_ends")["shape"] = json::array({-8}); }),
          "tensor \"users_raws_ends\" has a dimension that is not a non-negative integer");
  refused(edited([](json& m) {
            record(m, "users_raws_ends")["shape"] = json::array({1, 1, 1, 1, 1, 1, 1, 1, 8});
          }),
          "tensor \"users_raws_ends\" has 9 dimensions (at most 8)");
  const size_t end = good.data.size();
  refused(edited([&](json& m) { record(m, "order_generator")["offset"] = end; }),
          "tensor \"order_generator\" lies past the end of the tensor data (bytes " +
              std::to_string(end) + " + ");
  // An offset so large that offset + nbytes wraps around 2^64 must not pass the check.
  refused(edited([](json& m) { record(m, "order_generator")["offset"] = 18446744073709551615u; }),
          "tensor \"order_generator\" lies past the end of the tensor data");
  refused(edited([](json& m) { record(m, "order_generator")["offset"] = -64; }),
          "tensor \"order_generator\": \"offset\" and \"nbytes\" must be non-negative integers");
  // 2^62 float32 elements are 2^64 bytes: the byte count overflows; an empty tensor whose other
  // dimensions multiply past 2^63 overflows LibTorch's strides although it holds nothing.
  refused(edited([](json& m) {
            record(m, "parameter_0")["shape"] = json::array({4611686018427387904u});
          }),
          "tensor \"parameter_0\" has a shape too large to address");
  refused(edited([](json& m) {
            record(m, "parameter_0")["shape"] = json::array({0, 4294967296u, 4294967296u});
            record(m, "parameter_0")["nbytes"] = 0;
          }),
          "tensor \"parameter_0\" has a shape too large to address");
  refused(edited([](json& m) { record(m, "order_generator")["name"] = "cpu_generator"; }),
          "two tensor records are named \"cpu_generator\"");
  refused(edited([](json& m) { record(m, "order_generator")["name"] = "line\nbreak"; }),
          "no tensor \"order_generator\"");
  refused(edited([](json& m) { record(m, "order_generator").erase("shape"); }), "tensor record ");
  refused(edited([](json& m) { m["cuda_generators"] = 1; }), "no tensor \"cuda_generator_0\"");
  refused(edited([](json& m) {
            record(m, "order_generator")["dtype"] = "int64";
            record(m, "order_generator")["shape"] =
                json::array({record(m, "order_generator")["nbytes"].get<int64_t>() / 8});
          }),
          "tensor \"order_generator\" is not a vector of Byte");
  // String tables: an end offset before the previous one, or past the bytes.
  refused(edited([](json& m) {
            record(m, "users_raws_ends")["shape"] = json::array({30});
            record(m, "users_raws_ends")["nbytes"] = 240;
            record(m, "users_raws_ends")["offset"] = 0;
          }),
          "\"users_raws\" has a bad offset");
}

// The loss sums survive bit for bit, the infinities JSON numbers cannot hold included; NaN comes
// back as NaN (the trainer never checkpoints one: a NaN loss stops the run first). Denormals are
// left out: the trainer turns on flush-to-zero (this process too, through sample()), under which
// reading or printing one gives 0, and a loss sum is never that small.
TEST(Checkpoint, LossSumsRoundTripBitForBit) {
  Checkpoint c = sample();
  for (const double x :
       {std::numeric_limits<double>::infinity(), -0.0, 0.1 + 0.2, 2.2250738585072014e-308,
        1.7976931348623157e308, std::numeric_limits<double>::quiet_NaN()}) {
    c.state.epoch_loss_sum = x;
    c.state.smoothed_loss_average = -x;
    const Checkpoint r = collab::decode_checkpoint(collab::encode_checkpoint(c), "x.ckpt");
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(r.state.epoch_loss_sum));
      EXPECT_TRUE(std::isnan(r.state.smoothed_loss_average));
      continue;
    }
    const double minus_x = -x;
    EXPECT_EQ(std::memcmp(&r.state.epoch_loss_sum, &x, sizeof x), 0) << x;
    EXPECT_EQ(std::memcmp(&r.state.smoothed_loss_average, &minus_x, sizeof x), 0) << x;
  }
}

TEST(Checkpoint, TensorsOfOtherTypesAreNotWritten) {
  Checkpoint c = sample();
  c.state.buffers.emplace_back("counts", torch::zeros({3}, torch::kInt));
  expect_one_line_error_thrown([&] { collab::encode_checkpoint(c); },
                               {"cannot checkpoint tensor \"buffer_", "of type Int",
                                "checkpoints hold float32, float64, int64 or uint8"});
}

// A write that fails half-way (here: the file-size limit, as a full disk would) leaves the old
// file as it was and no temporary file behind, and names the path and the reason. Done in a
// child process, as the limit applies to the whole process (root ignores folder permissions, so
// a read-only folder would not fail).
TEST(Checkpoint, FailedWriteKeepsThePreviousFile) {
  const std::string dir = collab::test::temp_dir();
  const std::string path = dir + "/ckpt.ckpt";
  collab::write_checkpoint(path, sample());
  const std::string old_bytes = collab::test::read_text(path);
  const std::string new_bytes(old_bytes.size() + 100000, 'x');

  const std::string error = collab::test::error_past_file_size_limit(
      [&] { collab::write_file_atomically(path, new_bytes); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find(std::strerror(EFBIG)), std::string::npos) << error;

  EXPECT_EQ(collab::test::read_text(path), old_bytes);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"ckpt.ckpt"});
  EXPECT_EQ(collab::read_checkpoint(path).state.global_step, 20);
}

TEST(Checkpoint, AtomicWriteReplacesTheFile) {
  const std::string dir = collab::test::temp_dir();
  const std::string path = dir + "/f";
  collab::write_file_atomically(path, "one");
  collab::write_file_atomically(path, "two");
  EXPECT_EQ(collab::test::read_text(path), "two");
  expect_one_line_error_thrown(
      [&] { collab::write_file_atomically(dir + "/no/such/folder/f", "x"); },
      {dir + "/no/such/folder/f"});
}

}  // namespace test_checkpoint
