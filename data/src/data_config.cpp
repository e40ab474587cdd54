#include "collab/data/data_config.h"

#include <cstdlib>
#include <filesystem>

#include "collab/common/error.h"
#include "collab/common/utf8.h"
#include "collab/data/datasets.h"
#include "collab/data/protocol.h"

namespace collab {

namespace fs = std::filesystem;

std::string default_data_root() {
  if (const char* dir = std::getenv("COLLAB_DATA_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return (fs::path(xdg) / "collab").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".local" / "share" / "collab").string();
}

std::string resolve_path(const std::string& value, const std::string& base_dir,
                         const std::string& key) {
  std::string out;
  for (size_t i = 0; i < value.size();) {
    if (value.compare(i, 2, "${") == 0) {
      const size_t close = value.find('}', i);
      if (close == std::string::npos)
        throw Error(key + ": unclosed ${ in " + quoted_for_message(value));
      const std::string name = value.substr(i + 2, close - i - 2);
      const char* env = std::getenv(name.c_str());
      if (name == "COLLAB_DATA_DIR") {
        out += default_data_root();
      } else if (env) {
        out += env;
      } else {
        throw Error(key + ": environment variable " + quoted_for_message(name) + " in " +
                    quoted_for_message(value) + " is not set");
      }
      i = close + 1;
    } else {
      out += value[i++];
    }
  }
  if (out.empty()) throw Error(key + ": empty path");
  fs::path p(out);
  if (p.is_relative()) p = fs::path(base_dir) / p;
  return p.lexically_normal().string();
}

namespace {

// data.delimiter: one or more characters ("\t", ",", "::"), none of them a line end or a quote
// (a record is one line, and quotes belong to CSV fields).
std::string read_delimiter(ConfigReader& r, const std::string& fallback) {
  const std::string delimiter = r.string("delimiter", fallback);
  if (delimiter.empty() || delimiter.size() > 8 ||
      delimiter.find_first_of("\r\n\"") != std::string::npos) {
    r.fail("delimiter",
           "expected 1 to 8 characters such as \"\\t\", \",\" or \"::\" (no line "
           "end, no quote), got " +
               quoted_for_message(delimiter));
  }
  return delimiter;
}

TextEncoding read_encoding(ConfigReader& r, TextEncoding fallback) {
  const std::string name =
      r.choice("encoding", {"auto", "utf-8", "latin-1"}, std::string(text_encoding_name(fallback)));
  return name == "utf-8"     ? TextEncoding::kUtf8
         : name == "latin-1" ? TextEncoding::kLatin1
                             : TextEncoding::kAuto;
}

// data.items_format (guessed from the catalogue's file name when absent), and for "csv" its
// data.items_delimiter and data.item_columns {"id", "title", "labels": [...]}.
CatalogueFormat read_catalogue_format(ConfigReader& r, const std::string& items) {
  CatalogueFormat f;
  const std::string guess = catalogue_layout_name(guess_catalogue_layout(items));
  const std::string layout =
      r.choice("items_format", {"u.item", "movies.dat", "movies.csv", "csv"}, guess);
  f.layout = layout == "movies.dat"   ? CatalogueLayout::kMoviesDat
             : layout == "movies.csv" ? CatalogueLayout::kMoviesCsv
             : layout == "csv"        ? CatalogueLayout::kCsv
                                      : CatalogueLayout::kUItem;
  if (f.layout != CatalogueLayout::kCsv) {
    for (const char* key : {"items_delimiter", "item_columns"}) {
      if (r.has(key)) r.fail(key, "only for data.items_format \"csv\"");
    }
    return f;
  }
  f.delimiter = r.string("items_delimiter", ",");
  if (f.delimiter.empty() || f.delimiter.find_first_of("\r\n\"") != std::string::npos) {
    r.fail("items_delimiter", "expected one or more characters, no line end or quote");
  }
  if (!r.has("item_columns")) {
    r.fail("item_columns",
           "missing; data.items_format \"csv\" needs {\"id\": COLUMN, \"title\": "
           "COLUMN} (header names), and optionally \"labels\": [COLUMN, ...]");
  }
  ConfigReader columns = r.object("item_columns");
  f.id_column = columns.string("id");
  f.title_column = columns.string("title");
  const json labels = columns.raw("labels", json::array());
  if (!labels.is_array()) columns.fail("labels", "expected an array of column names");
  for (const auto& l : labels) {
    if (!l.is_string()) columns.fail("labels", "expected an array of column names");
    f.label_columns.push_back(l.get<std::string>());
  }
  columns.finish();
  return f;
}

// data.train + data.valid (a predefined split), or data.ratings split at random by data.valid_pct
// and data.split_seed: the keys from before data.split, which keep their meaning.
template <typename File>
void read_old_split_keys(ConfigReader& r, DataConfig& c, const std::string& known_ratings,
                         File& file) {
  const bool predefined = r.has("train") || r.has("valid");
  if (predefined) {
    if (!r.has("train") || !r.has("valid")) {
      r.fail(r.has("train") ? "valid" : "train",
             "missing; a predefined split needs both data.train and data.valid");
    }
    if (r.has("ratings")) {
      r.fail("ratings", "give either data.ratings (random split) or data.train and data.valid");
    }
    c.train = file("train", "");
    c.valid = file("valid", "");
    c.split.kind = ProtocolKind::kPredefinedKFold;
    c.split.name = "predefined";
    c.split.folds = 1;
    c.split.train_pattern = c.train;
    c.split.test_pattern = c.valid;
  } else {
    c.ratings = file("ratings", known_ratings);
    if (c.ratings.empty()) r.fail("ratings", "missing; name a ratings file (or data.train/valid)");
    c.valid_pct = r.number("valid_pct", 0.2, {0, 1, false, false, "a number in (0, 1)"});
    c.split_seed = static_cast<uint64_t>(r.integer("split_seed", 42, 0));
    c.split.seeds = {c.split_seed};
    c.split.valid_pct = c.valid_pct;
  }
}

// data.split (protocol.h), which replaces the old keys: giving both is an error naming the old
// key. Every kind but "predefined" splits data.ratings.
template <typename File>
void read_split_section(ConfigReader& r, DataConfig& c, const std::string& known_ratings,
                        File& file) {
  for (const char* key : {"train", "valid", "valid_pct", "split_seed"}) {
    if (r.has(key)) {
      r.fail(key, "data.split gives the split; remove this key (or data.split)");
    }
  }
  ConfigReader split = r.object("split");
  c.split = read_split_config(split, c.dir);
  if (c.split.kind == ProtocolKind::kPredefinedKFold) {
    if (r.has("ratings")) {
      r.fail("ratings",
             "not read by data.split \"predefined\", which names its own train and "
             "valid files; remove it");
    }
    c.train = c.split.train_pattern;
    c.valid = c.split.test_pattern;
    return;
  }
  c.ratings = file("ratings", known_ratings);
  if (c.ratings.empty()) {
    r.fail("ratings", "missing; data.split \"" + c.split.name + "\" splits a ratings file");
  }
  if (c.split.kind == ProtocolKind::kRandom) {
    c.valid_pct = c.split.valid_pct;
    c.split_seed = c.split.seeds.at(0);
  }
}

}  // namespace

std::string default_user_file(const DataConfig& data) {
  std::vector<fs::path> folders;
  if (!data.items.empty()) folders.push_back(fs::path(data.items).parent_path());
  if (!data.dir.empty()) folders.push_back(data.dir);
  for (const auto& folder : folders) {
    for (const char* name : {"u.user", "users.dat"}) {
      std::error_code ec;
      if (fs::is_regular_file(folder / name, ec)) return (folder / name).string();
    }
  }
  return "";
}

DataConfig read_data_config(ConfigReader& r, const std::string& config_dir) {
  DataConfig c;
  std::vector<std::string> names = {""};
  for (const auto& d : known_datasets()) names.push_back(d.name);
  c.dataset = r.choice("dataset", names, std::string());
  // A named dataset supplies every file name and format below as its defaults.
  const KnownDataset* known = c.dataset.empty() ? nullptr : &find_known_dataset(c.dataset);
  const std::string default_dir =
      known ? (fs::path(default_data_root()) / known->folder).string() : config_dir;
  c.dir = r.has("dir") ? resolve_path(r.string("dir"), config_dir, r.path_of("dir")) : default_dir;
  r.set_resolved("dir", c.dir);

  auto file = [&](const std::string& key, const std::string& fallback) -> std::string {
    const std::string value = r.string(key, fallback);
    if (value.empty()) return {};
    std::string path = resolve_path(value, c.dir, r.path_of(key));
    r.set_resolved(key, path);  // absolute, so the resolved config reads the same from anywhere
    return path;
  };
  if (r.has("split")) {
    read_split_section(r, c, known ? known->ratings : "", file);
  } else {
    read_old_split_keys(r, c, known ? known->ratings : "", file);
  }
  c.items = file("items", known ? known->items : "");
  c.items_format = read_catalogue_format(r, c.items);
  if (r.choice("item_key", {"id", "title"}, std::string("id")) == "title") {
    if (c.items.empty()) {
      r.fail("item_key",
             "\"title\" keys items by the titles of an item catalogue: set data.items (a "
             "MovieLens u.item) or use \"id\"");
    }
    c.item_key = ItemKey::kTitle;
  }

  c.format.delimiter = read_delimiter(r, known ? known->delimiter : "\t");
  c.format.header = r.boolean("header", known ? known->header : false);
  c.format.rating_range = r.optional_range("rating_range");
  c.max_ratings_per_user = r.integer("max_ratings_per_user", 0, /*min=*/0);
  c.format.encoding = read_encoding(r, known ? known->encoding : TextEncoding::kAuto);
  c.items_format.encoding = c.format.encoding;
  const std::string cache = r.choice("cache", {"auto", "always", "never"}, std::string("auto"));
  c.cache.mode = cache == "always"  ? CacheMode::kAlways
                 : cache == "never" ? CacheMode::kNever
                                    : CacheMode::kAuto;
  if (r.has("cache_dir")) {
    c.cache.dir = resolve_path(r.string("cache_dir"), config_dir, r.path_of("cache_dir"));
    r.set_resolved("cache_dir", c.cache.dir);
  }
  r.finish();
  return c;
}

}  // namespace collab
