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

}  // namespace

std::vector<std::string> item_feature_names() {
  std::vector<std::string> names(kMovieLensGenreNames.begin(), kMovieLensGenreNames.end());
  for (int d = 0; d < kDecadeFeatures; ++d) {
    names.push_back(std::to_string(kFirstDecade + 10 * d) + "s");
  }
  return names;
}

std::optional<int> release_year(const std::string& date) {
  const std::string_view d = trim(date);
  if (d.size() < 4 || !only_digits(d.substr(d.size() - 4))) return std::nullopt;
  return std::stoi(std::string(d.substr(d.size() - 4)));
}

int decade_feature(int year) {
  const int decade = std::clamp((year - kFirstDecade) / 10, 0, kDecadeFeatures - 1);
  return kMovieLensGenres + (year < kFirstDecade ? 0 : decade);
}

torch::Tensor item_feature_matrix(const ItemCatalog& catalog, int64_t n_items) {
  torch::Tensor features = torch::zeros({n_items, kItemFeatures});
  auto f = features.accessor<float, 2>();
  const int64_t rows = std::min<int64_t>(n_items, static_cast<int64_t>(catalog.genres.size()));
  for (int64_t i = 0; i < rows; ++i) {
    const auto& flags = catalog.genres[static_cast<size_t>(i)];
    for (int g = 0; g < kMovieLensGenres; ++g) f[i][g] = flags[static_cast<size_t>(g)];
    if (const auto year = release_year(catalog.release_dates[static_cast<size_t>(i)])) {
      f[i][decade_feature(*year)] = 1.0f;
    }
  }
  return features;
}

torch::Tensor parse_item_features(const std::string& spec) {
  const std::vector<std::string> names = item_feature_names();
  torch::Tensor features = torch::zeros({kItemFeatures});
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
      f[decade_feature(std::stoi(std::string(entry)))] = 1.0f;
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
