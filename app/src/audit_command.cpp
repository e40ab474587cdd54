// `collab audit MODEL [-k 10] [--json] [--plot FILE.svg] [--user-file PATH]`: what the model's
// top-k lists (every trained user's unseen items, as `recommend --all-users` ranks them) do to
// the catalogue and to groups of users: concentration on popular items against the training
// ratings' own, the heaviest raters' share of the data, and accuracy and ranking quality per
// activity decile and per u.user feature (infer/audit.h computes; this reads, prints, plots).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/app/model_args.h"
#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/svg_plot.h"
#include "collab/data/batches.h"
#include "collab/data/user_catalog.h"
#include "collab/infer/audit.h"
#include "collab/infer/metrics.h"
#include "collab/infer/user_scores.h"
#include "collab/serve/model_source.h"
#include "collab/train/run_config.h"

namespace collab {

// Named, not anonymous: the app library compiles in unity batches, where other commands'
// anonymous helpers (fixed, write_plot) would clash.
namespace audit_cli {

namespace fs = std::filesystem;

// --user-file, else the user file beside the model's data (default_user_file), else none.
std::string user_file_for(const LoadedModel& loaded, const cxxopts::ParseResult& result) {
  if (result.count("user-file")) {
    const std::string path = result["user-file"].as<std::string>();
    if (!fs::is_regular_file(path)) {
      throw Error("--user-file " + path + ": no such file");
    }
    return path;
  }
  return default_user_file(run_config_from_json(loaded.config, loaded.path, {}).data);
}

// Gender, age band and occupation groupings of the model's users from `path`; a model user the
// file does not list is in no group, a listed user the model does not know is ignored.
std::vector<UserGrouping> feature_groupings(const std::string& path, const Vocabulary& users) {
  const std::vector<UserRecord> records = read_user_file(path);
  const auto n = static_cast<size_t>(users.size());
  std::vector<const UserRecord*> record_of(n, nullptr);
  for (const UserRecord& r : records) {
    if (const auto u = users.find(r.id)) record_of[static_cast<size_t>(*u)] = &r;
  }
  const std::vector<std::string> bands = {"<18",   "18-24", "25-34", "35-44",
                                          "45-49", "50-55", "56+"};
  auto grouping = [&](const std::string& name, auto value, std::vector<std::string> order) {
    UserGrouping g;
    g.name = name;
    std::set<std::string> present;
    for (const UserRecord* r : record_of)
      if (r) present.insert(value(*r));
    if (order.empty()) order.assign(present.begin(), present.end());
    for (const std::string& label : order)
      if (present.count(label)) g.labels.push_back(label);
    g.group_of_user.assign(n, -1);
    for (size_t u = 0; u < n; ++u) {
      if (!record_of[u]) continue;
      const auto at = std::find(g.labels.begin(), g.labels.end(), value(*record_of[u]));
      g.group_of_user[u] = static_cast<int>(at - g.labels.begin());
    }
    return g;
  };
  return {grouping("gender", [](const UserRecord& r) { return r.gender; }, {}),
          grouping(
              "age", [](const UserRecord& r) { return age_band(r.age); }, bands),
          grouping("occupation", [](const UserRecord& r) { return r.occupation; }, {})};
}

json number_or_null(double x) {
  return std::isfinite(x) ? json(x) : json(nullptr);
}

json concentration_json(const Concentration& c) {
  return {{"slots", c.slots}, {"top1_share", c.top1_share}, {"top10_share", c.top10_share},
          {"gini", c.gini},   {"coverage", c.coverage},     {"novelty", c.novelty}};
}

json report_json(const LoadedModel& loaded, const AuditReport& report, const std::string& users,
                 const std::string& plot) {
  json groups = json::array();
  for (const GroupQuality& g : report.groups) {
    groups.push_back({{"grouping", g.grouping},
                      {"group", g.group},
                      {"users", g.users},
                      {"valid_ratings", g.valid_ratings},
                      {"rmse", number_or_null(g.rmse)},
                      {"ranked_users", g.ranking.users},
                      {"ndcg", g.ranking.ndcg},
                      {"recall", g.ranking.recall}});
  }
  json out = {
      {"model", loaded.path},
      {"arch", loaded.model->arch()},
      {"k", report.k},
      {"users", report.users},
      {"items", report.items},
      {"user_file", users.empty() ? json(nullptr) : json(users)},
      {"recommendations", concentration_json(report.recommendations)},
      {"training", concentration_json(report.training)},
      {"heavy_raters",
       {{"top1_share", report.heavy_user_share1}, {"top10_share", report.heavy_user_share10}}},
      {"groups", groups}};
  if (!plot.empty()) out["plot"] = plot;
  return out;
}

std::string fixed(double x, int digits) {
  if (!std::isfinite(x)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, x);
  return buffer;
}

void print_report(const LoadedModel& loaded, const AuditReport& report, const std::string& users,
                  const std::string& plot) {
  std::cout << "audit of " << loaded.path << " (" << loaded.model->arch() << "): top " << report.k
            << " unseen items of each of " << report.users << " users, " << report.items
            << " items\n\n";
  std::printf("%-22s %10s %10s\n", "", "top-k", "training");
  auto row = [](const char* name, double a, double b, int digits) {
    std::printf("%-22s %10s %10s\n", name, fixed(a, digits).c_str(), fixed(b, digits).c_str());
  };
  const Concentration& r = report.recommendations;
  const Concentration& t = report.training;
  std::printf("%-22s %10lld %10lld\n", "slots / ratings", static_cast<long long>(r.slots),
              static_cast<long long>(t.slots));
  row("share top 1% items", r.top1_share, t.top1_share, 3);
  row("share top 10% items", r.top10_share, t.top10_share, 3);
  row("Gini over items", r.gini, t.gini, 3);
  row("catalogue coverage", r.coverage, t.coverage, 3);
  row("novelty (bits)", r.novelty, t.novelty, 2);
  std::cout << "\nheavy raters: the top 1% of users wrote " << fixed(report.heavy_user_share1, 3)
            << " of the training ratings, the top 10% " << fixed(report.heavy_user_share10, 3)
            << "\n\n";
  std::cout << "per user group (validation split; NDCG and recall at " << report.k
            << ", relevant: rated >= 4, over the users with a relevant item)"
            << (users.empty() ? "" : "; user features from " + users) << "\n";
  std::printf("%-16s %-16s %6s %7s %7s %7s %7s %7s\n", "grouping", "group", "users", "ratings",
              "RMSE", "ranked", "NDCG", "recall");
  for (const GroupQuality& g : report.groups) {
    std::printf("%-16s %-16s %6lld %7lld %7s %7lld %7s %7s\n", g.grouping.c_str(), g.group.c_str(),
                static_cast<long long>(g.users), static_cast<long long>(g.valid_ratings),
                fixed(g.rmse, 4).c_str(), static_cast<long long>(g.ranking.users),
                fixed(g.ranking.ndcg, 4).c_str(), fixed(g.ranking.recall, 4).c_str());
  }
  if (!plot.empty()) std::cout << "\nplot: " << plot << "\n";
}

// Lorenz curves of the recommendation counts and the training counts over items.
void write_plot(const std::string& path, const LoadedModel& loaded, const AuditReport& report) {
  LineChart chart;
  chart.title = "Lorenz curves over items (" + loaded.model->arch() + ", top " +
                std::to_string(report.k) + ")";
  chart.x_label = "share of items, least recommended/rated first";
  chart.y_label = "share of slots / ratings";
  chart.integer_x = false;
  auto series = [](const std::string& name, const std::vector<double>& curve) {
    LineSeries s;
    s.name = name;
    const size_t n = curve.size() - 1;
    const size_t step = std::max<size_t>(1, n / 400);  // at most ~400 points
    for (size_t i = 0; i <= n; i += step) {
      s.x.push_back(static_cast<double>(i) / static_cast<double>(std::max<size_t>(n, 1)));
      s.y.push_back(curve[i]);
    }
    if (s.x.back() != 1.0) {
      s.x.push_back(1.0);
      s.y.push_back(curve.back());
    }
    return s;
  };
  chart.series.push_back(
      series("top-k recommendations (Gini " + fixed(report.recommendations.gini, 3) + ")",
             lorenz_curve(report.recommendation_counts)));
  chart.series.push_back(series("training ratings (Gini " + fixed(report.training.gini, 3) + ")",
                                lorenz_curve(report.training_counts)));
  chart.series.push_back({"equality", {0.0, 1.0}, {0.0, 1.0}, {}, {}});
  write_file_atomically(path, line_chart_svg(chart));
}

}  // namespace audit_cli

int audit_command(int argc, char** argv) {
  cxxopts::Options options("collab audit",
                           "What a model's top-k recommendations do to the catalogue and to groups "
                           "of users: collab audit MODEL [-k 10] [--json] [--plot FILE.svg] "
                           "[--user-file u.user]");
  options.positional_help("MODEL (a .ckpt file, a run dir, or an exported model.pt)");
  // clang-format off
  options.add_options()
      ("k", "length of each user's list", cxxopts::value<int64_t>()->default_value("10"))
      ("json", "print one JSON document instead of tables")
      ("plot", "write Lorenz curves (recommendations vs training ratings) to FILE.svg",
       cxxopts::value<std::string>())
      ("user-file", "MovieLens u.user file (id|age|gender|occupation|zip) to group users by; "
       "default: u.user beside the model's item file, when there is one",
       cxxopts::value<std::string>());
  // clang-format on
  const ModelArgs parsed = parse_model_args(options, argc, argv, "audit", "collab audit MODEL");
  if (parsed.help) return 0;
  const cxxopts::ParseResult& result = parsed.result;
  const int64_t k = result["k"].as<int64_t>();
  if (k < 1 || k > 10000) {
    throw std::invalid_argument("-k must be from 1 to 10000, not " + std::to_string(k));
  }
  const std::string plot = result.count("plot") ? result["plot"].as<std::string>() : "";
  if (!plot.empty()) refuse_overwriting_input(plot, parsed.model, "the model it reads");

  const LoadedModel loaded = load_trained_model(parsed.model);
  const std::string users_path = audit_cli::user_file_for(loaded, result);
  torch::NoGradGuard no_grad;
  TrainingRatings ratings = load_training_ratings(loaded, std::cerr);

  AuditInput input;
  input.n_users = loaded.users.size();
  input.n_items = loaded.items.size();
  input.k = k;
  if (!users_path.empty()) input.groupings = audit_cli::feature_groupings(users_path, loaded.users);
  input.train_users = ratings.users;
  input.train_items = ratings.items;
  input.top.resize(static_cast<size_t>(input.n_users));
  const UserScorer scorer(*loaded.model, input.n_items);
  std::vector<int64_t> all(static_cast<size_t>(input.n_users));
  for (int64_t u = 0; u < input.n_users; ++u) all[static_cast<size_t>(u)] = u;
  top_k_for_users(scorer, all, ratings.items_by_user, k, [&](std::vector<UserTopK>&& block) {
    for (const UserTopK& one : block) {
      auto& list = input.top[static_cast<size_t>(one.user)];
      for (const ScoredItem& s : one.items) list.push_back(s.item);
    }
  });
  input.valid_users = ratings.valid_users;
  input.valid_items = ratings.valid_items;
  input.valid_ratings = ratings.valid_ratings;
  if (!input.valid_users.empty()) {
    const auto n = static_cast<int64_t>(input.valid_users.size());
    const torch::Tensor x = torch::stack({torch::tensor(input.valid_users, torch::kLong),
                                          torch::tensor(input.valid_items, torch::kLong)},
                                         1);
    const torch::Tensor y = torch::tensor(input.valid_ratings, torch::kFloat);
    const torch::Tensor p =
        predict(*loaded.model, Batch{x, y}, kPredictChunk).to(torch::kFloat).contiguous();
    input.valid_predictions.assign(p.data_ptr<float>(), p.data_ptr<float>() + n);
  }
  const AuditReport report = audit(input);
  if (!plot.empty()) audit_cli::write_plot(plot, loaded, report);
  if (result.count("json")) {
    std::cout << json_text(audit_cli::report_json(loaded, report, users_path, plot)) << "\n";
  } else {
    audit_cli::print_report(loaded, report, users_path, plot);
  }
  return 0;
}

}  // namespace collab
