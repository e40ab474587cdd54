// collab's one SVG writer: for `collab compare`, line charts with an optional band per series
// (learning curves across folds) and grids of bar panels with error bars (final metrics); for
// `collab interpret --plot`, a labelled scatter plot (the PCA map of the items).
// Our own, dependency-free and deterministic: the same numbers always give the same bytes.
// Every series (line + band, or one candidate's bars) is one <g class="series" data-name="...">,
// so tests and scripts can find them.
#pragma once

#include <string>
#include <vector>

namespace collab {

struct LineSeries {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
  std::vector<double> lo;  // band from lo to hi at each x; both empty: no band
  std::vector<double> hi;
  double point_radius = 3;  // of the circle marking each point
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<LineSeries> series;
  bool integer_x = true;  // x ticks at integers only (epochs)
};

// One metric: one bar per group (candidate), with a symmetric error bar (0: none).
struct BarPanel {
  std::string title;
  std::vector<double> value;
  std::vector<double> error;
};

struct BarChart {
  std::string title;
  std::vector<std::string> groups;  // legend entries, one colour each
  std::vector<BarPanel> panels;
  int columns = 3;
};

std::string line_chart_svg(const LineChart& chart);
std::string bar_chart_svg(const BarChart& chart);

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

// Points captioned by their labels. Labels are placed greedily beside their point where they
// overlap nothing already drawn, so a few dozen titles stay readable; long ones are shortened to
// 32 characters with an ellipsis.
std::string svg_scatter(const std::vector<LabelledPoint>& points, const ScatterText& text);

// Round tick values covering [lo, hi], about `target` of them (1, 2 or 5 times a power of ten).
std::vector<double> nice_ticks(double lo, double hi, int target);

// `text` with &, <, >, " and ' escaped for XML text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace collab
