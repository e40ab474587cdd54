#include "collab/data/item_features.h"

#include <algorithm>
#include <cctype>

#include "collab/common/error.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"

namespace collab {

namespace {

std::string folded(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool only_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

std::optional<int> decade_of_name(std::string_view name) {
  if (name.size() != 5 || name.back() != 's' || !only_digits(name.substr(0, 4)))
    return std::nullopt;
  const int year = std::stoi(std::string(name.substr(0, 4)));
  if (year % 10 != 0) return std::nullopt;
  return year;
}

}  // namespace

ItemFeatureSchema ItemFeatureSchema::movielens_100k() {
  ItemFeatureSchema s;
  s.genres.assign(kMovieLensGenreNames.begin(), kMovieLensGenreNames.end());
  return s;
}

ItemFeatureSchema ItemFeatureSchema::of(const ItemCatalog& catalog) {
  ItemFeatureSchema s;
  s.genres = catalog.genre_names;
  int lo = kFirstDecade, hi = kFirstDecade + 10 * (kDecadeFeatures - 1);
  for (const auto& date : catalog.release_dates) {
    if (const auto year = release_year(date)) {
      const int decade = *year - ((*year % 10) + 10) % 10;
      lo = std::min(lo, decade);
      hi = std::max(hi, decade);
    }
  }
  s.first_decade = lo;
  s.decades = (hi - lo) / 10 + 1;
  return s;
}

ItemFeatureSchema ItemFeatureSchema::from_names(const std::vector<std::string>& names) {
  size_t first = names.size();
  while (first > 0 && decade_of_name(names[first - 1])) --first;
  if (first == names.size()) {
    throw Error("item features: the names end in no decade (\"1990s\"), so they are no schema");
  }
  ItemFeatureSchema s;
  s.genres.assign(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(first));
  s.first_decade = *decade_of_name(names[first]);
  s.decades = static_cast<int>(names.size() - first);
  for (int d = 0; d < s.decades; ++d) {
    if (*decade_of_name(names[first + static_cast<size_t>(d)]) != s.first_decade + 10 * d) {
      throw Error("item features: the decades " + names[first] + ".. are not consecutive");
    }
  }
  return s;
}

std::vector<std::string> ItemFeatureSchema::names() const {
  std::vector<std::string> out = genres;
  for (int d = 0; d < decades; ++d) out.push_back(std::to_string(first_decade + 10 * d) + "s");
  return out;
}

int64_t ItemFeatureSchema::decade_column(int year) const {
  const int decade = year < first_decade ? 0 : std::min((year - first_decade) / 10, decades - 1);
  return static_cast<int64_t>(genres.size()) + decade;
}

std::vector<std::string> item_feature_names() {
  return ItemFeatureSchema::movielens_100k().names();
}

int decade_feature(int year) {
  return static_cast<int>(ItemFeatureSchema::movielens_100k().decade_column(year));
}

std::optional<int> release_year(const std::string& date) {
  const std::string_view d = trim(date);
  if (d.size() < 4 || !only_digits(d.substr(d.size() - 4))) return std::nullopt;
  return std::stoi(std::string(d.substr(d.size() - 4)));
}

torch::Tensor item_feature_matrix(const ItemCatalog& catalog, const ItemFeatureSchema& schema,
                                  int64_t n_items) {
  torch::Tensor features = torch::zeros({n_items, schema.size()});
  auto f = features.accessor<float, 2>();
  const int64_t rows = std::min<int64_t>(n_items, static_cast<int64_t>(catalog.genres.size()));
  const size_t n_genres = std::min(schema.genres.size(), catalog.genre_names.size());
  for (int64_t i = 0; i < rows; ++i) {
    const auto& flags = catalog.genres[static_cast<size_t>(i)];
    for (size_t g = 0; g < n_genres && g < flags.size(); ++g) {
      f[i][static_cast<int64_t>(g)] = flags[g];
    }
    if (const auto year = release_year(catalog.release_dates[static_cast<size_t>(i)])) {
      f[i][schema.decade_column(*year)] = 1.0f;
    }
  }
  return features;
}

torch::Tensor parse_item_features(const std::string& spec, const ItemFeatureSchema& schema) {
  const std::vector<std::string> names = schema.names();
  torch::Tensor features = torch::zeros({schema.size()});
  auto f = features.accessor<float, 1>();
  size_t start = 0;
  bool any = false;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    const std::string_view entry = trim(std::string_view(spec).substr(start, comma - start));
    start = comma + 1;
    if (entry.empty()) continue;
    any = true;
    if (only_digits(entry) && entry.size() == 4) {
      f[schema.decade_column(std::stoi(std::string(entry)))] = 1.0f;
      continue;
    }
    const auto it = std::find_if(names.begin(), names.end(),
                                 [&](const std::string& n) { return folded(n) == folded(entry); });
    if (it == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      throw Error("item features: unknown entry " + quoted_for_message(entry) +
                  "; expected genres, decades or 4-digit years among: " + list);
    }
    f[it - names.begin()] = 1.0f;
  }
  if (!any)
    throw Error("item features: empty list (give genres and/or a decade, e.g. \"Drama,1990s\")");
  return features;
}

}  // namespace collab
