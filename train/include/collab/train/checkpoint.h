// Checkpoints: one self-describing file holding everything needed to resume a run exactly or to
// use its model without the run's files: the resolved config, the trainer's full state (model,
// optimizer, schedule position, every generator), the vocabularies, a fingerprint of the data
// and the metrics history.
//
// File layout (integers little-endian):
//   "COLLABCK" | uint32 format version | uint64 payload length | SHA-256 of the payload | payload
// The header lets a reader tell a truncated or corrupted file, a file of another format version
// and a file that is no checkpoint at all apart, each with its own one-line error naming the file.
// Payload (version 2): a tensor archive (train/src/tensor_archive.h): uint64 manifest length |
// manifest: UTF-8 JSON (config, metrics, data fingerprint, the trainer's scalars,
// parameter/buffer/optimizer names, Adam step counts, and a table of tensor records {name, dtype,
// shape, offset, nbytes}) | zeros to a 64-byte boundary of the file | the tensors' raw
// little-endian bytes, each record 64-byte aligned. Vocabularies' raw ids and titles (arbitrary
// bytes) are a uint8 tensor and an int64 tensor of end offsets.
// We parse it ourselves, validating every field, dtype, shape and byte range before touching
// memory: unlike version 1 (a LibTorch archive), reading a checkpoint runs no unpickler.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "collab/common/config_reader.h"
// write_checkpoint's writer: its temporary files are the ones resume cleans up.
#include "collab/common/file_io.h"
#include "collab/data/dataset.h"
#include "collab/data/vocabulary.h"
#include "collab/train/trainer.h"

namespace collab {

constexpr uint32_t kCheckpointFormatVersion = 2;

struct Checkpoint {
  uint32_t format_version = kCheckpointFormatVersion;
  json config;  // the run's resolved config (data, model, train, checkpoint sections)
  TrainerState state;
  Vocabulary users;
  Vocabulary items;
  std::string data_fingerprint;  // data_fingerprint() of the data it was trained on
  json metrics = json::array();  // one object per completed epoch, as in metrics.jsonl
  std::string run_id;  // the run it belongs to (run_dir.h); "" in checkpoints of older collab
  // The names of the item-feature columns (data/item_features.h: ItemFeatureSchema::names) of a
  // model that reads item features; empty for other models and in checkpoints of older collab
  // (whose models read MovieLens 100k's 28 columns).
  std::vector<std::string> item_feature_names;
};

// SHA-256 (hex) of the train and validation ratings (user and item indices, ratings) and the
// vocabulary sizes: it changes when any data file that matters to training changes.
std::string data_fingerprint(const Dataset& data);

// The file's bytes, header included. Tensors on other devices are copied to the CPU.
std::string encode_checkpoint(const Checkpoint& checkpoint);
// Parses bytes from encode_checkpoint; `path` only names the file in error messages. Tensors
// come back on the CPU. Any damage, even behind a correct checksum, is a collab::Error naming
// `path`.
Checkpoint decode_checkpoint(std::string_view bytes, const std::string& path);

// The header (magic, `version`, length, SHA-256) followed by `payload`: the framing
// encode_checkpoint puts around its payload, for tests and the fuzzer, which build files whose
// payload is damaged on purpose but whose checksum is right.
std::string frame_checkpoint(std::string_view payload, uint32_t version = kCheckpointFormatVersion);

// encode_checkpoint written with write_file_atomically (common/file_io.h).
void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Reads and verifies `path`. Throws collab::Error naming it when it is missing, truncated,
// corrupted, of another format version or not a checkpoint.
Checkpoint read_checkpoint(const std::string& path);

}  // namespace collab
