// Line charts as inline SVG text for the run report (learning curves, Dice per round): no
// plotting library, no network, and the numbers stay readable in the HTML source.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace aslseg::report {

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), in drawing order
};

struct ChartOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 640;
  int height = 280;
  bool log_y = false;    // losses span decades; values <= 0 are left out on a log axis
  bool markers = false;  // a dot on every point (always on series of 3 points or fewer)
};

// An <svg> element with axes, min/max tick labels, one polyline per series (colours from the
// Okabe-Ito palette, cycling) and a legend. Series without points are listed as "(no data)".
std::string line_chart_svg(const std::vector<ChartSeries>& series, const ChartOptions& options);

// Text with &, <, >, " and ' escaped for HTML and SVG.
std::string escape_html(const std::string& text);

// RFC 4648 base64 with padding (inline PNG data: URIs).
std::string base64(const std::string& bytes);

}  // namespace aslseg::report
