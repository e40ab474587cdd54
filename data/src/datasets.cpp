#include "collab/data/datasets.h"

#include "collab/common/error.h"
#include "collab/common/utf8.h"

namespace collab {

namespace {

constexpr const char* kBase = "https://files.grouplens.org/datasets/movielens/";

KnownDataset dat_release(const std::string& name, const std::string& folder, const std::string& md5,
                         int64_t size, const std::string& users) {
  // MovieLens 1M and 10M: "::"-separated, latin-1 (titles such as "Misérables" in movies.dat).
  return {name,
          folder,
          kBase + name + ".zip",
          md5,
          size,
          "ratings.dat",
          "::",
          false,
          TextEncoding::kLatin1,
          "movies.dat",
          CatalogueLayout::kMoviesDat,
          users};
}

KnownDataset csv_release(const std::string& name, const std::string& md5, int64_t size) {
  // MovieLens 20M, 25M and latest: CSV with a header, RFC 4180 quoting, UTF-8.
  return {name,
          name,
          kBase + name + ".zip",
          md5,
          size,
          "ratings.csv",
          ",",
          true,
          TextEncoding::kUtf8,
          "movies.csv",
          CatalogueLayout::kMoviesCsv,
          ""};
}

}  // namespace

const std::vector<KnownDataset>& known_datasets() {
  // MD5s: GroupLens' own <zip>.md5 files (ml-100k and ml-1m checked against a download;
  // ml-10m, ml-20m and ml-25m as those files publish them). Sizes where a published or
  // measured one is known. ml-latest and ml-latest-small are regenerated in place, so neither
  // their MD5 nor their size stays valid: nothing is checked for them but the unpacked files.
  static const std::vector<KnownDataset> list = {
      {"ml-100k", "ml-100k", std::string(kBase) + "ml-100k.zip", "0e33842e24a9c977be4e0107933c0723",
       4924029, "u.data", "\t", false, TextEncoding::kAuto, "u.item", CatalogueLayout::kUItem,
       "u.user"},
      dat_release("ml-1m", "ml-1m", "c4d9eecfca2ab87c1945afe126590906", 0, "users.dat"),
      dat_release("ml-10m", "ml-10M100K", "ce571fd55effeba0271552578f2648bd", 65566137, ""),
      csv_release("ml-20m", "cd245b17a1ae2cc31bb14903e1204af3", 198702078),
      csv_release("ml-25m", "6b51fb2759a8657d3bfcbfc42b592ada", 0),
      csv_release("ml-latest-small", "", 0),
      csv_release("ml-latest", "", 0),
  };
  return list;
}

std::string known_dataset_names() {
  std::string names;
  for (const auto& d : known_datasets()) names += (names.empty() ? "" : ", ") + d.name;
  return names;
}

const KnownDataset& find_known_dataset(const std::string& name) {
  for (const auto& d : known_datasets()) {
    if (d.name == name) return d;
  }
  throw Error("unknown dataset " + quoted_for_message(name) +
              "; known datasets: " + known_dataset_names());
}

std::vector<std::string> dataset_files(const KnownDataset& dataset) {
  return {dataset.ratings, dataset.items};
}

}  // namespace collab
