// `collab compare CONFIG [--set K=V]... [--run-dir DIR] [--quiet]`: trains every candidate of a
// compare config (app/compare.h) on every split of its evaluation protocol, then prints a table
// of each metric's mean ± sd over the splits and writes compare.json (every number, per split),
// compare.csv, compare.md and two SVG plots into the run dir.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include <cxxopts.hpp>

#include "collab/app/commands.h"
#include "collab/app/compare.h"
#include "collab/app/run_dir.h"
#include "collab/app/training.h"
#include "collab/common/error.h"
#include "collab/common/svg_plot.h"
#include "collab/data/fetch.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"
#include "collab/train/device.h"
#include "collab/train/trainer.h"

namespace collab {

namespace fs = std::filesystem;

// The helpers live in their own namespace: app/ compiles as unity batches, where another
// command's file-local helpers (format_time, ...) share this translation unit.
namespace compare_internal {
namespace {

// ---------------------------------------------------------------------------------------------
// Config

// Keys of `data` that choose a split: in a comparison the protocol does.
constexpr const char* kSplitKeys[] = {"train", "valid", "split_seed", "valid_pct"};

void override_keys(json& base, const json& overrides) {
  for (auto it = overrides.begin(); it != overrides.end(); ++it) base[it.key()] = it.value();
}

std::string file_stem(const std::string& path) {
  return fs::path(path).stem().string();
}

std::string replace_fold(const std::string& pattern, int64_t fold) {
  std::string out = pattern;
  for (size_t pos; (pos = out.find("{fold}")) != std::string::npos;) {
    out.replace(pos, 6, std::to_string(fold));
  }
  return out;
}

}  // namespace
}  // namespace compare_internal

CompareConfig load_compare_config(const std::string& path,
                                  const std::vector<std::string>& overrides) {
  json config = read_json_file(path);
  if (!config.is_object()) throw Error(path + ": expected a JSON object at the top level");
  for (const auto& o : overrides) apply_override(config, o);
  const std::string config_dir = fs::absolute(fs::path(path)).parent_path().string();

  CompareConfig c;
  c.path = path;
  c.resolved = json::object();
  ConfigReader root(config, "", &c.resolved);

  json data = root.raw("data", json::object());
  if (!data.is_object()) root.fail("data", "expected an object, got " + describe(data));
  for (const char* key : compare_internal::kSplitKeys) {
    if (data.contains(key)) {
      throw Error(path + ": data." + std::string(key) +
                  ": a comparison's splits come from eval.protocol; remove this key");
    }
  }

  ConfigReader eval = root.object("eval");
  c.protocol = read_protocol_config(eval);
  c.ranking.k = eval.integer("k", 10, /*min=*/1);
  c.ranking.relevance_threshold = eval.number("relevance_threshold", 4.0);
  eval.finish();

  // Predefined folds need no data.ratings: the data section is read (by every candidate too) as
  // a predefined split on fold 1's files, which is also what `collab train` needs to reproduce
  // fold 1.
  if (c.protocol.kind == ProtocolKind::kPredefinedKFold) {
    if (data.contains("ratings")) {
      throw Error(path + ": data.ratings: not used by eval.protocol \"predefined_kfold\", " +
                  "which reads eval.train_pattern and eval.test_pattern; remove it");
    }
    data["train"] = compare_internal::replace_fold(c.protocol.train_pattern, 1);
    data["valid"] = compare_internal::replace_fold(c.protocol.test_pattern, 1);
  }
  {
    ConfigReader data_reader(data, "data", &c.resolved["data"]);
    c.data = read_data_config(data_reader, config_dir);
    c.resolved["data"].erase("train");
    c.resolved["data"].erase("valid");
  }

  const json shared_train = root.raw("train", json::object());
  if (!shared_train.is_object()) {
    root.fail("train", "expected an object, got " + describe(shared_train));
  }
  const json candidates = root.raw("candidates", json());
  if (!candidates.is_array() || candidates.empty()) {
    root.fail("candidates", "expected a non-empty array of candidates, got " +
                                describe(candidates.is_null() ? json("missing") : candidates));
  }
  root.finish();

  json resolved_candidates = json::array();
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string where = "candidates[" + std::to_string(i) + "]";
    json entry_resolved = json::object();
    ConfigReader entry(candidates[i], where, &entry_resolved);
    std::string name = entry.string("name", "");
    const std::string config_file = entry.string("config", "");
    const json model = entry.raw("model", json::object());
    const json train = entry.raw("train", json::object());
    entry.finish();
    if (!model.is_object()) entry.fail("model", "expected an object, got " + describe(model));
    if (!train.is_object()) entry.fail("train", "expected an object, got " + describe(train));

    // The candidate's run config: its file (if any), the shared data and train, its overrides.
    json run = json::object();
    json base_model = json::object(), base_train = json::object();
    if (!config_file.empty()) {
      const std::string file = resolve_path(config_file, config_dir, entry.path_of("config"));
      const json base = read_json_file(file);
      if (!base.is_object()) throw Error(file + ": expected a JSON object at the top level");
      base_model = base.value("model", json::object());
      base_train = base.value("train", json::object());
      if (name.empty()) name = compare_internal::file_stem(file);
    }
    compare_internal::override_keys(base_model, model);
    compare_internal::override_keys(base_train, shared_train);
    compare_internal::override_keys(base_train, train);
    if (name.empty()) name = base_model.value("arch", std::string());
    if (name.empty()) entry.fail("name", "missing; give a name, a model.arch or a config");
    for (const auto& other : c.candidates) {
      if (other.name == name) {
        entry.fail("name", "\"" + name + "\" names two candidates; names must be unique");
      }
    }
    run["data"] = data;
    run["model"] = base_model;
    run["train"] = base_train;
    CompareCandidate candidate;
    candidate.name = name;
    try {
      candidate.run = run_config_from_json(run, path, {});
    } catch (const Error& e) {
      throw Error(path + ": " + where + " \"" + name + "\": " + e.what());
    }
    json r = candidate.run.resolved;
    r.erase("checkpoint");  // compare writes no checkpoints
    resolved_candidates.push_back({{"name", name}, {"config", r}});
    c.candidates.push_back(std::move(candidate));
  }
  c.resolved["candidates"] = resolved_candidates;
  return c;
}

namespace compare_internal {
namespace {

// ---------------------------------------------------------------------------------------------
// Results

struct FoldResult {
  std::string fold;
  int64_t parameters = 0;
  std::vector<EpochMetrics> epochs;
  RatingMetrics rating;
  RankingMetrics ranking;
};

struct CandidateResult {
  std::string name;
  std::string arch;
  std::vector<FoldResult> folds;
};

// The metrics reported per split, in table order.
struct MetricDef {
  const char* key;    // in compare.json / compare.csv
  const char* label;  // table and plot heading ("@k" appended where top_n)
  bool top_n;
  double (*get)(const FoldResult&);
};

const MetricDef kMetrics[] = {
    {"mse", "MSE", false, [](const FoldResult& f) { return f.rating.mse; }},
    {"rmse", "RMSE", false, [](const FoldResult& f) { return f.rating.rmse; }},
    {"mae", "MAE", false, [](const FoldResult& f) { return f.rating.mae; }},
    {"precision", "Precision", true, [](const FoldResult& f) { return f.ranking.precision; }},
    {"recall", "Recall", true, [](const FoldResult& f) { return f.ranking.recall; }},
    {"ndcg", "NDCG", true, [](const FoldResult& f) { return f.ranking.ndcg; }},
    {"map", "MAP", true, [](const FoldResult& f) { return f.ranking.map; }},
    {"hit_rate", "Hit rate", true, [](const FoldResult& f) { return f.ranking.hit_rate; }},
    {"coverage", "Coverage", true, [](const FoldResult& f) { return f.ranking.coverage; }},
};

std::string metric_key(const MetricDef& m, int64_t k) {
  return m.top_n ? std::string(m.key) + "_at_" + std::to_string(k) : std::string(m.key);
}
std::string metric_label(const MetricDef& m, int64_t k) {
  return m.top_n ? std::string(m.label) + "@" + std::to_string(k) : std::string(m.label);
}

struct MeanSd {
  double mean = 0;
  double sd = 0;  // sample standard deviation (n - 1); 0 for one value
};

MeanSd mean_sd(const std::vector<double>& v) {
  MeanSd r;
  if (v.empty()) return r;
  for (const double x : v) r.mean += x;
  r.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (const double x : v) ss += (x - r.mean) * (x - r.mean);
    r.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return r;
}

MeanSd summarise(const CandidateResult& c, double (*get)(const FoldResult&)) {
  std::vector<double> v;
  for (const auto& f : c.folds) v.push_back(get(f));
  return mean_sd(v);
}

double seconds_per_epoch(const CandidateResult& c) {
  double total = 0;
  int64_t n = 0;
  for (const auto& f : c.folds) {
    for (const auto& e : f.epochs) {
      total += e.seconds;
      ++n;
    }
  }
  return n ? total / static_cast<double>(n) : 0;
}

std::string fixed(double v, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

std::string pm(const MeanSd& m) {
  return fixed(m.mean, 4) + " ± " + fixed(m.sd, 4);
}

std::string format_time(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  char text[24];
  std::snprintf(text, sizeof text, "%02d:%02d", s / 60, s % 60);
  return text;
}

// Rows of cells as an aligned text table (UTF-8 aware: "±" is one column wide).
std::string text_table(const std::vector<std::vector<std::string>>& rows) {
  auto width = [](const std::string& s) {
    size_t w = 0;
    for (const unsigned char ch : s) w += (ch & 0xC0) != 0x80;
    return w;
  };
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t j = 0; j < row.size(); ++j) widths[j] = std::max(widths[j], width(row[j]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t j = 0; j < row.size(); ++j) {
      line += row[j];
      if (j + 1 < row.size()) line += std::string(widths[j] - width(row[j]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::vector<std::vector<std::string>> summary_rows(const std::vector<CandidateResult>& results,
                                                   int64_t k) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"candidate", "parameters", "s/epoch"};
  for (const auto& m : kMetrics) head.push_back(metric_label(m, k));
  rows.push_back(head);
  for (const auto& c : results) {
    std::vector<std::string> row = {c.name,
                                    std::to_string(c.folds.empty() ? 0 : c.folds[0].parameters),
                                    fixed(seconds_per_epoch(c), 2)};
    for (const auto& m : kMetrics) row.push_back(pm(summarise(c, m.get)));
    rows.push_back(row);
  }
  return rows;
}

std::string protocol_text(const CompareConfig& config) {
  const ProtocolConfig& p = config.protocol;
  std::string text;
  switch (p.kind) {
    case ProtocolKind::kRandom:
      text = "random split (" + fixed(p.valid_pct * 100, 0) + "% test), " +
             std::to_string(p.seeds.size()) + " seed(s)";
      break;
    case ProtocolKind::kPredefinedKFold:
      text = "predefined " + std::to_string(p.folds) + "-fold (" + p.train_pattern + " / " +
             p.test_pattern + ")";
      break;
    case ProtocolKind::kKFold:
      text = std::to_string(p.folds) + "-fold (seed " + std::to_string(p.seed) + ")";
      break;
    case ProtocolKind::kLeaveLastKOut:
      text = "per-user leave-last-" + std::to_string(p.holdout) + "-out";
      break;
  }
  return text + "; top-N at k = " + std::to_string(config.ranking.k) +
         ", relevant = rating >= " + fixed(config.ranking.relevance_threshold, 1);
}

// ---------------------------------------------------------------------------------------------
// Outputs

json epoch_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},
          {"train_loss", m.train_loss},
          {"train_loss_mean", m.train_loss_mean},
          {"valid_mse", m.valid.mse},
          {"valid_rmse", m.valid.rmse},
          {"valid_mae", m.valid.mae},
          {"seconds", m.seconds}};
}

json results_json(const CompareConfig& config, const std::vector<CandidateResult>& results) {
  const int64_t k = config.ranking.k;
  json out = {{"config", config.resolved}, {"protocol", protocol_text(config)}};
  json candidates = json::array();
  for (const auto& c : results) {
    json folds = json::array();
    for (const auto& f : c.folds) {
      json final_metrics = json::object();
      for (const auto& m : kMetrics) final_metrics[metric_key(m, k)] = m.get(f);
      final_metrics["ranked_users"] = f.ranking.users;
      json epochs = json::array();
      for (const auto& e : f.epochs) epochs.push_back(epoch_json(e));
      folds.push_back({{"fold", f.fold},
                       {"parameters", f.parameters},
                       {"final", final_metrics},
                       {"epochs", epochs}});
    }
    json summary = json::object();
    for (const auto& m : kMetrics) {
      const MeanSd s = summarise(c, m.get);
      summary[metric_key(m, k)] = {{"mean", s.mean}, {"sd", s.sd}};
    }
    summary["seconds_per_epoch"] = seconds_per_epoch(c);
    candidates.push_back({{"name", c.name},
                          {"arch", c.arch},
                          {"parameters", c.folds.empty() ? 0 : c.folds[0].parameters},
                          {"summary", summary},
                          {"folds", folds}});
  }
  out["candidates"] = candidates;
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (const char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

std::string results_csv(const CompareConfig& config, const std::vector<CandidateResult>& results) {
  const int64_t k = config.ranking.k;
  std::string out = "candidate,arch,fold,parameters,epochs,seconds_per_epoch";
  for (const auto& m : kMetrics) out += "," + metric_key(m, k);
  out += ",ranked_users\n";
  char num[40];
  for (const auto& c : results) {
    for (const auto& f : c.folds) {
      double seconds = 0;
      for (const auto& e : f.epochs) seconds += e.seconds;
      out += csv_field(c.name) + "," + c.arch + "," + csv_field(f.fold) + "," +
             std::to_string(f.parameters) + "," + std::to_string(f.epochs.size()) + "," +
             fixed(f.epochs.empty() ? 0 : seconds / static_cast<double>(f.epochs.size()), 3);
      for (const auto& m : kMetrics) {
        std::snprintf(num, sizeof num, "%.17g", m.get(f));  // every digit: round-trips
        out += std::string(",") + num;
      }
      out += "," + std::to_string(f.ranking.users) + "\n";
    }
  }
  return out;
}

std::string results_markdown(const CompareConfig& config,
                             const std::vector<CandidateResult>& results) {
  const auto rows = summary_rows(results, config.ranking.k);
  std::string out = "# collab compare\n\nConfig: `" + config.path +
                    "`. Protocol: " + protocol_text(config) + ". Each metric: mean ± sd over " +
                    std::to_string(fold_count(config.protocol)) + " split(s).\n\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    out += "|";
    for (const auto& cell : rows[r]) out += " " + cell + " |";
    out += "\n";
    if (r == 0) {
      out += "|";
      for (size_t j = 0; j < rows[r].size(); ++j) out += j == 0 ? "---|" : "---:|";
      out += "\n";
    }
  }
  out += "\n![learning curves](learning_curves.svg)\n\n![final metrics](final_metrics.svg)\n";
  return out;
}

std::string learning_curves(const CompareConfig& config,
                            const std::vector<CandidateResult>& results) {
  LineChart chart;
  const int64_t n_folds = fold_count(config.protocol);
  chart.title = "Validation RMSE per epoch (line: mean, band: ± 1 sd over " +
                std::to_string(n_folds) + (n_folds == 1 ? " split)" : " splits)");
  chart.x_label = "epoch";
  chart.y_label = "validation RMSE";
  for (const auto& c : results) {
    LineSeries s;
    s.name = c.name;
    size_t n_epochs = 0;
    for (const auto& f : c.folds) n_epochs = std::max(n_epochs, f.epochs.size());
    for (size_t e = 0; e < n_epochs; ++e) {
      std::vector<double> v;
      for (const auto& f : c.folds) {
        if (e < f.epochs.size()) v.push_back(f.epochs[e].valid.rmse);
      }
      const MeanSd m = mean_sd(v);
      s.x.push_back(static_cast<double>(e + 1));
      s.y.push_back(m.mean);
      if (n_folds > 1) {
        s.lo.push_back(m.mean - m.sd);
        s.hi.push_back(m.mean + m.sd);
      }
    }
    chart.series.push_back(std::move(s));
  }
  return line_chart_svg(chart);
}

std::string final_metrics_chart(const CompareConfig& config,
                                const std::vector<CandidateResult>& results) {
  BarChart chart;
  const int64_t n_folds = fold_count(config.protocol);
  chart.title = "Final metrics (bar: mean, error bar: ± 1 sd over " + std::to_string(n_folds) +
                (n_folds == 1 ? " split)" : " splits)");
  for (const auto& c : results) chart.groups.push_back(c.name);
  for (const auto& m : kMetrics) {
    BarPanel panel;
    panel.title = metric_label(m, config.ranking.k) +
                  (m.top_n ? "  (higher is better)" : "  (lower is better)");
    for (const auto& c : results) {
      const MeanSd s = summarise(c, m.get);
      panel.value.push_back(s.mean);
      panel.error.push_back(s.sd);
    }
    chart.panels.push_back(std::move(panel));
  }
  return bar_chart_svg(chart);
}

// ---------------------------------------------------------------------------------------------
// Progress: a bar rewritten in place on a terminal, plain lines otherwise (CI logs, files).

class Progress {
 public:
  Progress(bool quiet, int64_t total_epochs)
      : quiet_(quiet),
        tty_(isatty(STDOUT_FILENO) != 0),
        total_(total_epochs),
        start_(std::chrono::steady_clock::now()) {}

  void epoch(const std::string& candidate, const std::string& fold, const EpochMetrics& m,
             int64_t epochs) {
    ++done_;
    if (quiet_) return;
    const double elapsed = since_start();
    const double eta =
        done_ ? elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_) : 0;
    char detail[256];
    std::snprintf(detail, sizeof detail, "%s %s epoch %lld/%lld train_loss %.4f valid_rmse %.4f",
                  candidate.c_str(), fold.c_str(), static_cast<long long>(m.epoch + 1),
                  static_cast<long long>(epochs), m.train_loss, m.valid.rmse);
    if (tty_) {
      const int width = 24;
      const auto filled = static_cast<int>(static_cast<double>(width) * static_cast<double>(done_) /
                                           static_cast<double>(std::max<int64_t>(1, total_)));
      std::printf("\r\033[K[%s%s] %lld/%lld %s  ETA %s", std::string(filled, '#').c_str(),
                  std::string(width - filled, '.').c_str(), static_cast<long long>(done_),
                  static_cast<long long>(total_), detail, format_time(eta).c_str());
    } else {
      std::printf("%s (%s; %lld/%lld epochs, ETA %s)\n", detail, format_time(m.seconds).c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_),
                  format_time(eta).c_str());
    }
    std::fflush(stdout);
  }

  // A line that stays (a split's or a candidate's result).
  void line(const std::string& text) {
    if (quiet_) return;
    if (tty_) std::printf("\r\033[K");
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  }

  void finish() {
    if (!quiet_ && tty_) std::printf("\r\033[K");
    std::fflush(stdout);
  }

 private:
  double since_start() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  bool quiet_;
  bool tty_;
  int64_t total_;
  int64_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// Trains `candidate` on `data` exactly as `collab train` does (app/src/train_command.cpp:
// threads, seed, model, trainer), then scores it.
FoldResult run_fold(const CompareCandidate& candidate, const std::string& fold_name,
                    const Dataset& data, const RankingOptions& ranking, Progress& progress) {
  const RunConfig& run = candidate.run;
  const torch::Device device = resolve_device(run.train.device);
  const int64_t threads =
      run.train.threads > 0
          ? run.train.threads
          : static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(static_cast<int>(threads));

  torch::manual_seed(run.train.seed);
  ConfigReader model_section(run.model, "model", nullptr);
  CollabModel model = build_model_for(model_section, data);
  model->to(device);

  FoldResult result;
  result.fold = fold_name;
  for (const auto& p : model->parameters()) result.parameters += p.numel();
  Trainer trainer(model, data, run.train, device);
  result.epochs = trainer.fit([&](const EpochMetrics& m) {
    progress.epoch(candidate.name, fold_name, m, run.train.epochs);
  });
  result.rating = trainer.evaluate();
  result.ranking = evaluate_ranking(*model, data.users.size(), data.items.size(), data.train,
                                    data.valid, ranking, run.train.eval_batch_size * 16, device);
  return result;
}

void write_text_file(const std::string& path, const std::string& text) {
  write_file_atomically(path, text);
}

}  // namespace

int run_compare(int argc, char** argv) {
  cxxopts::Options options("collab compare",
                           "Train several models on the same splits and compare their metrics.");
  options.positional_help("CONFIG");
  options.add_options()("config", "JSON compare config", cxxopts::value<std::string>())(
      "set", "override a config key, e.g. --set eval.k=20 --set train.epochs=3 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "run-dir", "folder for compare.json/.csv/.md and the plots (default runs/compare-<time>)",
      cxxopts::value<std::string>()->default_value(""))("q,quiet", "print only the final table")(
      "h,help", "show this help");
  options.parse_positional({"config"});
  const auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help() << "\n";
    return 0;
  }
  if (!args.count("config"))
    throw std::invalid_argument("need a CONFIG file (collab compare --help)");
  if (!args.unmatched().empty()) {
    throw std::invalid_argument("unexpected argument \"" + args.unmatched()[0] + "\"");
  }
  const bool quiet = args.count("quiet") > 0;
  const auto overrides =
      args.count("set") ? args["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const CompareConfig config = load_compare_config(args["config"].as<std::string>(), overrides);

  if (!config.data.dataset.empty()) ensure_dataset(config.data.dataset, config.data.dir, quiet);
  const int64_t n_folds = fold_count(config.protocol);
  std::vector<std::string> fold_names;
  std::vector<Dataset> folds;
  for (int64_t f = 0; f < n_folds; ++f) {
    fold_names.push_back(fold_name(config.protocol, f));
    folds.push_back(load_fold(config.data, config.protocol, f));
  }
  const std::string run_dir = prepare_run_dir(args["run-dir"].as<std::string>(), "compare");
  write_json_atomically(run_dir + "/config.json", config.resolved);

  int64_t total_epochs = 0;
  for (const auto& c : config.candidates) total_epochs += c.run.train.epochs * n_folds;
  if (!quiet) {
    std::cout << config.candidates.size() << " candidate(s) x " << n_folds
              << " split(s): " << protocol_text(config) << "; " << folds[0].users.size()
              << " users, " << folds[0].items.size() << " items, " << folds[0].train.size()
              << " train / " << folds[0].valid.size() << " test ratings in " << fold_names[0]
              << "; run dir " << run_dir << "\n";
    std::cout.flush();
  }

  Progress progress(quiet, total_epochs);
  std::vector<CandidateResult> results;
  for (const auto& candidate : config.candidates) {
    CandidateResult r;
    r.name = candidate.name;
    r.arch = candidate.run.model.value("arch", std::string());
    for (int64_t f = 0; f < n_folds; ++f) {
      r.folds.push_back(run_fold(candidate, fold_names[static_cast<size_t>(f)],
                                 folds[static_cast<size_t>(f)], config.ranking, progress));
      const FoldResult& fr = r.folds.back();
      char text[256];
      std::snprintf(text, sizeof text, "%s %s: rmse %.4f mae %.4f ndcg@%lld %.4f",
                    candidate.name.c_str(), fr.fold.c_str(), fr.rating.rmse, fr.rating.mae,
                    static_cast<long long>(config.ranking.k), fr.ranking.ndcg);
      progress.line(text);
    }
    results.push_back(std::move(r));
    // Rewritten after each candidate, so an interrupted comparison keeps what it finished.
    write_json_atomically(run_dir + "/compare.json", results_json(config, results));
  }
  progress.finish();

  write_json_atomically(run_dir + "/compare.json", results_json(config, results));
  write_text_file(run_dir + "/compare.csv", results_csv(config, results));
  write_text_file(run_dir + "/compare.md", results_markdown(config, results));
  write_text_file(run_dir + "/learning_curves.svg", learning_curves(config, results));
  write_text_file(run_dir + "/final_metrics.svg", final_metrics_chart(config, results));

  std::cout << text_table(summary_rows(results, config.ranking.k));
  if (!quiet) {
    std::cout << "mean ± sd over " << n_folds << " split(s); wrote compare.json, compare.csv, "
              << "compare.md, learning_curves.svg, final_metrics.svg to " << run_dir << "\n";
  }
  return 0;
}

}  // namespace compare_internal

int compare_command(int argc, char** argv) {
  return compare_internal::run_compare(argc, argv);
}

}  // namespace collab
