// The refusals that keep `collab resume` from continuing something other than the run it was
// asked to: another model or batch size (checked before the data is read) and other data.
#pragma once

#include <string>

#include "collab/data/dataset.h"
#include "collab/train/run.h"

namespace collab {

// Another architecture or shape of model, another batch size (the checkpoint's position within
// an epoch counts batches of its size), or a run of the sparse path, which keeps no state to
// continue from. Throws collab::Error naming the checkpoint and the key.
void check_same_run(const RunConfig& run, const ResumePoint& resume);

// Other vocabularies or ratings than the checkpoint was trained on (`fingerprint` is
// data_fingerprint(data)). Throws collab::Error naming the checkpoint and the first difference.
void check_same_data(const Dataset& data, const std::string& fingerprint,
                     const ResumePoint& resume);

}  // namespace collab
