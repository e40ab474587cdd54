// The MovieLens releases collab knows by name (data.dataset, `collab data fetch NAME`,
// `collab data list`): where each is published, how its archive is checked, the folder its zip
// unpacks to, and the layout of its ratings, item and user files, so that a config naming a
// dataset needs no file names or formats.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collab/common/utf8.h"
#include "collab/data/item_catalog.h"

namespace collab {

struct KnownDataset {
  std::string name;    // "ml-10m"
  std::string folder;  // what its zip unpacks to: "ml-10M100K"
  std::string url;
  // The archive's MD5 as GroupLens publishes it (its <zip>.md5 file), or "" where there is none
  // that stays valid (ml-latest*, regenerated in place); `size` 0 where no size is known.
  std::string md5;
  int64_t size = 0;
  // The ratings file and its format.
  std::string ratings;
  std::string delimiter;
  bool header = false;
  TextEncoding encoding = TextEncoding::kAuto;
  // The item catalogue and its layout; the user file ("" when the release has none), listed and
  // checked for presence (user features are not read yet).
  std::string items;
  CatalogueLayout items_layout = CatalogueLayout::kUItem;
  std::string users;
};

// Every known dataset, in release order.
const std::vector<KnownDataset>& known_datasets();
// The names, comma-separated, for messages.
std::string known_dataset_names();
// The dataset `name`; throws collab::Error listing the known names.
const KnownDataset& find_known_dataset(const std::string& name);
// The files whose presence marks a complete copy: the ratings and the items (the user file is
// not required, as collab reads none yet, so copies made by hand before it was listed count).
std::vector<std::string> dataset_files(const KnownDataset& dataset);

}  // namespace collab
