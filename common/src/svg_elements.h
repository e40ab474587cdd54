// The SVG elements common/'s charts share (svg_plot.cpp defines them): numbers as attribute
// text, a <text> element with its content escaped, and the document's opening with a white
// background. Private to common/src.
#pragma once

#include <string>

namespace collab {

// Coordinates with two decimals: enough for a screen, and stable text for tests.
std::string svg_number(double v);
std::string svg_text(double x, double y, const std::string& s, double size,
                     const char* anchor = "start", const std::string& extra = "");
// The XML declaration, <svg ...> of `width` x `height` and a white background rectangle.
std::string svg_header(double width, double height);

}  // namespace collab
