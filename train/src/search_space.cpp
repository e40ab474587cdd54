#include "collab/train/search_space.h"

#include <algorithm>
#include <cmath>

#include "collab/common/error.h"
#include "collab/common/utf8.h"
#include "collab/train/run_config.h"

namespace collab {

namespace {

constexpr size_t kMaxGrid = 100000;  // configurations a grid may hold

Error too_large_grid() {
  return Error("tune: the grid has more than " + std::to_string(kMaxGrid) + " configurations");
}

// The [low, high] pair under `name`, checked.
void read_range(const json& spec, const std::string& name, const std::string& where,
                SearchParameter& p) {
  const json& range = spec[name];
  if (!range.is_array() || range.size() != 2 || !range[0].is_number() || !range[1].is_number()) {
    throw Error(where + ": \"" + name + "\" expects [low, high], got " + describe(range));
  }
  p.low = range[0].get<double>();
  p.high = range[1].get<double>();
  if (!std::isfinite(p.low) || !std::isfinite(p.high) || p.low > p.high) {
    throw Error(where + ": \"" + name + "\" expects low <= high, got " + describe(range));
  }
  if (p.kind == SearchParameter::Kind::kLogUniform && p.low <= 0) {
    throw Error(where + ": \"log_uniform\" needs a positive low, got " + describe(range));
  }
  if (p.kind == SearchParameter::Kind::kInt &&
      (p.low != std::floor(p.low) || p.high != std::floor(p.high))) {
    throw Error(where + ": \"int\" expects two integers, got " + describe(range));
  }
}

SearchParameter read_parameter(const std::string& key, const json& spec, const std::string& where) {
  if (!spec.is_object() || spec.empty()) {
    throw Error(where + ": expected an object such as {\"log_uniform\": [1e-3, 1e-1]}, got " +
                describe(spec));
  }
  SearchParameter p;
  p.key = key;
  int kinds = 0;
  for (const auto& [name, value] : spec.items()) {
    if (name == "choice") {
      if (!value.is_array() || value.empty()) {
        throw Error(where + ": \"choice\" expects a non-empty array, got " + describe(value));
      }
      p.kind = SearchParameter::Kind::kChoice;
      p.choices.assign(value.begin(), value.end());
      ++kinds;
    } else if (name == "uniform" || name == "log_uniform" || name == "int") {
      p.kind = name == "uniform"     ? SearchParameter::Kind::kUniform
               : name == "int"       ? SearchParameter::Kind::kInt
                                     : SearchParameter::Kind::kLogUniform;
      read_range(spec, name, where, p);
      ++kinds;
    } else if (name == "num") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 1000) {
        throw Error(where + ": \"num\" expects an integer in [1, 1000], got " + describe(value));
      }
      p.num = value.get<int64_t>();
    } else {
      throw Error(where + ": unknown key " + quoted_for_message(name) +
                  " (expected one of \"choice\", \"uniform\", \"log_uniform\", \"int\", \"num\")");
    }
  }
  if (kinds != 1) {
    throw Error(where + ": give exactly one of \"choice\", \"uniform\", \"log_uniform\", \"int\"");
  }
  return p;
}

json grid_values(const SearchParameter& p) {
  json out = json::array();
  if (p.kind == SearchParameter::Kind::kChoice) {
    for (const json& c : p.choices) out.push_back(c);
    return out;
  }
  for (int64_t k = 0; k < p.num; ++k) {
    const double t = p.num == 1 ? 0.5 : static_cast<double>(k) / static_cast<double>(p.num - 1);
    if (p.kind == SearchParameter::Kind::kLogUniform) {
      out.push_back(std::exp(std::log(p.low) + t * (std::log(p.high) - std::log(p.low))));
    } else if (p.kind == SearchParameter::Kind::kInt) {
      const int64_t v = static_cast<int64_t>(std::llround(p.low + t * (p.high - p.low)));
      if (out.empty() || out.back().get<int64_t>() != v) out.push_back(v);
    } else {
      out.push_back(p.low + t * (p.high - p.low));
    }
  }
  return out;
}

std::vector<SearchParameter> read_alternative(const json& space, const std::string& where) {
  if (!space.is_object() || space.empty()) {
    throw Error(where + ": expected an object of config keys, e.g. {\"train.lr_max\": "
                        "{\"log_uniform\": [1e-3, 3e-2]}}, got " + describe(space));
  }
  std::vector<SearchParameter> out;
  for (const auto& [key, spec] : space.items()) {
    out.push_back(read_parameter(key, spec, where + "." + quoted_for_message(key)));
  }
  return out;
}

json sample_alternative(const std::vector<SearchParameter>& parameters, std::mt19937_64& rng) {
  json values = json::object();
  // Drawn from the 53 high bits by hand rather than std::uniform_real_distribution, whose
  // algorithm the standard leaves to the library: a tune dir resumed by another build draws the
  // same trials.
  auto unit = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  for (const SearchParameter& p : parameters) {
    switch (p.kind) {
      case SearchParameter::Kind::kChoice:
        values[p.key] = p.choices[static_cast<size_t>(rng() % p.choices.size())];
        break;
      case SearchParameter::Kind::kUniform:
        values[p.key] = p.low + unit() * (p.high - p.low);
        break;
      case SearchParameter::Kind::kLogUniform:
        values[p.key] = std::exp(std::log(p.low) + unit() * (std::log(p.high) - std::log(p.low)));
        break;
      case SearchParameter::Kind::kInt: {
        const auto span = static_cast<uint64_t>(p.high - p.low) + 1;
        values[p.key] = static_cast<int64_t>(p.low) + static_cast<int64_t>(rng() % span);
        break;
      }
    }
  }
  return values;
}

std::vector<json> grid_of(const std::vector<SearchParameter>& parameters) {
  std::vector<json> out = {json::object()};
  for (const SearchParameter& p : parameters) {
    std::vector<json> next;
    for (const json& partial : out) {
      for (const json& v : grid_values(p)) {
        json combined = partial;
        combined[p.key] = v;
        next.push_back(std::move(combined));
      }
    }
    out = std::move(next);
    if (out.size() > kMaxGrid) throw too_large_grid();
  }
  return out;
}

}  // namespace

SearchSpace::SearchSpace(const json& space, const std::string& where) {
  if (space.is_array()) {
    if (space.empty()) {
      throw Error(where + ": expected a non-empty array of alternative spaces (objects of config "
                          "keys), got []");
    }
    for (size_t a = 0; a < space.size(); ++a) {
      alternatives_.push_back(read_alternative(space[a], where + "[" + std::to_string(a) + "]"));
    }
    sample_alternative_ = true;
  } else {
    alternatives_.push_back(read_alternative(space, where));
  }
  // The union of the alternatives' keys, each once (the reports' columns and plots).
  for (const auto& alternative : alternatives_) {
    for (const SearchParameter& p : alternative) {
      const bool seen = std::any_of(parameters_.begin(), parameters_.end(),
                                    [&p](const SearchParameter& q) { return q.key == p.key; });
      if (!seen) parameters_.push_back(p);
    }
  }
}

json SearchSpace::sample(std::mt19937_64& rng) const {
  // A single space draws no alternative, so that its tunes draw what they drew before lists.
  const size_t a = sample_alternative_ ? static_cast<size_t>(rng() % alternatives_.size()) : 0;
  return sample_alternative(alternatives_[a], rng);
}

std::vector<json> SearchSpace::grid() const {
  std::vector<json> out;
  for (const auto& alternative : alternatives_) {
    for (json& values : grid_of(alternative)) out.push_back(std::move(values));
    if (out.size() > kMaxGrid) throw too_large_grid();
  }
  return out;
}

json with_values(json config, const json& values) {
  for (const auto& [key, value] : values.items()) apply_override(config, key + "=" + value.dump());
  return config;
}

}  // namespace collab
