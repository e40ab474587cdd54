// A labelled scatter plot as a standalone SVG file, for `collab interpret --plot`: the seed's PCA
// map of movies, each point captioned by its title. Labels are placed greedily beside their
// point where they overlap nothing already drawn, so a few dozen titles stay readable.
#pragma once

#include <string>
#include <vector>

namespace collab {

struct LabelledPoint {
  double x;
  double y;
  std::string label;  // UTF-8; escaped for XML here
};

struct ScatterText {
  std::string title;
  std::string x_label;
  std::string y_label;
};

// The SVG document. Long labels are shortened to 32 characters with an ellipsis.
std::string svg_scatter(const std::vector<LabelledPoint>& points, const ScatterText& text);

}  // namespace collab
