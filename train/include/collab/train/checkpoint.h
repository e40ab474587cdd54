// Checkpoints: one self-describing file holding everything needed to resume a run exactly or to
// use its model without the run's files: the resolved config, the trainer's full state (model,
// optimizer, schedule position, every generator), the vocabularies, a fingerprint of the data
// and the metrics history.
//
// File layout (integers little-endian):
//   "COLLABCK" | uint32 format version | uint64 payload length | SHA-256 of the payload | payload
// The payload is a LibTorch archive (torch::serialize::OutputArchive). The header lets a reader
// tell a truncated or corrupted file, a file of another format version and a file that is no
// checkpoint at all apart, each with its own one-line error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "collab/common/config_reader.h"
#include "collab/data/dataset.h"
#include "collab/data/vocabulary.h"
#include "collab/train/trainer.h"

namespace collab {

constexpr uint32_t kCheckpointFormatVersion = 1;

struct Checkpoint {
  uint32_t format_version = kCheckpointFormatVersion;
  json config;  // the run's resolved config (data, model, train, checkpoint sections)
  TrainerState state;
  Vocabulary users;
  Vocabulary items;
  std::string data_fingerprint;  // data_fingerprint() of the data it was trained on
  json metrics = json::array();  // one object per completed epoch, as in metrics.jsonl
};

// SHA-256 (hex) of the train and validation ratings (user and item indices, ratings) and the
// vocabulary sizes: it changes when any data file that matters to training changes.
std::string data_fingerprint(const Dataset& data);

// The file's bytes, header included. Tensors on other devices are copied to the CPU.
std::string encode_checkpoint(const Checkpoint& checkpoint);
// Parses bytes from encode_checkpoint; `path` only names the file in error messages. Tensors
// come back on the CPU.
Checkpoint decode_checkpoint(std::string_view bytes, const std::string& path);

// encode_checkpoint written with write_file_atomically.
void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Reads and verifies `path`. Throws collab::Error naming it when it is missing, truncated,
// corrupted, of another format version or not a checkpoint.
Checkpoint read_checkpoint(const std::string& path);

// Replaces `path` with `bytes` so that a crash at any moment leaves either the old file or the
// complete new one: a temporary file in the same folder, written, fsync'ed, renamed over `path`,
// then the folder fsync'ed so the rename itself is durable. On failure (a full disk) the
// temporary file is removed and collab::Error names `path` and the system's reason.
void write_file_atomically(const std::string& path, std::string_view bytes);

// The suffix of write_file_atomically's temporary files ("<path><suffix><pid>"), so that leftovers
// of a killed process can be recognised and removed.
constexpr const char* kTempFileSuffix = ".tmp-";

}  // namespace collab
