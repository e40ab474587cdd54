// One trained model as `collab serve` answers from it: read once, with what the answers need kept
// ready (the items each user rated in training, rating counts, the scorer's user rows, the PCA
// map of the item factors), and never changed afterwards, so that any number of request threads
// share it without locks; a newer checkpoint is served by building a second ServedModel and
// swapping (model_holder.h). Every answer is JSON; a request a client got wrong throws
// RequestError with the HTTP status and the field at fault.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/infer/user_scores.h"
#include "collab/serve/model_source.h"

namespace collab {

// A request the server refuses: `status` 400 (malformed), 404 (unknown user or item) or 413,
// `field` the JSON field or query parameter at fault ("" when none).
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, std::string field, const std::string& message)
      : std::runtime_error(message), status(status), field(std::move(field)) {}
  int status;
  std::string field;
};

// Bounds on what one request may ask (the README's serve section documents them).
struct RequestLimits {
  int64_t max_k = 1000;        // items in a list
  int64_t max_pairs = 10000;   // (user, item) pairs in one predict request
  int64_t max_ratings = 1000;  // ratings given for one new user
};

class ServedModel {
 public:
  // Reads `path` (run dir, checkpoint or model.pt: serve/model_source.h). Without the training
  // data (a model.pt whose data files are elsewhere) it still serves, with nothing left out of
  // recommendations and counts unknown; `log` says so.
  ServedModel(const std::string& path, RequestLimits limits, std::ostream& log);

  const LoadedModel& loaded() const { return loaded_; }

  // GET /info: architecture, sizes, features, y_range, the run's config, the file served.
  json info() const;
  // POST /recommend: {"user": ID} | {"ratings": [{"item": ID|TITLE, "rating": R}, ...]} | {},
  // with "k", "include_seen", "prior_weight", "fallback" ("bias", "mean-user",
  // "representative"), and for a new user "user_features" ({"age": 25, "gender": "F",
  // "occupation": "student", "zip": "55105"}: the metadata model's vector, or with "ratings" the
  // fold-in's prior mean).
  json recommend(const json& request) const;
  // POST /similar: {"item": ID|TITLE} | {"features": "Genre,...,1990s"}, "k", "min_ratings".
  json similar(const json& request) const;
  // POST /predict: {"pairs": [{"user": ID, "item": ID}, ...]}; unknown ids get "score": null
  // and an "error", the others one batched forward pass.
  json predict(const json& request) const;
  // GET /items?q=TEXT&limit=N: items whose title or id contains TEXT (ASCII case ignored), most
  // rated first.
  json search_items(const json& request) const;
  // GET /users/ID: the user's training ratings, highest first (404 for an unknown user).
  json user_ratings(const std::string& raw) const;
  // GET /map: the first two principal components of the most-rated items' factors.
  json item_map() const { return item_map_; }
  // GET /biases?top=N: the items with the lowest and highest learned bias (null without one).
  json biases(const json& request) const;

 private:
  int64_t user_index(const std::string& raw, const std::string& field) const;
  int64_t item_index(const std::string& query, const std::string& field) const;
  int64_t list_size(const json& request) const;
  // `items` as JSON rows with their score under `score_name`; predicted `ratings` are reported
  // on the rating scale (reported_rating) with the model's own number beside them as raw_score.
  json ranked_items(const std::vector<ScoredItem>& items, const char* score_name,
                    bool ratings = false) const;
  torch::Tensor features_vector(const json& request) const;

  LoadedModel loaded_;
  RequestLimits limits_;
  TrainingRatings training_;  // empty when the training data could not be read
  // Read once, not per request: each user's (rating, item) training rows, highest first, and
  // the titles in ASCII lower case for /items.
  std::vector<std::vector<std::pair<float, int64_t>>> ratings_by_user_;
  std::vector<std::string> lower_titles_;
  std::unique_ptr<UserScorer> scorer_;
  json item_map_;
  // CollabNN's fold-in takes gradient steps through the shared model: one at a time.
  mutable std::mutex fold_in_mutex_;
};

}  // namespace collab
