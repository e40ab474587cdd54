// `collab predict MODEL --input pairs.csv [--output FILE]`: predicted ratings for raw
// (user, item) pairs from a checkpoint, a run dir or an exported model.pt. Rows whose user or
// item the model never saw are reported and left without a prediction, never mapped to index 0.
// When the input has a third column of ratings, the RMSE over the known rows is printed too.
// Predictions are clipped to the run's data.rating_range when it sets one (reported_rating).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "collab/app/commands.h"
#include "collab/app/model_args.h"
#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/data/delimited.h"
#include "collab/data/ratings.h"
#include "collab/serve/model_source.h"
#include "collab/serve/queries.h"

namespace collab {

namespace {

struct PairRow {
  size_t line;
  std::string user, item;
  double rating;  // NaN when the input has no rating column
};

std::vector<PairRow> read_pairs(const std::string& path, const std::string& delimiter,
                                bool header) {
  const std::string text = read_file(path);
  std::vector<PairRow> rows;
  for_each_record_line(text, header, [&](size_t line_no, std::string_view line) {
    std::string_view fields[3];
    const size_t n = split_fields(line, delimiter, fields, 3);
    if (n < 2 || fields[0].empty() || fields[1].empty()) {
      throw Error(path + ":" + std::to_string(line_no) + ": expected user" + delimiter + "item[" +
                  delimiter + "rating...], got " + quoted_for_message(line));
    }
    double rating = std::nan("");
    if (n >= 3) {
      // A rating that is not a number would silently leave the RMSE; name it instead.
      const std::string value(fields[2]);
      size_t used = 0;
      try {
        rating = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != value.size() || !std::isfinite(rating)) {
        throw Error(path + ":" + std::to_string(line_no) + ": rating " + quoted_for_message(value) +
                    " is not a finite number");
      }
    }
    rows.push_back({line_no, std::string(fields[0]), std::string(fields[1]), rating});
  });
  return rows;
}

// The model's predictions for `rows`, NaN where the user or item is unknown to it. Known rows go
// to the model in one batch; unknown ones keep their place.
struct Predictions {
  std::vector<double> values;
  size_t unknown = 0;
  std::string first_unknown;  // "FILE:LINE user \"ID\"", for the note
};

Predictions predict_rows(const LoadedModel& loaded, const std::vector<PairRow>& rows,
                         const std::string& input) {
  Predictions out;
  std::vector<int64_t> flat;
  std::vector<size_t> known;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto u = loaded.users.find(rows[r].user);
    const auto i = loaded.items.find(rows[r].item);
    if (!u || !i) {
      if (out.unknown++ == 0) {
        const std::string what =
            !u ? "user \"" + rows[r].user + "\"" : "item \"" + rows[r].item + "\"";
        out.first_unknown = input + ":" + std::to_string(rows[r].line) + " " + what;
      }
      continue;
    }
    known.push_back(r);
    flat.push_back(*u);
    flat.push_back(*i);
  }
  out.values.assign(rows.size(), std::nan(""));
  const auto known_values = predict_pairs(*loaded.model, std::move(flat));
  for (size_t k = 0; k < known.size(); ++k) {
    out.values[known[k]] = reported_rating(known_values[k], loaded.rating_range);
  }
  return out;
}

// Writes the predictions as CSV to `output` (whole and atomically, like every file collab
// writes) or to standard output (""); prints the RMSE over the rows that carry a rating.
void write_predictions(const std::vector<PairRow>& rows, const std::vector<double>& predictions,
                       const std::string& output) {
  std::ostringstream csv;
  std::ostream& out = output.empty() ? std::cout : csv;
  out << "user,item,prediction\n";
  double squared = 0;
  size_t rated = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    out << csv_field(rows[r].user) << ',' << csv_field(rows[r].item) << ',';  // ids may hold commas
    if (!std::isnan(predictions[r])) {
      char value[32];
      std::snprintf(value, sizeof value, "%.6f", predictions[r]);
      out << value;
      if (!std::isnan(rows[r].rating)) {
        squared += std::pow(predictions[r] - rows[r].rating, 2);
        ++rated;
      }
    }
    out << '\n';
  }
  if (!output.empty()) {
    write_file_atomically(output, csv.str());
  } else {
    out.flush();
    if (!out) throw Error("cannot write the predictions");
  }
  if (rated > 0) {
    std::cerr << "rmse " << std::sqrt(squared / static_cast<double>(rated)) << " over " << rated
              << " rated rows\n";
  }
}

}  // namespace

int predict_command(int argc, char** argv) {
  cxxopts::Options options("collab predict",
                           "Predicted ratings for raw (user, item) pairs: "
                           "collab predict MODEL --input pairs.csv [--output FILE]");
  options.positional_help("MODEL (a .ckpt file, a run dir, or an exported model.pt)");
  // clang-format off
  options.add_options()
      ("input", "file of user,item[,rating] rows (raw ids)", cxxopts::value<std::string>())
      ("output", "CSV to write (default: standard output)", cxxopts::value<std::string>())
      ("delimiter", "field separator of the input", cxxopts::value<std::string>()->default_value(","))
      ("header", "the input's first line is a header");
  // clang-format on
  const ModelArgs parsed =
      parse_model_args(options, argc, argv, "predict", "collab predict MODEL --input FILE");
  if (parsed.help) return 0;
  const cxxopts::ParseResult& result = parsed.result;
  if (!result.count("input")) throw std::invalid_argument("need --input FILE of user,item rows");
  std::string delimiter = result["delimiter"].as<std::string>();
  if (delimiter == "\\t" || delimiter == "tab") delimiter = "\t";
  if (delimiter.empty() || delimiter.find_first_of("\r\n\"") != std::string::npos) {
    throw std::invalid_argument("--delimiter must be one or more characters, no line end or quote");
  }

  const std::string input = result["input"].as<std::string>();
  const std::string output = result.count("output") ? result["output"].as<std::string>() : "";
  if (!output.empty()) {
    refuse_overwriting_input(output, input, "the --input file");
    refuse_overwriting_input(output, parsed.model, "the model");
  }
  const std::vector<PairRow> rows = read_pairs(input, delimiter, result.count("header") > 0);
  const LoadedModel loaded = load_trained_model(parsed.model);

  const Predictions predictions = predict_rows(loaded, rows, input);
  if (predictions.unknown > 0) {
    std::cerr << "note: " << predictions.unknown << " of " << rows.size()
              << " rows have a user or item the model never saw (first: "
              << predictions.first_unknown << "); their prediction is left empty\n";
  }
  write_predictions(rows, predictions.values, output);
  return 0;
}

}  // namespace collab
