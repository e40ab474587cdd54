// Checkpoint files: every field survives a write and a read bit for bit; a truncated, corrupted,
// foreign or newer-format file is refused with a one-line error naming it; the atomic writer
// leaves the previous file intact when a write fails half-way.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"
#include "test_support.h"

namespace fs = std::filesystem;
using collab::Checkpoint;
using collab::json;
using collab::TrainerState;

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

void expect_same_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& a,
                         const std::vector<std::pair<std::string, torch::Tensor>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].first, b[k].first);
    EXPECT_TRUE(torch::equal(a[k].second, b[k].second)) << a[k].first;
  }
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

// Expects `f` to throw collab::Error with a one-line message holding each of `parts`.
template <typename F>
void expect_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const collab::Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    for (const auto& p : parts)
      EXPECT_NE(what.find(p), std::string::npos) << p << " not in: " << what;
  }
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
  expect_error(read(p), {p, "truncated"});
  p = write("short.ckpt", bytes.substr(0, 20));
  expect_error(read(p), {p, "truncated"});
  p = write("short-magic.ckpt", bytes.substr(0, 5));
  expect_error(read(p), {p, "truncated"});

  for (const size_t at : {bytes.size() / 2, bytes.size() - 1, size_t{30}}) {  // payload, hash
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    p = write("flipped-" + std::to_string(at) + ".ckpt", flipped);
    expect_error(read(p), {p, "corrupted"});
  }
  p = write("longer.ckpt", bytes + "x");
  expect_error(read(p), {p, "corrupted"});

  std::string random(4096, '\0');
  std::mt19937 rng(3);
  for (auto& ch : random) ch = static_cast<char>(rng());
  p = write("random.ckpt", random);
  expect_error(read(p), {p, "not a collab checkpoint"});
  p = write("empty.ckpt", "");
  expect_error(read(p), {p, "not a collab checkpoint"});
  p = write("text.ckpt", "{\"model\": 1}\n");
  expect_error(read(p), {p, "not a collab checkpoint"});

  std::string newer = bytes;
  newer[8] = 2;  // the version follows the 8-byte magic
  p = write("v2.ckpt", newer);
  expect_error(read(p), {p, "format version 2", "reads version 1"});

  expect_error(read(dir + "/missing.ckpt"), {dir + "/missing.ckpt", "cannot open"});
}

// Found by fuzz_checkpoint: a damaged archive behind a correct header (checksum right, so the
// file was written damaged) made LibTorch's unpickler throw std::out_of_range ("Argument passed to
// at() was not in the map."), which escaped decode_checkpoint naming neither file nor cause.
TEST(Checkpoint, ArchiveLibTorchRejectsWithOtherExceptionsNamesTheFile) {
  const std::string path =
      std::string(COLLAB_SOURCE_DIR) + "/fuzz/regressions/checkpoint/unpickler-out-of-range.bin";
  expect_error([&] { collab::read_checkpoint(path); },
               {path + ": not a valid collab checkpoint (LibTorch cannot read it: ",
                "Argument passed to at() was not in the map."});
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

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG instead of killing
    const rlimit limit{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &limit);
    int code = 2;  // no error
    try {
      collab::write_file_atomically(path, new_bytes);
    } catch (const collab::Error& e) {
      const std::string what = e.what();
      code = what.find(path) != std::string::npos &&
                     what.find(std::strerror(EFBIG)) != std::string::npos
                 ? 0
                 : 3;
    }
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: no error; 3: the error did not name the path and EFBIG";

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
  expect_error([&] { collab::write_file_atomically(dir + "/no/such/folder/f", "x"); },
               {dir + "/no/such/folder/f"});
}
