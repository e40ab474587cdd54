// The checkpoints of a run directory: RUN_DIR/checkpoints/ckpt-<global step>.ckpt (the step
// zero-padded to 10 digits, so names sort by step) and RUN_DIR/checkpoints/latest, a one-line
// text file naming the newest checkpoint. Each file is replaced atomically and `latest` moves
// only once the checkpoint it names is complete on disk, so a crash at any moment leaves
// `latest` naming a whole checkpoint.
#pragma once

#include <cstdint>
#include <string>

#include "collab/train/checkpoint.h"

namespace collab {

std::string checkpoints_dir(const std::string& run_dir);
// "ckpt-0000000123.ckpt"
std::string checkpoint_file_name(int64_t global_step);

// True when the run dir holds a `latest` file or any checkpoint.
bool has_checkpoints(const std::string& run_dir);

// Writes `checkpoint` as ckpt-<step>.ckpt, points `latest` at it, then deletes the oldest
// checkpoints beyond the newest `keep_last` (0: keeps all; never the one `latest` names).
// Returns the checkpoint's path.
std::string save_checkpoint(const std::string& run_dir, const Checkpoint& checkpoint,
                            int64_t keep_last);

// RUN_DIR/checkpoints/best.ckpt: the checkpoint of the best epoch so far (checkpoint.best), an
// ordinary checkpoint file that every command taking a model reads; never pruned by keep_last.
std::string best_checkpoint_path(const std::string& run_dir);
// Writes `checkpoint` as the run's best (atomically, replacing the previous best); returns its
// path.
std::string save_best_checkpoint(const std::string& run_dir, const Checkpoint& checkpoint);

// The path of the checkpoint `latest` names (without `latest`, as after a crash right after the
// first checkpoint, the newest checkpoint); throws collab::Error naming the run dir when there is
// none.
std::string latest_checkpoint(const std::string& run_dir);

// Before a resume from step `global_step`: removes temporary files a killed process left behind
// and the checkpoints of steps after it (written by the continuation being abandoned, as
// metrics.jsonl drops that continuation's epochs), the best checkpoint too when it is one of them.
void discard_checkpoints_after(const std::string& run_dir, int64_t global_step);

}  // namespace collab
