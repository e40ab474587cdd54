// Every asked user's recommendations as CSV or JSON Lines (recommendation_lists.h).
#include "collab/app/recommendation_lists.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "collab/app/interrupt.h"
#include "collab/app/progress_bar.h"
#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"

namespace collab {

ListFormat parse_list_format(const std::string& name) {
  if (name == "csv") return ListFormat::kCsv;
  if (name == "jsonl") return ListFormat::kJsonLines;
  throw Error("--format must be \"csv\" or \"jsonl\", not " + quoted_for_message(name));
}

std::vector<int64_t> read_user_list(const std::string& path, const Vocabulary& users) {
  std::istringstream in(read_file(path));
  std::vector<int64_t> out;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    const std::string_view raw = trim(line);
    if (raw.empty()) continue;
    const auto user = users.find(raw);
    if (!user) {
      throw Error(path + ":" + std::to_string(line_no) + ": user " + quoted_for_message(raw) +
                  " is not one of the model's " + std::to_string(users.size()) + " users");
    }
    out.push_back(*user);
  }
  return out;
}

namespace {

// Each row's text but the user, rank and score, made once per item rather than once per row.
std::vector<std::string> item_fields(const Vocabulary& items, ListFormat format) {
  std::vector<std::string> out(static_cast<size_t>(items.size()));
  for (int64_t i = 0; i < items.size(); ++i) {
    out[static_cast<size_t>(i)] =
        format == ListFormat::kCsv
            ? "," + csv_field(items.raw(i)) + "," + csv_field(items.title(i)) + ","
            : ",\"item\":" + json_text(items.raw(i)) + ",\"title\":" + json_text(items.title(i)) +
                  ",\"score\":";
  }
  return out;
}

// The shortest text that reads back as the same float: scores are float predictions, so more
// digits would only be noise. JSON has no NaN or infinity: null there.
void append_score(std::string& out, double score, ListFormat format) {
  if (format == ListFormat::kJsonLines && !std::isfinite(score)) {
    out += "null";
    return;
  }
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, static_cast<float>(score)).ptr;
  out.append(text, end);
}

// One user's rows.
std::string user_rows(const UserTopK& list, const Vocabulary& users,
                      const std::vector<std::string>& fields, const ListsRequest& request) {
  const ListFormat format = request.format;
  const std::string user = format == ListFormat::kCsv
                               ? csv_field(users.raw(list.user))
                               : "{\"user\":" + json_text(users.raw(list.user));
  std::string out;
  out.reserve(list.items.size() * (user.size() + 48));
  for (size_t r = 0; r < list.items.size(); ++r) {
    out += user;
    out += format == ListFormat::kCsv ? "," : ",\"rank\":";
    out += std::to_string(r + 1);
    out += fields[static_cast<size_t>(list.items[r].item)];
    const double raw = list.items[r].score;
    append_score(out, reported_rating(raw, request.rating_range), format);
    if (format == ListFormat::kJsonLines && request.rating_range) {
      out += ",\"raw_score\":";
      append_score(out, raw, format);
    }
    out += format == ListFormat::kCsv ? "\n" : "}\n";
  }
  return out;
}

}  // namespace

bool write_recommendation_lists(const UserScorer& scorer, const Vocabulary& users,
                                const Vocabulary& items, const ListsRequest& request,
                                const std::function<void(std::string_view)>& write,
                                const std::function<bool()>& stop,
                                const std::function<void(int64_t)>& on_progress) {
  const std::vector<std::string> fields = item_fields(items, request.format);
  if (request.format == ListFormat::kCsv) write("user,rank,item,title,score\n");
  int64_t done = 0;
  const auto on_block = [&](std::vector<UserTopK>&& lists) {
    // Formatting is a good part of the work for short lists: spread over the threads too.
    std::vector<std::string> text(lists.size());
    at::parallel_for(0, static_cast<int64_t>(lists.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const auto i = static_cast<size_t>(b);
        text[i] = user_rows(lists[i], users, fields, request);
      }
    });
    std::string block;
    for (const std::string& t : text) block += t;
    write(block);
    done += static_cast<int64_t>(lists.size());
    if (on_progress) on_progress(done);
  };
  return top_k_for_users(scorer, request.users, request.seen, request.k, on_block, stop);
}

int recommend_for_users(const LoadedModel& loaded, const ListsRequest& request,
                        const std::string& output_path) {
  install_interrupt_handlers(InterruptMode::kStopThenExit);
  // Every core: LibTorch here starts with one intra-op thread, and the ranking and the product
  // kernel run on its threads.
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  std::unique_ptr<AtomicFile> file;
  if (!output_path.empty()) file = std::make_unique<AtomicFile>(output_path);
  const auto write = [&](std::string_view text) {
    if (file) {
      file->write(text);
    } else {
      std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
    }
  };
  ProgressBar bar(stderr, static_cast<int64_t>(request.users.size()));
  const UserScorer scorer(*loaded.model, loaded.items.size());
  const bool finished = write_recommendation_lists(
      scorer, loaded.users, loaded.items, request, write, [] { return interrupt_signal() != 0; },
      [&](int64_t done) { bar.draw(done, "users"); });
  bar.clear();
  std::cout.flush();
  if (!finished) {
    // The AtomicFile goes uncommitted: its temporary file is removed, no output file appears.
    std::cerr << "collab: interrupted by " << signal_name(interrupt_signal()) << "; "
              << (file ? "no output file written" : "the output is incomplete") << "\n";
    return 128 + interrupt_signal();
  }
  if (file) file->commit();
  return 0;
}

}  // namespace collab
