// `collab tune`'s reports (train/tune.h): the trials ranked by the tune metric as CSV, Markdown
// and JSON, and the metric against each numeric parameter as an SVG scatter.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "collab/common/file_io.h"
#include "collab/common/svg_plot.h"
#include "collab/common/text.h"
#include "collab/train/run_dir.h"
#include "collab/train/tune.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return text;
}

// A value as a table shows it: numbers short, anything else as JSON.
std::string shown(const json& v) {
  if (v.is_number_float()) return number(v.get<double>());
  return json_text(v);
}

std::vector<TrialResult> ranked(std::vector<TrialResult> trials) {
  std::stable_sort(trials.begin(), trials.end(), [](const TrialResult& a, const TrialResult& b) {
    return a.rung != b.rung ? a.rung > b.rung : a.metric < b.metric;
  });
  return trials;
}

void write_tables(const TuneConfig& c, const std::vector<TrialResult>& trials,
                  const std::string& dir) {
  const auto& params = c.space->parameters();
  std::string csv = "trial,rung,epochs";
  std::string md = "| trial | rung | epochs |";
  for (const auto& p : params) csv += "," + csv_field(p.key), md += " " + p.key + " |";
  csv += ",valid_mse,valid_rmse,valid_mae,seconds,run_dir\n";
  md += " valid_mse | valid_rmse | valid_mae | seconds |\n|";
  for (size_t k = 0; k < params.size() + 7; ++k) md += "---|";
  md += "\n";
  json all = json::array();
  for (const TrialResult& t : trials) {
    csv += std::to_string(t.trial) + "," + std::to_string(t.rung) + "," + std::to_string(t.epochs);
    md += "| " + std::to_string(t.trial) + " | " + std::to_string(t.rung) + " | " +
          std::to_string(t.epochs) + " |";
    for (const auto& p : params) {
      const std::string v = t.values.contains(p.key) ? shown(t.values[p.key]) : "";
      csv += "," + csv_field(v);
      md += " " + v + " |";
    }
    csv += "," + number(t.valid.mse) + "," + number(t.valid.rmse) + "," + number(t.valid.mae) +
           "," + number(t.seconds) + "," + csv_field(t.run_dir) + "\n";
    md += " " + number(t.valid.mse) + " | " + number(t.valid.rmse) + " | " +
          number(t.valid.mae) + " | " + number(t.seconds) + " |\n";
    all.push_back(trial_result_json(t));
  }
  write_file_atomically(dir + "/results.csv", csv);
  write_file_atomically(dir + "/results.md", "Ranked by " + c.metric +
                                                 " on the inner validation split (best first; "
                                                 "halving's last rung first).\n\n" + md);
  write_json_atomically(dir + "/results.json", {{"metric", c.metric}, {"trials", all}});
}

// plots/<key>.svg for each numeric parameter (log10 of a log_uniform one).
void write_plots(const TuneConfig& c, const std::vector<TrialResult>& trials,
                 const std::string& dir) {
  fs::create_directories(dir + "/plots");
  for (const SearchParameter& p : c.space->parameters()) {
    const bool log_scale = p.kind == SearchParameter::Kind::kLogUniform;
    std::vector<LabelledPoint> points;
    for (const TrialResult& t : trials) {
      if (!t.values.contains(p.key) || !t.values[p.key].is_number()) continue;
      const double v = t.values[p.key].get<double>();
      points.push_back({log_scale ? std::log10(v) : v, t.metric,
                        "t" + std::to_string(t.trial) + (t.rung ? "r" + std::to_string(t.rung) : "")});
    }
    if (points.empty()) continue;
    std::string file = p.key;
    for (char& ch : file) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_') ch = '_';
    }
    write_file_atomically(dir + "/plots/" + file + ".svg",
                          svg_scatter(points, {c.metric + " against " + p.key,
                                               log_scale ? "log10(" + p.key + ")" : p.key,
                                               c.metric}));
  }
}

}  // namespace

json trial_result_json(const TrialResult& t) {
  return {{"trial", t.trial},           {"rung", t.rung},
          {"epochs", t.epochs},         {"values", t.values},
          {"metric", t.metric},         {"valid_mse", t.valid.mse},
          {"valid_rmse", t.valid.rmse}, {"valid_mae", t.valid.mae},
          {"seconds", t.seconds},       {"run_dir", t.run_dir}};
}

void write_tune_reports(const TuneConfig& c, const std::vector<TrialResult>& trials,
                        const std::string& tune_dir) {
  const std::vector<TrialResult> order = ranked(trials);
  write_tables(c, order, tune_dir);
  write_plots(c, trials, tune_dir);
}

}  // namespace collab
