#include "collab/common/svg_plot.h"

#include "collab/common/utf8.h"
#include "svg_elements.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace collab {

// The elements both chart kinds and the scatter plot draw with (svg_elements.h).
// Coordinates with two decimals: enough for a screen, and stable text for tests.
std::string svg_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", v);
  return text;
}

std::string svg_text(double x, double y, const std::string& s, double size, const char* anchor,
                     const std::string& extra) {
  return "<text x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" font-size=\"" + svg_number(size) +
         "\" text-anchor=\"" + anchor + "\"" + extra + ">" + xml_escape(s) + "</text>\n";
}

std::string svg_header(double width, double height) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         svg_number(width) + "\" height=\"" + svg_number(height) + "\" viewBox=\"0 0 " + svg_number(width) + " " +
         svg_number(height) +
         "\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\">\n"
         "<rect x=\"0\" y=\"0\" width=\"" +
         svg_number(width) + "\" height=\"" + svg_number(height) + "\" fill=\"white\"/>\n";
}

namespace {

// Tableau 10: distinct on screen and in print, and readable by most colour-blind viewers.
const char* const kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

const char* colour(size_t i) {
  return kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
}

// Tick labels with as many decimals as the step needs (0.05 -> 2), none for integers.
std::string tick_label(double v, double step) {
  int decimals = 0;
  while (decimals < 6 && std::fabs(step * std::pow(10.0, decimals) -
                                   std::round(step * std::pow(10.0, decimals))) > 1e-9) {
    ++decimals;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, std::fabs(v) < 1e-12 ? 0.0 : v);
  return text;
}

// Rough text width for the default sans-serif at `size` px: lays out legends without a font
// engine (wide enough for capitals, so text never spills into the plot).
double text_width(const std::string& s, double size) {
  return static_cast<double>(utf8_width(s)) * size * 0.6;
}

struct Scale {
  double d0, d1, r0, r1;
  double operator()(double v) const { return r0 + (v - d0) / (d1 - d0) * (r1 - r0); }
};

// Axis frame, grid and tick labels for a plot area [x0, x1] x [y0, y1] (y0 top).
std::string axes(const Scale& sx, const Scale& sy, const std::vector<double>& xt,
                 const std::vector<double>& yt, double font) {
  std::string out;
  const double x0 = sx.r0, x1 = sx.r1, y0 = sy.r1, y1 = sy.r0;
  const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (const double t : yt) {
    const double y = sy(t);
    out += "<line x1=\"" + svg_number(x0) + "\" y1=\"" + svg_number(y) + "\" x2=\"" + svg_number(x1) + "\" y2=\"" +
           svg_number(y) + "\" stroke=\"#e0e0e0\" stroke-width=\"1\"/>\n";
    out += svg_text(x0 - 6, y + font * 0.35, tick_label(t, ystep), font, "end");
  }
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (const double t : xt) {
    const double x = sx(t);
    out += "<line x1=\"" + svg_number(x) + "\" y1=\"" + svg_number(y1) + "\" x2=\"" + svg_number(x) + "\" y2=\"" +
           svg_number(y1 + 5) + "\" stroke=\"#333\" stroke-width=\"1\"/>\n";
    out += svg_text(x, y1 + 6 + font, tick_label(t, xstep), font, "middle");
  }
  out += "<rect x=\"" + svg_number(x0) + "\" y=\"" + svg_number(y0) + "\" width=\"" + svg_number(x1 - x0) +
         "\" height=\"" + svg_number(y1 - y0) + "\" fill=\"none\" stroke=\"#333\" stroke-width=\"1\"/>\n";
  return out;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12) {
    const double pad = std::max(std::fabs(lo) * 0.05, 1e-3);
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  // Ticks as integer multiples of the step, printed to 12 digits and read back, so 3 * 0.2 is
  // 0.6 and not 0.6000000000000001.
  auto snap = [](double v) {
    char text[40];
    std::snprintf(text, sizeof text, "%.12g", v);
    return std::strtod(text, nullptr);
  };
  std::vector<double> ticks;
  const auto first = static_cast<int64_t>(std::floor(lo / step + 1e-9));
  for (int64_t i = first;; ++i) {
    ticks.push_back(snap(static_cast<double>(i) * step));
    if (ticks.back() >= hi - 1e-9 * step || ticks.size() > 1000) break;
  }
  if (ticks.size() < 2) ticks.push_back(snap(ticks.back() + step));
  return ticks;
}

std::string line_chart_svg(const LineChart& chart) {
  const double font = 13, title_font = 16;
  double longest = 0;
  for (const auto& s : chart.series) longest = std::max(longest, text_width(s.name, font));
  const double legend_width = 40 + longest;
  const double plot_w = 620, plot_h = 380;
  const double left = 80, top = 50, right = legend_width + 30, bottom = 60;
  const double width = left + plot_w + right;
  const double height =
      std::max(top + plot_h + bottom, top + 30 + 22.0 * static_cast<double>(chart.series.size()));

  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  double ymin = xmin, ymax = -xmin;
  for (const auto& s : chart.series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      for (const auto* v : {&s.y, &s.lo, &s.hi}) {
        if (i < v->size() && std::isfinite((*v)[i])) {
          ymin = std::min(ymin, (*v)[i]);
          ymax = std::max(ymax, (*v)[i]);
        }
      }
    }
  }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax <= xmin) xmax = xmin + 1;
  std::vector<double> yt = nice_ticks(ymin, ymax, 6);
  std::vector<double> xt;
  if (chart.integer_x && xmax - xmin <= 20) {
    for (double t = std::ceil(xmin); t <= xmax + 1e-9; t += 1) xt.push_back(t);
  } else {
    xt = nice_ticks(xmin, xmax, 8);
  }
  const double x_pad = (xmax - xmin) * 0.03;
  const Scale sx{xmin - x_pad, xmax + x_pad, left, left + plot_w};
  const Scale sy{yt.front(), yt.back(), top + plot_h, top};

  std::string out = svg_header(width, height);
  out += svg_text(left + plot_w / 2, top - 20, chart.title, title_font, "middle",
                  " font-weight=\"bold\"");
  out += axes(sx, sy, xt, yt, font - 1);
  out += svg_text(left + plot_w / 2, top + plot_h + 45, chart.x_label, font, "middle");
  const double ly = top + plot_h / 2;
  out += svg_text(left - 60, ly, chart.y_label, font, "middle",
                  " transform=\"rotate(-90 " + svg_number(left - 60) + " " + svg_number(ly) + ")\"");

  for (size_t k = 0; k < chart.series.size(); ++k) {
    const LineSeries& s = chart.series[k];
    out += "<g class=\"series\" data-name=\"" + xml_escape(s.name) + "\">\n";
    if (s.lo.size() == s.x.size() && s.hi.size() == s.x.size() && !s.x.empty()) {
      std::string points;
      for (size_t i = 0; i < s.x.size(); ++i)
        points += svg_number(sx(s.x[i])) + "," + svg_number(sy(s.hi[i])) + " ";
      for (size_t i = s.x.size(); i-- > 0;)
        points += svg_number(sx(s.x[i])) + "," + svg_number(sy(s.lo[i])) + " ";
      points.pop_back();
      out += "<polygon points=\"" + points + "\" fill=\"" + colour(k) +
             "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
    }
    std::string points;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      points += (i ? " " : "") + svg_number(sx(s.x[i])) + "," + svg_number(sy(s.y[i]));
    }
    out += "<polyline points=\"" + points + "\" fill=\"none\" stroke=\"" + colour(k) +
           "\" stroke-width=\"2\"/>\n";
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      out += "<circle cx=\"" + svg_number(sx(s.x[i])) + "\" cy=\"" + svg_number(sy(s.y[i])) +
             "\" r=\"" + svg_number(s.point_radius) + "\" fill=\"" + colour(k) + "\"/>\n";
    }
    // Legend entry, right of the plot.
    const double ey = top + 10 + 22.0 * static_cast<double>(k);
    const double ex = left + plot_w + 20;
    out += "<line x1=\"" + svg_number(ex) + "\" y1=\"" + svg_number(ey) + "\" x2=\"" + svg_number(ex + 24) + "\" y2=\"" +
           svg_number(ey) + "\" stroke=\"" + colour(k) + "\" stroke-width=\"3\"/>\n";
    out += svg_text(ex + 30, ey + font * 0.35, s.name, font);
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

std::string bar_chart_svg(const BarChart& chart) {
  const double font = 12, title_font = 16;
  const int columns = std::max(1, chart.columns);
  const auto n_panels = static_cast<int>(chart.panels.size());
  const int rows = std::max(1, (n_panels + columns - 1) / columns);
  const double panel_w = 300, panel_h = 210, gap_x = 30, gap_y = 40;
  const double plot_left = 60, plot_top = 28, plot_bottom = 14, plot_right = 10;
  const double margin = 20;
  const double width = margin * 2 + columns * panel_w + (columns - 1) * gap_x;

  // Legend rows: entries laid out left to right, wrapping at the chart's width.
  std::vector<std::pair<double, double>> legend_pos;
  double lx = margin, ly = 50;
  for (const auto& g : chart.groups) {
    const double w = 22 + text_width(g, font) + 24;
    if (lx + w > width - margin && lx > margin) {
      lx = margin;
      ly += 22;
    }
    legend_pos.emplace_back(lx, ly);
    lx += w;
  }
  const double panels_top = ly + 30;
  const double height = panels_top + rows * panel_h + (rows - 1) * gap_y + margin;

  std::string out = svg_header(width, height);
  out += svg_text(width / 2, 26, chart.title, title_font, "middle", " font-weight=\"bold\"");

  struct Panel {
    Scale sx, sy;
    double bar_w;
  };
  std::vector<Panel> layout;
  const auto n_groups = static_cast<double>(chart.groups.size());
  for (int p = 0; p < n_panels; ++p) {
    const BarPanel& panel = chart.panels[static_cast<size_t>(p)];
    const double px = margin + (p % columns) * (panel_w + gap_x);
    const double py = panels_top + (p / columns) * (panel_h + gap_y);
    double hi = 0, lo = 0;  // bars start at zero, so heights compare honestly
    for (size_t g = 0; g < panel.value.size(); ++g) {
      const double e = g < panel.error.size() ? panel.error[g] : 0;
      if (std::isfinite(panel.value[g])) {
        hi = std::max(hi, panel.value[g] + e);
        lo = std::min(lo, panel.value[g] - e);
      }
    }
    const std::vector<double> yt = nice_ticks(lo, hi > lo ? hi : lo + 1, 4);
    const Scale sy{yt.front(), yt.back(), py + panel_h - plot_bottom, py + plot_top};
    const Scale sx{0, std::max(1.0, n_groups), px + plot_left, px + panel_w - plot_right};
    out += svg_text(px + (plot_left + panel_w - plot_right) / 2, py + 16, panel.title, font + 1,
                    "middle", " font-weight=\"bold\"");
    out += axes(sx, sy, {}, yt, font - 1);
    layout.push_back({sx, sy, (sx.r1 - sx.r0) / std::max(1.0, n_groups)});
  }
  for (size_t g = 0; g < chart.groups.size(); ++g) {
    out += "<g class=\"series\" data-name=\"" + xml_escape(chart.groups[g]) + "\">\n";
    for (int p = 0; p < n_panels; ++p) {
      const BarPanel& panel = chart.panels[static_cast<size_t>(p)];
      if (g >= panel.value.size() || !std::isfinite(panel.value[g])) continue;
      const Panel& l = layout[static_cast<size_t>(p)];
      const double x = l.sx(static_cast<double>(g)) + l.bar_w * 0.15, w = l.bar_w * 0.7;
      const double y0 = l.sy(0), y1 = l.sy(panel.value[g]);
      out += "<rect x=\"" + svg_number(x) + "\" y=\"" + svg_number(std::min(y0, y1)) + "\" width=\"" + svg_number(w) +
             "\" height=\"" + svg_number(std::fabs(y0 - y1)) + "\" fill=\"" + colour(g) + "\"/>\n";
      const double e = g < panel.error.size() ? panel.error[g] : 0;
      if (e > 0 && std::isfinite(e)) {
        const double cx = x + w / 2, ya = l.sy(panel.value[g] - e), yb = l.sy(panel.value[g] + e);
        out += "<path d=\"M" + svg_number(cx) + " " + svg_number(ya) + "V" + svg_number(yb) + "M" + svg_number(cx - 5) + " " +
               svg_number(ya) + "H" + svg_number(cx + 5) + "M" + svg_number(cx - 5) + " " + svg_number(yb) + "H" + svg_number(cx + 5) +
               "\" stroke=\"#222\" stroke-width=\"1.3\" fill=\"none\"/>\n";
      }
    }
    const auto [ex, ey] = legend_pos[g];
    out += "<rect x=\"" + svg_number(ex) + "\" y=\"" + svg_number(ey - 7) +
           "\" width=\"16\" height=\"12\" fill=\"" + colour(g) + "\"/>\n";
    out += svg_text(ex + 22, ey + 3.5, chart.groups[g], font);
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

}  // namespace collab
