// `collab resume RUN_DIR [--epochs N] [--device D] [--quiet]`: continues a run from its latest
// checkpoint with the config saved in it (data, model, schedule, checkpoint settings), through the
// same code path as `collab train`. --device moves a run between CPU and GPU: checkpoints hold
// CPU tensors, which the trainer copies onto whatever device the resumed run uses.
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/common/cli.h"
#include "collab/train/run_config.h"
#include "collab/app/training.h"

namespace collab {

int resume_command(int argc, char** argv) {
  cxxopts::Options options("collab resume", "Continue a run from its latest checkpoint.");
  options.add_options()(
      "epochs",
      "train this many epochs in all instead of the run's train.epochs; the one-cycle schedule is "
      "recomputed for the new total, so the result differs from an uninterrupted run",
      cxxopts::value<int64_t>())(
      "device",
      "train on this device instead of the run's train.device (\"cpu\", \"cuda\", \"cuda:N\", "
      "\"auto\"); the run continues, bit-identically only on the device it was saved from",
      cxxopts::value<std::string>())("q,quiet", "print only the final metrics");
  const CommandLine line = parse_command_line(
      options, argc, argv,
      {"resume", "collab resume RUN_DIR [--epochs N] [--device D]", "RUN_DIR", 1, 1, ""});
  if (line.help) return 0;
  const cxxopts::ParseResult& args = line.options;
  const std::string run_dir = line.positionals[0];
  std::optional<ResumePoint> resume = latest_resume_point(run_dir);

  std::vector<std::string> overrides;
  if (args.count("epochs")) {
    const int64_t epochs = args["epochs"].as<int64_t>();
    const TrainerState& s = resume->checkpoint.state;
    const int64_t at_least = s.epoch + (s.batch > 0 ? 1 : 0);
    if (epochs < 1 || epochs < at_least) {
      throw std::invalid_argument("--epochs " + std::to_string(epochs) + ": the checkpoint " +
                                  resume->path + " is already at epoch " + std::to_string(s.epoch) +
                                  ", batch " + std::to_string(s.batch) + " (need at least " +
                                  std::to_string(std::max<int64_t>(1, at_least)) + ")");
    }
    overrides.push_back("train.epochs=" + std::to_string(epochs));
  }
  if (args.count("device")) {
    // Through the override path, so the value is checked like train.device in a config.
    overrides.push_back("train.device=" + args["device"].as<std::string>());
  }
  const RunConfig run =
      run_config_from_json(resume->checkpoint.config, resume->path + " (its config)", overrides);
  return train_and_report(run, run_dir, args.count("quiet") > 0, std::move(resume));
}

}  // namespace collab
