#include "collab/app/svg_scatter.h"

#include "collab/common/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace collab {

namespace {

constexpr double kWidth = 1200, kHeight = 900, kMargin = 70;
constexpr double kFontSize = 12, kCharWidth = 6.4;  // average glyph advance of 12px sans-serif
constexpr size_t kMaxLabel = 32;

// Shortened by UTF-8 code points, so a multi-byte character is never cut in half.
std::string shorten(const std::string& s) {
  size_t points = 0, cut = s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (points == kMaxLabel - 1) cut = i;
    ++points;
  }
  return points <= kMaxLabel ? s : s.substr(0, cut) + "\u2026";
}

size_t code_points(const std::string& s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

struct Box {
  double x0, y0, x1, y1;
  double overlap(const Box& o) const {
    const double w = std::min(x1, o.x1) - std::max(x0, o.x0);
    const double h = std::min(y1, o.y1) - std::max(y0, o.y0);
    return w > 0 && h > 0 ? w * h : 0;
  }
};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
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
  const double plot_x0 = kMargin, plot_x1 = kWidth - kMargin - 150;
  const double plot_y0 = kMargin, plot_y1 = kHeight - kMargin;
  const double x_span = std::max(x_hi - x_lo, 1e-12), y_span = std::max(y_hi - y_lo, 1e-12);
  const auto sx = [&](double x) { return plot_x0 + (x - x_lo) / x_span * (plot_x1 - plot_x0); };
  const auto sy = [&](double y) { return plot_y1 - (y - y_lo) / y_span * (plot_y1 - plot_y0); };

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(kWidth) + "\" height=\"" +
         number(kHeight) + "\" viewBox=\"0 0 " + number(kWidth) + " " + number(kHeight) +
         "\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  // Axes through the origin (the data are centred), then the titles.
  svg += "<line x1=\"" + number(plot_x0) + "\" y1=\"" + number(sy(0)) + "\" x2=\"" +
         number(plot_x1) + "\" y2=\"" + number(sy(0)) + "\" stroke=\"#bbb\"/>\n";
  svg += "<line x1=\"" + number(sx(0)) + "\" y1=\"" + number(plot_y0) + "\" x2=\"" + number(sx(0)) +
         "\" y2=\"" + number(plot_y1) + "\" stroke=\"#bbb\"/>\n";
  svg += "<text x=\"" + number(kWidth / 2) +
         "\" y=\"32\" font-size=\"18\" text-anchor=\"middle\">" + xml_escape(text.title) +
         "</text>\n";
  svg += "<text x=\"" + number((plot_x0 + plot_x1) / 2) + "\" y=\"" + number(kHeight - 24) +
         "\" font-size=\"14\" text-anchor=\"middle\">" + xml_escape(text.x_label) + "</text>\n";
  svg += "<text x=\"24\" y=\"" + number((plot_y0 + plot_y1) / 2) +
         "\" font-size=\"14\" text-anchor=\"middle\" transform=\"rotate(-90 24 " +
         number((plot_y0 + plot_y1) / 2) + ")\">" + xml_escape(text.y_label) + "</text>\n";

  std::vector<Box> placed;
  for (const auto& p : points)
    placed.push_back({sx(p.x) - 3, sy(p.y) - 3, sx(p.x) + 3, sy(p.y) + 3});
  std::string marks, labels;
  for (const auto& p : points) {
    const double x = sx(p.x), y = sy(p.y);
    marks +=
        "<circle cx=\"" + number(x) + "\" cy=\"" + number(y) + "\" r=\"3.5\" fill=\"#1f77b4\"/>\n";
    const std::string label = shorten(p.label);
    const double w = kCharWidth * static_cast<double>(code_points(label)), h = kFontSize;
    // Candidates: right, left, above, below the point, then further out; least overlap wins.
    struct Candidate {
      double x, y;  // text anchor (baseline)
      const char* anchor;
      Box box;
    };
    std::vector<Candidate> candidates;
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
      if (b.x0 < 2 || b.x1 > kWidth - 2 || b.y0 < 40 || b.y1 > kHeight - 40) cost += 1e6;
      cost += 0.01 * static_cast<double>(c);  // prefer the nearer positions among equals
      if (cost < best_cost) {
        best_cost = cost;
        best = c;
      }
    }
    const Candidate& c = candidates[best];
    placed.push_back(c.box);
    labels += "<text x=\"" + number(c.x) + "\" y=\"" + number(c.y) + "\" font-size=\"" +
              number(kFontSize) + "\" text-anchor=\"" + c.anchor + "\" fill=\"#222\">" +
              xml_escape(label) + "</text>\n";
  }
  svg += marks + labels + "</svg>\n";
  return svg;
}

}  // namespace collab
