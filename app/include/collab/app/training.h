// The one code path behind `collab train`, `collab train --resume` and `collab resume`: load the
// data, build the model, train (from a checkpoint when resuming) into a run directory, print
// fastai's per-epoch table, write metrics.jsonl and the checkpoints.
#pragma once

#include <optional>
#include <string>

#include "collab/app/run_config.h"
#include "collab/common/config_reader.h"
#include "collab/data/dataset.h"
#include "collab/models/collab_model.h"
#include "collab/train/checkpoint.h"

namespace collab {

struct ResumePoint {
  std::string path;  // the checkpoint file, for messages
  Checkpoint checkpoint;
};

// The checkpoint `latest` names in `run_dir`, read and verified.
ResumePoint latest_resume_point(const std::string& run_dir);

// Builds the `model` section's architecture for `data` (train and compare share it): the
// vocabularies' sizes and, when the data has an item catalogue, its items' features. Throws
// collab::Error when the architecture scores items by features but the data names no
// `data.items` file.
CollabModel build_model_for(ConfigReader& model, const Dataset& data);

// Trains as `run` says into `run_dir` ("" for runs/<arch>-<time>). With `resume`, first refuses
// (collab::Error saying why) a model section, train.batch_size or data that differ from the
// checkpoint's, then continues where it stopped: metrics.jsonl is rewritten from the
// checkpoint's history and later checkpoints of the interrupted run are deleted. Returns the exit
// code.
int run_training(const RunConfig& run, const std::string& run_dir, bool quiet,
                 const std::optional<ResumePoint>& resume);

}  // namespace collab
