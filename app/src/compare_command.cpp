// `collab compare CONFIG [--set K=V]... [--run-dir DIR] [--quiet]`: trains every candidate of a
// compare config (app/compare.h) on every split of its evaluation protocol through the one
// training-run entry point (train/run.h), exactly as `collab train` would train it on that split,
// then prints a table of each metric's mean ± sd over the splits and writes the reports
// (compare_report.cpp) into the run dir.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/app/compare.h"
#include "collab/app/progress_bar.h"
#include "collab/common/cli.h"
#include "collab/common/error.h"
#include "collab/common/text.h"
#include "collab/train/checkpoint.h"
#include "collab/data/fetch.h"
#include "collab/train/run.h"
#include "collab/train/run_dir.h"

namespace collab {

// The helpers live in their own namespace: app/ compiles as unity batches, where another
// command's file-local helpers share this translation unit.
namespace compare_internal {
namespace {

// ---------------------------------------------------------------------------------------------
// Progress: a bar rewritten in place on a terminal, plain lines otherwise (CI logs, files).

class Progress {
 public:
  Progress(bool quiet, int64_t total_epochs)
      : quiet_(quiet), bar_(stdout, total_epochs), total_(total_epochs) {}

  void epoch(const std::string& candidate, const std::string& fold, const EpochMetrics& m,
             int64_t epochs) {
    ++done_;
    if (quiet_) return;
    char detail[256];
    std::snprintf(detail, sizeof detail, "%s %s epoch %lld/%lld train_loss %.4f valid_rmse %.4f",
                  candidate.c_str(), fold.c_str(), static_cast<long long>(m.epoch + 1),
                  static_cast<long long>(epochs), m.train_loss, m.valid.rmse);
    if (bar_.on_terminal()) {
      bar_.draw(done_, detail);
      return;
    }
    std::printf("%s (%s; %lld/%lld epochs, ETA %s)\n", detail, format_duration(m.seconds).c_str(),
                static_cast<long long>(done_), static_cast<long long>(total_),
                format_duration(bar_.eta(done_)).c_str());
    std::fflush(stdout);
  }

  // Top-N evaluation of a trained candidate: the bar's detail on a terminal, else a line at each
  // quarter (a 10k-item catalogue takes seconds per split even when fast).
  void ranking(const std::string& candidate, const std::string& fold, int64_t users,
               int64_t total) {
    if (quiet_ || total <= 0) return;
    const std::string detail = candidate + " " + fold + " ranking " + std::to_string(users) + "/" +
                               std::to_string(total) + " users";
    if (bar_.on_terminal()) {
      bar_.draw(done_, detail);
      return;
    }
    if (users * 4 / total != last_ranked_ * 4 / total || users == total) {
      std::printf("%s\n", detail.c_str());
      std::fflush(stdout);
    }
    last_ranked_ = users == total ? 0 : users;
  }

  // A line that stays (a split's or a candidate's result).
  void line(const std::string& text) {
    if (quiet_) return;
    bar_.clear();
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  }

  void finish() {
    if (!quiet_) bar_.clear();
    std::fflush(stdout);
  }

 private:
  bool quiet_;
  ProgressBar bar_;
  int64_t total_;
  int64_t done_ = 0;
  int64_t last_ranked_ = 0;  // users ranked at the last ranking() call of the current split
};

// Trains `candidate` on `data` through the same entry point as `collab train` (so a candidate
// with train.optimizer "sgd" takes the sparse path, as it would there), then scores it.
FoldResult run_fold(const CompareCandidate& candidate, const std::string& fold_name,
                    const Dataset& data, const RankingOptions& ranking, Progress& progress) {
  const RunConfig& run = candidate.run;
  RunOptions options;
  options.write_run_dir = false;
  options.hooks.on_epoch = [&](const EpochMetrics& m) {
    progress.epoch(candidate.name, fold_name, m, run.train.epochs);
  };
  const RunResult trained = run_training(run, data, options);
  FoldResult result;
  result.fold = fold_name;
  result.parameters = trained.parameters;
  result.epochs = trained.epochs;
  result.rating = *trained.final_metrics;
  result.ranking = evaluate_ranking(
      *trained.model, data.users.size(), data.items.size(), data.train, data.valid, ranking,
      /*chunk=*/0, trained.device, [&](int64_t users, int64_t total) {
        progress.ranking(candidate.name, fold_name, users, total);
      });
  return result;
}

// The protocol's splits, each read once and shared by every candidate.
struct Splits {
  std::vector<std::string> names;
  std::vector<Dataset> data;
};

Splits load_splits(const CompareConfig& config, bool quiet) {
  if (!config.data.dataset.empty()) ensure_dataset(config.data.dataset, config.data.dir, quiet);
  Splits splits;
  for (int64_t f = 0; f < fold_count(config.protocol); ++f) {
    splits.names.push_back(fold_name(config.protocol, f));
    splits.data.push_back(load_fold(config.data, config.protocol, f));
  }
  return splits;
}

void print_plan(const CompareConfig& config, const Splits& splits, const std::string& run_dir) {
  const Dataset& first = splits.data[0];
  std::cout << config.candidates.size() << " candidate(s) x " << splits.data.size()
            << " split(s): " << protocol_text(config) << "; " << first.users.size() << " users, "
            << first.items.size() << " items, " << first.train.size() << " train / "
            << first.valid.size() << " test ratings in " << splits.names[0] << "; run dir "
            << run_dir << "\n";
  std::cout.flush();
}

// Trains `candidate` on every split, printing a line per split.
CandidateResult run_candidate(const CompareCandidate& candidate, const Splits& splits,
                              const RankingOptions& ranking, Progress& progress) {
  CandidateResult r;
  r.name = candidate.name;
  r.arch = candidate.run.model.value("arch", std::string());
  for (size_t f = 0; f < splits.data.size(); ++f) {
    r.folds.push_back(run_fold(candidate, splits.names[f], splits.data[f], ranking, progress));
    const FoldResult& fr = r.folds.back();
    char text[256];
    std::snprintf(text, sizeof text, "%s %s: rmse %.4f mae %.4f ndcg@%lld %.4f",
                  candidate.name.c_str(), fr.fold.c_str(), fr.rating.rmse, fr.rating.mae,
                  static_cast<long long>(ranking.k), fr.ranking.ndcg);
    progress.line(text);
  }
  return r;
}

void write_reports(const CompareConfig& config, const std::vector<CandidateResult>& results,
                   const std::string& run_dir) {
  write_json_atomically(run_dir + "/compare.json", results_json(config, results));
  write_file_atomically(run_dir + "/compare.csv", results_csv(config, results));
  write_file_atomically(run_dir + "/compare.md", results_markdown(config, results));
  write_file_atomically(run_dir + "/learning_curves.svg", learning_curves_svg(config, results));
  write_file_atomically(run_dir + "/final_metrics.svg", final_metrics_svg(config, results));
}

// Trains every candidate on every split into `requested_run_dir` ("" for
// runs/compare-<time>), then prints the summary table.
int run_compare(const CompareConfig& config, const std::string& requested_run_dir, bool quiet) {
  const Splits splits = load_splits(config, quiet);
  const std::string run_dir = prepare_run_dir(requested_run_dir, "compare");
  const auto lock = RunDirLock::acquire(run_dir);  // one writer, for the whole compare
  write_json_atomically(run_dir + "/config.json", config.resolved);
  const int64_t n_folds = static_cast<int64_t>(splits.data.size());
  int64_t total_epochs = 0;
  for (const auto& c : config.candidates) total_epochs += c.run.train.epochs * n_folds;
  if (!quiet) print_plan(config, splits, run_dir);

  Progress progress(quiet, total_epochs);
  std::vector<CandidateResult> results;
  for (const auto& candidate : config.candidates) {
    results.push_back(run_candidate(candidate, splits, config.ranking, progress));
    // Rewritten after each candidate, so an interrupted comparison keeps what it finished.
    write_json_atomically(run_dir + "/compare.json", results_json(config, results));
  }
  progress.finish();
  write_reports(config, results, run_dir);
  std::cout << summary_table(results, config.ranking.k);
  if (!quiet) {
    std::cout << "mean ± sd over " << n_folds << " split(s); wrote compare.json, compare.csv, "
              << "compare.md, learning_curves.svg, final_metrics.svg to " << run_dir << "\n";
  }
  return 0;
}

}  // namespace

int run_compare_command(int argc, char** argv) {
  cxxopts::Options options("collab compare",
                           "Train several models on the same splits and compare their metrics.");
  options.add_options()(
      "set", "override a config key, e.g. --set eval.k=20 --set train.epochs=3 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "run-dir", "folder for compare.json/.csv/.md and the plots (default runs/compare-<time>)",
      cxxopts::value<std::string>()->default_value(""))("q,quiet", "print only the final table");
  const CommandLine line = parse_command_line(
      options, argc, argv,
      {"compare", "collab compare CONFIG [--set KEY=VALUE]... [--run-dir DIR]", "CONFIG", 1, 1,
       ""});
  if (line.help) return 0;
  const cxxopts::ParseResult& args = line.options;
  const auto overrides =
      args.count("set") ? args["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const CompareConfig config = load_compare_config(line.positionals[0], overrides);
  return run_compare(config, args["run-dir"].as<std::string>(), args.count("quiet") > 0);
}

}  // namespace compare_internal

int compare_command(int argc, char** argv) {
  return compare_internal::run_compare_command(argc, argv);
}

}  // namespace collab
