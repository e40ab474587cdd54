// The SVG chart writer (common/svg_plot.h): the files are well-formed XML (checked with xmllint
// when installed, else by a small tag-balance parser) and hold one series per candidate.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "collab/common/svg_plot.h"
#include "test_support.h"

namespace test_svg {

namespace {

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// Tag balance: every <tag> closed by </tag> in order, self-closing tags, no stray '<' or '&'.
// Enough to catch the mistakes a string-built SVG makes; xmllint does the full check.
bool balanced(const std::string& xml, std::string& why) {
  std::vector<std::string> stack;
  for (size_t i = 0; i < xml.size();) {
    if (xml[i] == '&') {
      const size_t semi = xml.find(';', i);
      const std::string entity = xml.substr(i, semi == std::string::npos ? 1 : semi - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" &&
          entity != "&apos;") {
        why = "bad entity at " + std::to_string(i);
        return false;
      }
      i = semi + 1;
      continue;
    }
    if (xml[i] != '<') {
      ++i;
      continue;
    }
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) {
      why = "unclosed tag at " + std::to_string(i);
      return false;
    }
    const std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag.find('<') != std::string::npos) {
      why = "'<' inside a tag: " + tag;
      return false;
    }
    if (tag.back() == '/') continue;
    const std::string name =
        tag.substr(tag[0] == '/' ? 1 : 0, tag.find_first_of(" \t\n") - (tag[0] == '/' ? 1 : 0));
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != name) {
        why = "</" + name + "> closes " + (stack.empty() ? "nothing" : stack.back());
        return false;
      }
      stack.pop_back();
    } else {
      stack.push_back(name);
    }
  }
  if (!stack.empty()) why = "<" + stack.back() + "> never closed";
  return stack.empty();
}

void expect_well_formed(const std::string& svg) {
  std::string why;
  EXPECT_TRUE(balanced(svg, why)) << why;
  if (std::system("command -v xmllint >/dev/null 2>&1") == 0) {
    const std::string path = collab::test::temp_dir() + "/chart.svg";
    collab::test::write_text(path, svg);
    EXPECT_EQ(std::system(("xmllint --noout '" + path + "'").c_str()), 0) << svg;
  }
}

collab::LineChart three_curves() {
  collab::LineChart chart;
  chart.title = "Validation RMSE";
  chart.x_label = "epoch";
  chart.y_label = "RMSE";
  const std::vector<std::string> names = {"DotProduct", "A<B & \"C\"", "CollabNN [100, 50]"};
  for (size_t k = 0; k < names.size(); ++k) {
    collab::LineSeries s;
    s.name = names[k];
    for (int e = 1; e <= 5; ++e) {
      const double y = 1.0 - 0.02 * e + 0.01 * static_cast<double>(k);
      s.x.push_back(e);
      s.y.push_back(y);
      s.lo.push_back(y - 0.01);
      s.hi.push_back(y + 0.01);
    }
    chart.series.push_back(s);
  }
  return chart;
}

}  // namespace

TEST(Svg, LineChartIsWellFormedWithOneSeriesPerCandidate) {
  const std::string svg = collab::line_chart_svg(three_curves());
  expect_well_formed(svg);
  EXPECT_EQ(count(svg, "<g class=\"series\""), 3u);
  EXPECT_EQ(count(svg, "<polyline"), 3u);
  EXPECT_EQ(count(svg, "<polygon"), 3u);  // one band each
  EXPECT_NE(svg.find("data-name=\"A&lt;B &amp; &quot;C&quot;\""), std::string::npos);
  EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);  // axes labelled
  EXPECT_NE(svg.find(">RMSE</text>"), std::string::npos);
  EXPECT_EQ(svg, collab::line_chart_svg(three_curves()));  // deterministic
}

TEST(Svg, BarChartIsWellFormedWithOneSeriesPerCandidate) {
  collab::BarChart chart;
  chart.title = "Final metrics";
  chart.groups = {"DotProduct", "DotProductBias", "Biases"};
  for (const char* title : {"RMSE", "MAE", "NDCG@10", "Coverage@10"}) {
    chart.panels.push_back({title, {0.95, 0.91, 0.94}, {0.01, 0.0, 0.02}});
  }
  const std::string svg = collab::bar_chart_svg(chart);
  expect_well_formed(svg);
  EXPECT_EQ(count(svg, "<g class=\"series\""), 3u);
  EXPECT_EQ(count(svg, ">NDCG@10</text>"), 1u);
  // 3 candidates x 4 panels bars (+ the 3 legend swatches and the background).
  EXPECT_EQ(count(svg, "<rect"), 3u * 4u + 3u + 1u + 4u /* panel frames */);
  EXPECT_EQ(count(svg, "<path"), 2u * 4u);  // error bars only where sd > 0
}

TEST(Svg, EmptyAndFlatChartsStillRender) {
  collab::LineChart empty;
  expect_well_formed(collab::line_chart_svg(empty));
  collab::LineChart flat;
  flat.series.push_back({"one point", {1}, {0.5}, {}, {}});
  expect_well_formed(collab::line_chart_svg(flat));
}

TEST(Svg, NiceTicksAreRoundAndCoverTheRange) {
  EXPECT_EQ(collab::nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  const auto t = collab::nice_ticks(0.873, 0.951, 6);
  EXPECT_LE(t.front(), 0.873);
  EXPECT_GE(t.back(), 0.951);
  EXPECT_NEAR(t[1] - t[0], 0.02, 1e-12);
}

TEST(Svg, EscapesXml) {
  EXPECT_EQ(collab::xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
}

}  // namespace test_svg
