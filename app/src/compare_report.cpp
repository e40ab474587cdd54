// The reports of `collab compare` (compare.h): per-metric mean ± sd over the splits as a text
// table, compare.json (every number, per split), compare.csv, compare.md and two SVG charts.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "collab/app/compare.h"
#include "collab/common/statistics.h"
#include "collab/common/svg_plot.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/train/run.h"

namespace collab {

namespace {

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

// Rows of cells as an aligned text table (UTF-8 aware: "±" is one column wide).
std::string text_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t j = 0; j < row.size(); ++j) widths[j] = std::max(widths[j], utf8_width(row[j]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t j = 0; j < row.size(); ++j) {
      line += row[j];
      if (j + 1 < row.size()) line += std::string(widths[j] - utf8_width(row[j]) + 2, ' ');
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

}  // namespace

std::string summary_table(const std::vector<CandidateResult>& results, int64_t k) {
  return text_table(summary_rows(results, k));
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
      text = p.single ? "predefined split (" + p.train_pattern + " / " + p.test_pattern + ")"
                      : "predefined " + std::to_string(p.folds) + "-fold (" + p.train_pattern +
                            " / " + p.test_pattern + ")";
      break;
    case ProtocolKind::kKFold:
      text = std::to_string(p.folds) + "-fold (seed " + std::to_string(p.seed) + ")";
      if (p.single) text += ", fold " + std::to_string(p.fold + 1) + " only";
      break;
    case ProtocolKind::kLeaveLastKOut:
      text = "per-user leave-last-" + std::to_string(p.holdout) + "-out";
      break;
    case ProtocolKind::kTemporal:
      text = p.before ? "temporal split (test: ratings at or after time " +
                            std::to_string(*p.before) + ")"
                      : "temporal split (test: the latest " + fixed(*p.test_fraction * 100, 0) +
                            "% of ratings)";
      if (p.drop_unseen) text += ", test ratings of unseen users or items dropped";
      break;
    case ProtocolKind::kStratified:
      text = "per-user stratified split (" + fixed(p.valid_pct * 100, 0) +
             "% of each user's "
             "ratings in test), " +
             std::to_string(p.seeds.size()) + " seed(s)";
      break;
  }
  return text + "; top-N at k = " + std::to_string(config.ranking.k) +
         ", relevant = rating >= " + fixed(config.ranking.relevance_threshold, 1);
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
      if (!f.blend.is_null()) folds.back()["blend"] = f.blend;
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

std::string learning_curves_svg(const CompareConfig& config,
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

std::string final_metrics_svg(const CompareConfig& config,
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

}  // namespace collab
