// A hyper-parameter search space for `collab tune`: config keys (dotted, as --set takes them)
// mapped to how their values are drawn.
//
//   "space": {"train.lr_max":       {"log_uniform": [1e-3, 3e-2]},
//             "train.weight_decay": {"uniform": [0.01, 0.3], "num": 4},
//             "model.n_factors":    {"int": [16, 128]},
//             "model.y_range":      {"choice": [[0, 5.5], [0.5, 5.25]]}}
//
// Keys are taken in alphabetical order (JSON objects have none), so "model" (a choice of whole
// sections) is set before "model.n_factors". Random search draws each key independently; grid
// search takes every combination of each key's grid (a choice's values; `num` values evenly
// spaced for uniform and int, log-spaced for log_uniform; `num` defaults to 3).
//
// The space may also be an array of such objects: alternatives, such as one space per
// architecture whose keys make no sense for another (CollabNN has no n_factors, sgd wants other
// learning rates than Adam). Random search first picks an alternative uniformly, then draws its
// keys; grid search takes each alternative's grid in turn.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "collab/common/config_reader.h"

namespace collab {

struct SearchParameter {
  enum class Kind { kChoice, kUniform, kLogUniform, kInt };
  std::string key;  // "train.lr_max"
  Kind kind = Kind::kChoice;
  std::vector<json> choices;  // kChoice
  double low = 0, high = 0;   // the others, inclusive
  int64_t num = 3;            // grid points of a range
};

class SearchSpace {
 public:
  // Reads `space` (the tune config's "space" object); `where` names it in errors
  // ("tune.json: space.train.lr_max: ...").
  SearchSpace(const json& space, const std::string& where);

  // One configuration drawn at random: key -> value (only the drawn alternative's keys).
  json sample(std::mt19937_64& rng) const;
  // Every combination of the grids, in a fixed order (the last key varying fastest).
  std::vector<json> grid() const;
  // Every alternative's keys, each once (the first alternative's spec of a key shared by several).
  const std::vector<SearchParameter>& parameters() const { return parameters_; }

 private:
  std::vector<std::vector<SearchParameter>> alternatives_;
  bool sample_alternative_ = false;  // the space was an array
  std::vector<SearchParameter> parameters_;
};

// `config` with each key of `values` ("a.b.c" -> value) set, as --set sets it.
json with_values(json config, const json& values);

}  // namespace collab
