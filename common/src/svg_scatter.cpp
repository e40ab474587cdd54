// svg_scatter (svg_plot.h): the labelled scatter plot of `collab interpret --plot`.
#include <algorithm>
#include <cmath>

#include "collab/common/svg_plot.h"
#include "collab/common/utf8.h"
#include "svg_elements.h"

namespace collab {

namespace {

constexpr double kScatterWidth = 1200, kScatterHeight = 900, kMargin = 70;
constexpr double kFontSize = 12, kCharWidth = 6.4;  // average glyph advance of 12px sans-serif
constexpr size_t kMaxLabel = 32;

struct Box {
  double x0, y0, x1, y1;
  double overlap(const Box& o) const {
    const double w = std::min(x1, o.x1) - std::max(x0, o.x0);
    const double h = std::min(y1, o.y1) - std::max(y0, o.y0);
    return w > 0 && h > 0 ? w * h : 0;
  }
};

// Where a label goes: its text anchor (baseline) and the box it covers.
struct Placement {
  double x, y;
  const char* anchor;
  Box box;
};

// The label of `w` x kFontSize beside the point at (x, y) that overlaps least what is already
// `placed`: right, left, above, below the point, then further out.
Placement place_label(double x, double y, double w, const std::vector<Box>& placed) {
  const double h = kFontSize;
  std::vector<Placement> candidates;
  for (const double d : {0.0, 10.0, -10.0, 20.0, -20.0}) {
    candidates.push_back({x + 6, y + 4 + d, "start", {x + 6, y - 8 + d, x + 6 + w, y + 4 + d}});
    candidates.push_back({x - 6, y + 4 + d, "end", {x - 6 - w, y - 8 + d, x - 6, y + 4 + d}});
  }
  candidates.push_back({x, y - 7, "middle", {x - w / 2, y - 7 - h, x + w / 2, y - 7}});
  candidates.push_back({x, y + 16, "middle", {x - w / 2, y + 4, x + w / 2, y + 16}});
  size_t best = 0;
  double best_cost = 1e300;
  for (size_t c = 0; c < candidates.size(); ++c) {
    const Box& b = candidates[c].box;
    double cost = 0;
    for (const auto& q : placed) cost += b.overlap(q);
    if (b.x0 < 2 || b.x1 > kScatterWidth - 2 || b.y0 < 40 || b.y1 > kScatterHeight - 40) {
      cost += 1e6;
    }
    cost += 0.01 * static_cast<double>(c);  // prefer the nearer positions among equals
    if (cost < best_cost) {
      best_cost = cost;
      best = c;
    }
  }
  return candidates[best];
}

}  // namespace

std::string svg_scatter(const std::vector<LabelledPoint>& points, const ScatterText& text) {
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
  for (const auto& p : points) {
    x_lo = std::min(x_lo, p.x);
    x_hi = std::max(x_hi, p.x);
    y_lo = std::min(y_lo, p.y);
    y_hi = std::max(y_hi, p.y);
  }
  // Room on the right for the labels of the rightmost points.
  const double plot_x0 = kMargin, plot_x1 = kScatterWidth - kMargin - 150;
  const double plot_y0 = kMargin, plot_y1 = kScatterHeight - kMargin;
  const double x_span = std::max(x_hi - x_lo, 1e-12), y_span = std::max(y_hi - y_lo, 1e-12);
  const auto sx = [&](double x) { return plot_x0 + (x - x_lo) / x_span * (plot_x1 - plot_x0); };
  const auto sy = [&](double y) { return plot_y1 - (y - y_lo) / y_span * (plot_y1 - plot_y0); };

  std::string svg = svg_header(kScatterWidth, kScatterHeight);
  // Axes through the origin (the data are centred), then the titles.
  svg += "<line x1=\"" + svg_number(plot_x0) + "\" y1=\"" + svg_number(sy(0)) + "\" x2=\"" +
         svg_number(plot_x1) + "\" y2=\"" + svg_number(sy(0)) + "\" stroke=\"#bbb\"/>\n";
  svg += "<line x1=\"" + svg_number(sx(0)) + "\" y1=\"" + svg_number(plot_y0) + "\" x2=\"" +
         svg_number(sx(0)) + "\" y2=\"" + svg_number(plot_y1) + "\" stroke=\"#bbb\"/>\n";
  svg += svg_text(kScatterWidth / 2, 32, text.title, 18, "middle");
  svg += svg_text((plot_x0 + plot_x1) / 2, kScatterHeight - 24, text.x_label, 14, "middle");
  const double y_mid = (plot_y0 + plot_y1) / 2;
  svg += svg_text(24, y_mid, text.y_label, 14, "middle",
                  " transform=\"rotate(-90 24 " + svg_number(y_mid) + ")\"");

  std::vector<Box> placed;
  for (const auto& p : points) {
    placed.push_back({sx(p.x) - 3, sy(p.y) - 3, sx(p.x) + 3, sy(p.y) + 3});
  }
  std::string marks, labels;
  for (const auto& p : points) {
    const double x = sx(p.x), y = sy(p.y);
    marks += "<circle cx=\"" + svg_number(x) + "\" cy=\"" + svg_number(y) +
             "\" r=\"3.5\" fill=\"#1f77b4\"/>\n";
    const std::string label = utf8_shorten(p.label, kMaxLabel);
    const Placement c =
        place_label(x, y, kCharWidth * static_cast<double>(utf8_width(label)), placed);
    placed.push_back(c.box);
    labels += svg_text(c.x, c.y, label, kFontSize, c.anchor, " fill=\"#222\"");
  }
  svg += marks + labels + "</svg>\n";
  return svg;
}

}  // namespace collab
