#include "resume_checks.h"

#include <tuple>

#include "collab/common/error.h"

namespace collab {

namespace {

// The first key at which two `model` sections differ, as "model.key is A here but B there".
std::string first_difference(const json& given, const json& saved) {
  for (const json* side : {&given, &saved}) {
    for (auto it = side->begin(); it != side->end(); ++it) {
      const json a = given.value(it.key(), json()), b = saved.value(it.key(), json());
      if (a != b) {
        return "model." + it.key() + " is " + describe(a) + " in the config but " + describe(b) +
               " in the checkpoint";
      }
    }
  }
  return "the model sections differ";
}

}  // namespace

void check_same_run(const RunConfig& run, const ResumePoint& resume) {
  const json& saved = resume.checkpoint.config;
  const json given_model = run.resolved.value("model", json::object());
  const json saved_model = saved.value("model", json::object());
  if (given_model != saved_model) {
    throw Error("cannot resume from " + resume.path + ": " +
                first_difference(given_model, saved_model) +
                " (a checkpoint continues only the model it was saved from)");
  }
  const json saved_optimizer =
      saved.value("train", json::object()).value("optimizer", json("adam"));
  if (saved_optimizer != json(run.train.optimizer)) {
    throw Error("cannot resume from " + resume.path + ": train.optimizer is \"" +
                run.train.optimizer + "\" in the config but " + describe(saved_optimizer) +
                " in the checkpoint (a run continues with the optimizer that saved its state)");
  }
  const json saved_batch = saved.value("train", json::object()).value("batch_size", json());
  if (saved_batch != json(run.train.batch_size)) {
    throw Error("cannot resume from " + resume.path + ": train.batch_size is " +
                std::to_string(run.train.batch_size) + " in the config but " +
                describe(saved_batch) + " in the checkpoint (its position counts batches)");
  }
}

void check_same_data(const Dataset& data, const std::string& fingerprint,
                     const ResumePoint& resume) {
  const Checkpoint& c = resume.checkpoint;
  const std::string prefix = "cannot resume from " + resume.path + ": ";
  if (c.users.size() != data.users.size() || c.items.size() != data.items.size()) {
    throw Error(prefix + "the data has " + std::to_string(data.users.size()) + " users and " +
                std::to_string(data.items.size()) + " items but the checkpoint's vocabularies " +
                std::to_string(c.users.size()) + " users and " + std::to_string(c.items.size()) +
                " items (the data files changed since the run started)");
  }
  if (c.data_fingerprint != fingerprint) {
    throw Error(prefix + "the ratings differ from those the run was trained on (data fingerprint " +
                fingerprint.substr(0, 12) + " vs the checkpoint's " +
                c.data_fingerprint.substr(0, 12) + "; the data files changed since it started)");
  }
  for (const auto& [vocab, saved, what] :
       {std::tuple{&data.users, &c.users, "user"}, std::tuple{&data.items, &c.items, "item"}}) {
    for (int64_t i = 0; i < vocab->size(); ++i) {
      if (vocab->raw(i) != saved->raw(i)) {
        throw Error(prefix + what + " " + std::to_string(i) + " is \"" + vocab->raw(i) +
                    "\" in the data but \"" + saved->raw(i) +
                    "\" in the checkpoint (the data files changed since the run started)");
      }
    }
  }
}

}  // namespace collab
