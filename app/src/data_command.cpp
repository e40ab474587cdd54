// `collab data fetch <dataset>`: downloads, verifies and unpacks a known dataset into the data
// root (or --dest), printing the dataset's folder on stdout. `collab data list`: the known
// datasets, their files and checks, and whether each is present in the data root (or --dest).
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/common/cli.h"
#include "collab/data/data_config.h"
#include "collab/data/datasets.h"
#include "collab/data/fetch.h"

namespace collab {

namespace {

// What the archive's download is checked against, in words.
std::string checks_of(const KnownDataset& d) {
  if (!d.md5.empty() && d.size > 0) return "MD5+size";
  if (!d.md5.empty()) return "MD5";
  if (d.size > 0) return "size";
  return "none (changes)";
}

void list_datasets(const std::string& root) {
  std::cout << "data root: " << root << "\n";
  std::printf("%-16s %-8s %-16s %-12s %-11s %-10s %s\n", "dataset", "present", "folder", "ratings",
              "items", "users", "download checked by");
  for (const auto& d : known_datasets()) {
    std::printf("%-16s %-8s %-16s %-12s %-11s %-10s %s\n", d.name.c_str(),
                dataset_present(d.name, root) ? "yes" : "no", d.folder.c_str(), d.ratings.c_str(),
                d.items.c_str(), d.users.empty() ? "-" : d.users.c_str(), checks_of(d).c_str());
  }
}

}  // namespace

int data_command(int argc, char** argv) {
  cxxopts::Options options(
      "collab data", "Get datasets: collab data fetch <dataset> [options] | collab data list");
  options.positional_help("fetch <dataset> | list");
  // clang-format off
  options.add_options()
      ("dest", "folder to put <dataset>/ in (default: $COLLAB_DATA_DIR, else "
               "$XDG_DATA_HOME/collab, else ~/.local/share/collab)", cxxopts::value<std::string>())
      ("url", "download from this URL (http, https or file) instead of the official one",
              cxxopts::value<std::string>())
      ("md5", "expected MD5 of the archive (\"\" skips the check)", cxxopts::value<std::string>())
      ("size", "expected size of the archive in bytes (0 skips the check)",
               cxxopts::value<int64_t>())
      ("quiet", "no progress output");
  // clang-format on
  const CommandLine line =
      parse_command_line(options, argc, argv,
                         {"data", "collab data fetch <dataset>", "a subcommand (fetch, list)", 1, 2,
                          "known datasets: " + known_dataset_names() + "\n"});
  if (line.help) return 0;
  const cxxopts::ParseResult& result = line.options;
  const std::vector<std::string>& args = line.positionals;
  const std::string dest =
      result.count("dest") ? result["dest"].as<std::string>() : default_data_root();
  if (args[0] == "list") {
    if (args.size() > 1) throw std::invalid_argument("data list takes no dataset name");
    list_datasets(dest);
    return 0;
  }
  if (args[0] != "fetch") {
    throw std::invalid_argument("unknown data subcommand \"" + args[0] +
                                "\"; the subcommands are fetch and list");
  }
  if (args.size() < 2) throw std::invalid_argument("need a dataset name after fetch, e.g. ml-100k");

  DatasetSource source = known_dataset(args[1]);
  if (result.count("url")) source.url = result["url"].as<std::string>();
  if (result.count("md5")) {
    source.md5 = result["md5"].as<std::string>();
    if (!source.md5.empty() &&
        (source.md5.size() != 32 ||
         source.md5.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)) {
      throw std::invalid_argument("--md5 wants 32 hex digits, got \"" + source.md5 + "\"");
    }
  }
  if (result.count("size")) {
    source.size = result["size"].as<int64_t>();
    if (source.size < 0) throw std::invalid_argument("--size must be a byte count >= 0");
  }
  const bool quiet = result.count("quiet") > 0;
  const bool present = dataset_present(source.name, dest);
  const std::string dir = fetch_dataset(source, dest, quiet);  // returns at once when present
  if (!quiet) {
    std::cerr << source.name << (present ? " was already in " : " is ready in ") << dir << "\n";
    if (source.md5.empty() && !present) {
      std::cerr << "note: " << source.name << " has no published checksum that stays valid; "
                << "the download was checked only for its files\n";
    }
  }
  std::cout << dir << "\n";
  return 0;
}

}  // namespace collab
