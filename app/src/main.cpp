// collab: train, compare and serve collaborative-filtering recommenders.
#include <algorithm>
#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include "collab/app/commands.h"
#include "collab/common/error.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"train", collab::train_command, "train a model from a JSON config"},
    {"resume", collab::resume_command, "continue a run from its latest checkpoint"},
    {"data", collab::data_command,
     "get and list datasets (collab data fetch ml-1m, collab data list)"},
    {"fit-users", collab::fit_users_command,
     "fit the new-user metadata model (age, gender, ... -> user vector) to a checkpoint"},
    {"fit-items", collab::fit_items_command,
     "fit the new-item metadata model (genres, decade -> item vector) to a checkpoint"},
    {"export", collab::export_command, "write a checkpoint's model as TorchScript (model.pt)"},
    {"recommend", collab::recommend_command, "top-k items for a user, or a new user from ratings"},
    {"similar", collab::similar_command, "items nearest to an item in embedding space"},
    {"predict", collab::predict_command, "predicted ratings for raw (user, item) pairs"},
    {"interpret", collab::interpret_command, "item biases and a PCA map of the item factors"},
    {"audit", collab::audit_command,
     "popularity concentration of the top-k lists, accuracy per user group"},
    {"lr-find", collab::lr_find_command, "fastai's learning-rate finder: a suggested lr_max"},
    {"tune", collab::tune_command, "hyper-parameter search: random, grid, successive halving"},
    {"serve", collab::serve_command, "an HTTP JSON API and an explorer page for a trained model"},
    {"cold-start", collab::cold_start_command,
     "hold out whole users (or items): RMSE of every cold-start strategy per ratings revealed"},
    {"compare", collab::compare_command, "train models on the same splits, compare their metrics"},
    {"launch", collab::launch_command,
     "run N local workers of a distributed train (torchrun-like)"},
};

void print_usage(std::ostream& out) {
  out << "collab: collaborative-filtering recommenders on LibTorch\n\n"
         "usage: collab <command> [options]   (collab <command> --help for its options)\n\n"
         "commands:\n";
  size_t width = 0;  // the longest name, so that every summary starts in one column
  for (const auto& c : kCommands) width = std::max(width, std::strlen(c.name));
  for (const auto& c : kCommands)
    out << "  " << c.name << std::string(width + 2 - std::strlen(c.name), ' ') << c.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write then fails with EFBIG, which the writer reports
  // naming the file, and the temporary file is removed; the default action would kill the
  // process with neither.
  std::signal(SIGXFSZ, SIG_IGN);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const std::bad_alloc&) {
      std::cerr << "collab " << c.name << ": error: out of memory (the data or model is too "
                << "large for this machine's memory or its ulimit -v)\n";
      return 1;
    } catch (const std::exception& e) {
      // One line, no stack trace: collab::Error messages already name the file, line or key.
      std::string message = e.what();
      if (const auto pos = message.find("\nException raised from"); pos != std::string::npos) {
        message.resize(pos);  // c10::Error appends a C++ backtrace; users need the first line
      }
      // LibTorch's allocator says "DefaultCPUAllocator: can't allocate memory: you tried to
      // allocate N bytes" over several lines; any message must stay one line.
      if (message.find("can't allocate memory") != std::string::npos) {
        message = "out of memory: " + message.substr(0, message.find('\n'));
      }
      for (char& ch : message) {
        if (ch == '\n' || ch == '\r') ch = ' ';
      }
      std::cerr << "collab " << c.name << ": error: " << message << "\n";
      return 1;
    }
  }
  std::cerr << "collab: unknown command \"" << argv[1] << "\"\n\n";
  print_usage(std::cerr);
  return 2;
}
