// data.item_key: items keyed by id (the default) or, as fastai's from_df(item_name='title')
// keys them, by their catalogue title, so that ids sharing a title share one vocabulary entry;
// the config checks, what load_dataset builds, and what a user sees through the commands.
#include <gtest/gtest.h>

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collab/train/run_config.h"
#include "collab/common/error.h"
#include "collab/data/dataset.h"
#include "test_support.h"

namespace test_item_key {

namespace {

using collab::json;
using namespace collab::test;  // the shared helpers: test_support.h

// Four ids, two of which (2 and 4) are one film listed twice, as MovieLens 100k lists 18.
const std::string kItems = item_line("1", "Alpha (1995)", "01-Jan-1997", {1}) +
                           item_line("2", "Chasing Amy (1997)", "01-Jan-1997", {5, 8}) +
                           item_line("3", "Gamma (1996)", "01-Jan-1997", {16}) +
                           item_line("4", "Chasing Amy (1997)", "01-Jan-1997", {5, 8});

struct Files {
  std::string dir;
  std::string config;
};

// u.item, train.tsv, valid.tsv and config.json (DotProduct, 2 factors) in a fresh folder.
Files write_files(const std::string& train, const std::string& valid,
                  const std::string& items = kItems) {
  Files f{temp_dir("collab-item-key"), ""};
  write_text(f.dir + "/u.item", items);
  write_text(f.dir + "/train.tsv", train);
  write_text(f.dir + "/valid.tsv", valid);
  f.config = f.dir + "/config.json";
  write_text(f.config, R"({
    "data": {"train": "train.tsv", "valid": "valid.tsv", "items": "u.item"},
    "model": {"arch": "DotProduct", "n_factors": 2},
    "train": {"epochs": 1, "batch_size": 4, "threads": 1}
  })");
  return f;
}

const std::string kTrain = "10\t1\t4\t1\n10\t2\t5\t2\n11\t4\t3\t3\n11\t3\t2\t4\n12\t1\t1\t5\n";
const std::string kValid = "12\t4\t4\t6\n10\t3\t3\t7\n";

collab::Dataset load(const Files& f, const std::string& key) {
  return collab::load_dataset(collab::load_run_config(f.config, {"data.item_key=" + key}).data);
}

std::string load_error(const Files& f, const std::vector<std::string>& overrides) {
  return error_of([&] { collab::load_dataset(collab::load_run_config(f.config, overrides).data); },
                  "load_dataset");
}

}  // namespace

TEST(ItemKey, IdKeysAreTheDefaultAndUnchanged) {
  const Files f = write_files(kTrain, kValid);
  const collab::RunConfig run = collab::load_run_config(f.config, {});
  EXPECT_EQ(run.data.item_key, collab::ItemKey::kId);
  EXPECT_EQ(run.resolved["data"]["item_key"], "id");
  const collab::Dataset d = collab::load_dataset(run.data);
  // One entry per id, in catalogue order, titled; no aliases.
  ASSERT_EQ(d.items.size(), 4);
  EXPECT_EQ(d.items.raws(), (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(d.items.title(3), "Chasing Amy (1997)");
  EXPECT_TRUE(d.items.aliases().empty());
  EXPECT_EQ(d.catalog.genres.size(), 4u);
  EXPECT_EQ(d.train.items, (std::vector<int32_t>{0, 1, 3, 2, 0}));
  EXPECT_EQ(d.valid.items, (std::vector<int32_t>{3, 2}));
  EXPECT_EQ(d.valid_unseen_items, 0);  // id 4 is rated in training
}

TEST(ItemKey, TitleKeysMergeIdsSharingATitleIntoOneRow) {
  const Files f = write_files(kTrain, kValid);
  const collab::Dataset d = load(f, "title");
  ASSERT_EQ(d.items.size(), 3);
  EXPECT_EQ(d.items.raws(),
            (std::vector<std::string>{"Alpha (1995)", "Chasing Amy (1997)", "Gamma (1996)"}));
  EXPECT_EQ(d.items.title(1), "Chasing Amy (1997)");
  // Ids 2 and 4 both land on "Chasing Amy (1997)", in the ratings and in lookups.
  EXPECT_EQ(d.train.items, (std::vector<int32_t>{0, 1, 1, 2, 0}));
  EXPECT_EQ(d.valid.items, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(d.items.find("2"), 1);
  EXPECT_EQ(d.items.find("4"), 1);
  EXPECT_EQ(d.items.find("Gamma (1996)"), 2);
  EXPECT_EQ(d.items.aliases().size(), 4u);
  // The catalogue follows the titles: one row each, the shared title with its genres.
  ASSERT_EQ(d.catalog.genres.size(), 3u);
  EXPECT_EQ(d.catalog.genres[1][5], 1);
  EXPECT_EQ(d.catalog.genres[1][8], 1);
  EXPECT_EQ(d.catalog.genres[2][16], 1);
}

TEST(ItemKey, TitleKeysCountValidationItemsUnseenByTitle) {
  // Id 4 is never rated in training, but its title is (as id 2): under title keys it is seen.
  const Files f = write_files("10\t1\t4\t1\n10\t2\t5\t2\n11\t3\t2\t3\n", "12\t4\t4\t4\n");
  EXPECT_EQ(load(f, "id").valid_unseen_items, 1);
  EXPECT_EQ(load(f, "title").valid_unseen_items, 0);
}

TEST(ItemKey, TitleKeysMakeRepeatedRatingsOfOneFilmDuplicates) {
  // User 10 rated the film under both of its ids: one (user, title) pair twice.
  const Files f = write_files("10\t2\t4\t1\n10\t4\t5\t2\n11\t1\t2\t3\n", "11\t3\t4\t4\n");
  EXPECT_EQ(load(f, "id").duplicate_ratings, 0);
  const collab::Dataset d = load(f, "title");
  EXPECT_EQ(d.duplicate_ratings, 1);
  EXPECT_EQ(d.first_duplicate, "user 10, item Chasing Amy (1997)");
}

TEST(ItemKey, UnknownValueListsTheChoices) {
  const Files f = write_files(kTrain, kValid);
  const std::string message = load_error(f, {"data.item_key=name"});
  EXPECT_EQ(message.rfind("data.item_key: ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "\"id\", \"title\"")) << message;
  EXPECT_TRUE(contains(message, "\"name\"")) << message;
}

TEST(ItemKey, TitleKeysNeedAnItemCatalogue) {
  const Files f = write_files(kTrain, kValid);
  const std::string message = load_error(f, {"data.items=\"\"", "data.item_key=title"});
  EXPECT_EQ(message.rfind("data.item_key: ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "data.items")) << message;
  // Without a catalogue, id keys still work.
  EXPECT_EQ(collab::load_dataset(collab::load_run_config(f.config, {"data.items=\"\""}).data)
                .items.size(),
            4);
}

TEST(ItemKey, TitleKeysRejectARatedItemTheCatalogueLacks) {
  const Files f = write_files(kTrain, "12\t9\t4\t6\n");
  const std::string message = load_error(f, {"data.item_key=title"});
  EXPECT_TRUE(contains(message, f.dir + "/valid.tsv: item 9 is not in " + f.dir + "/u.item"))
      << message;
  EXPECT_TRUE(contains(message, "data.item_key")) << message;
  // Id keys take such an item as an item without a title.
  EXPECT_EQ(load(f, "id").items.size(), 5);
}

TEST(ItemKey, TitleKeysRejectATitleThatIsAnotherItemsId) {
  const Files f = write_files(kTrain, kValid, kItems + item_line("5", "3", "01-Jan-1997", {}));
  const std::string message = load_error(f, {"data.item_key=title"});
  EXPECT_TRUE(contains(message, f.dir + "/u.item")) << message;
  EXPECT_TRUE(contains(message, "\"3\"")) << message;
}

TEST(ItemKey, TitleKeysRejectAnEmptyTitle) {
  const Files f = write_files(kTrain, kValid, kItems + item_line("5", "", "01-Jan-1997", {}));
  const std::string message = load_error(f, {"data.item_key=title"});
  EXPECT_TRUE(contains(message, "item 5 has no title")) << message;
}

// Through the commands: a title-keyed model counts titles, shows titles without a separate id
// column, and still takes item ids in predict, similar and the cold-start ratings, from its
// checkpoint and from its TorchScript export.
TEST(ItemKeyCli, TitleKeyedModelTakesIdsAndShowsTitles) {
  const Files f = write_files(kTrain, kValid);
  const std::string run_dir = f.dir + "/run";
  const auto train = run_collab("train " + shell_quote(f.config) + " --run-dir " +
                                shell_quote(run_dir) + " --set data.item_key=title");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_TRUE(contains(train.out, "3 items")) << train.out;

  const auto similar = run_collab("similar " + shell_quote(run_dir) + " --item 4 --min-ratings 0");
  ASSERT_EQ(similar.exit_code, 0) << similar.err;
  EXPECT_TRUE(contains(similar.out, "items nearest to \"Chasing Amy (1997)\" by")) << similar.out;
  EXPECT_TRUE(contains(similar.out, "rank  cosine  title\n")) << similar.out;

  const auto recommend = run_collab("recommend " + shell_quote(run_dir) + " --user 11");
  ASSERT_EQ(recommend.exit_code, 0) << recommend.err;
  EXPECT_TRUE(contains(recommend.out, "rank  rating  title\n")) << recommend.out;
  const auto cold = run_collab("recommend " + shell_quote(run_dir) + " --ratings 2:5 --json");
  ASSERT_EQ(cold.exit_code, 0) << cold.err;
  const json cold_json = json::parse(cold.out);
  for (const auto& item : cold_json["items"]) {
    EXPECT_NE(item["title"], "Chasing Amy (1997)");  // the rated film (id 2) is left out
    EXPECT_EQ(item["item"], item["title"]);
  }

  const std::string pairs = f.dir + "/pairs.tsv";
  write_text(pairs, "10,2\n10,4\n10,Chasing Amy (1997)\n");
  const std::string model_pt = f.dir + "/model.pt";
  const auto exported =
      run_collab("export " + shell_quote(run_dir) + " --output " + shell_quote(model_pt));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  for (const std::string& model : {run_dir, model_pt}) {
    const auto predict =
        run_collab("predict " + shell_quote(model) + " --input " + shell_quote(pairs));
    ASSERT_EQ(predict.exit_code, 0) << model << ": " << predict.err;
    // Three rows naming one film: three equal predictions.
    std::vector<std::string> values;
    std::istringstream lines(predict.out);
    std::string line;
    std::getline(lines, line);  // "user,item,prediction"
    while (std::getline(lines, line)) values.push_back(line.substr(line.rfind(',') + 1));
    ASSERT_EQ(values.size(), 3u) << predict.out;
    EXPECT_FALSE(values[0].empty()) << predict.out;  // empty: an unknown item
    EXPECT_EQ(values[0], values[1]) << predict.out;
    EXPECT_EQ(values[0], values[2]) << predict.out;
  }
}

}  // namespace test_item_key
