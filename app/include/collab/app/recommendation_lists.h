// `collab recommend MODEL --all-users | --users FILE`: every asked user's top-k unseen items as
// rows (user, rank, item, title, score) of CSV or JSON Lines, streamed block by block as
// infer/user_scores.h ranks them, to a file written atomically or to stdout.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collab/serve/model_source.h"
#include "collab/data/vocabulary.h"
#include "collab/infer/user_scores.h"

namespace collab {

enum class ListFormat { kCsv, kJsonLines };

// "csv" or "jsonl"; anything else throws collab::Error naming it.
ListFormat parse_list_format(const std::string& name);

// The user indices of the raw ids in `path`, one a line, in file order (blank lines skipped,
// spaces around an id ignored). An unknown id throws collab::Error naming the file, the line and
// the id.
std::vector<int64_t> read_user_list(const std::string& path, const Vocabulary& users);

struct ListsRequest {
  std::vector<int64_t> users;              // user indices, in output order
  std::vector<std::vector<int64_t>> seen;  // per user index, ascending; empty: none left out
  int64_t k = 10;                          // 0: every item not left out
  ListFormat format = ListFormat::kCsv;
  // The data's rating range: scores are written clipped to it (reported_rating), and JSON Lines
  // rows carry the unclipped one as "raw_score".
  std::optional<std::pair<double, double>> rating_range;
};

// Ranks and formats `request`'s users, handing the text to `write` a block of users at a time
// (the CSV header first); `stop` is asked between blocks and `on_progress` told the users done
// after each. Returns false when `stop` ended it early.
bool write_recommendation_lists(const UserScorer& scorer, const Vocabulary& users,
                                const Vocabulary& items, const ListsRequest& request,
                                const std::function<void(std::string_view)>& write,
                                const std::function<bool()>& stop = {},
                                const std::function<void(int64_t)>& on_progress = {});

// The command's whole part: `loaded`'s lists for `request` into `output_path` (an AtomicFile,
// committed only once complete) or stdout when it is empty, a progress bar on stderr when that
// is a terminal, SIGINT/SIGTERM stopping it (no output file left). Returns the exit code: 0, or
// 128 + the signal.
int recommend_for_users(const LoadedModel& loaded, const ListsRequest& request,
                        const std::string& output_path);

}  // namespace collab
