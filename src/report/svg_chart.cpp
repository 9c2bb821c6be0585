#include "aslseg/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace aslseg::report {

namespace {

// Okabe-Ito: distinguishable with the common colour-vision deficiencies.
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                    "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
constexpr int kMarginLeft = 64;
constexpr int kMarginRight = 240;  // room for the legend
// Series this short get a dot per point (a single point draws no line).
constexpr size_t kDotsUpToPoints = 3;
constexpr int kMarginTop = 28;
constexpr int kMarginBottom = 40;
constexpr int kLegendRowHeight = 16;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
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
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[k])); };
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += {kAlphabet[v >> 18], kAlphabet[v >> 12 & 63], kAlphabet[v >> 6 & 63], kAlphabet[v & 63]};
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t v = byte(i) << 16 | (two ? byte(i + 1) << 8 : 0);
    out += {kAlphabet[v >> 18], kAlphabet[v >> 12 & 63], two ? kAlphabet[v >> 6 & 63] : '=', '='};
  }
  return out;
}

std::string line_chart_svg(const std::vector<ChartSeries>& series, const ChartOptions& options) {
  const double inf = std::numeric_limits<double>::infinity();
  double x0 = inf, x1 = -inf, y0 = inf, y1 = -inf;
  auto usable = [&](double y) { return std::isfinite(y) && (!options.log_y || y > 0); };
  auto ty = [&](double y) { return options.log_y ? std::log10(y) : y; };
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !usable(y)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x);
      y0 = std::min(y0, ty(y)), y1 = std::max(y1, ty(y));
    }
  const bool empty = !(x0 <= x1);
  if (empty) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;

  const int w = options.width, h = options.height;
  const double pw = w - kMarginLeft - kMarginRight, ph = h - kMarginTop - kMarginBottom;
  auto px = [&](double x) { return kMarginLeft + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return kMarginTop + (1.0 - (ty(y) - y0) / (y1 - y0)) * ph; };
  auto y_tick = [&](double t) { return number(options.log_y ? std::pow(10.0, t) : t); };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(w) +
                    "\" height=\"" + std::to_string(h) + "\" viewBox=\"0 0 " + std::to_string(w) +
                    " " + std::to_string(h) + "\" font-family=\"sans-serif\" font-size=\"11\">";
  svg += "<text x=\"" + std::to_string(kMarginLeft) + "\" y=\"16\" font-size=\"13\">" +
         escape_html(options.title) + "</text>";
  // Axes with their min/max ticks.
  const std::string left = coord(kMarginLeft), right = coord(kMarginLeft + pw),
                    top = coord(kMarginTop), bottom = coord(kMarginTop + ph);
  svg += "<path d=\"M" + left + " " + top + "V" + bottom + "H" + right +
         "\" fill=\"none\" stroke=\"#444\"/>";
  svg += "<text x=\"" + coord(kMarginLeft - 4) + "\" y=\"" + coord(kMarginTop + 4) +
         "\" text-anchor=\"end\">" + y_tick(y1) + "</text>";
  svg += "<text x=\"" + coord(kMarginLeft - 4) + "\" y=\"" + bottom + "\" text-anchor=\"end\">" +
         y_tick(y0) + "</text>";
  svg += "<text x=\"" + left + "\" y=\"" + coord(kMarginTop + ph + 14) + "\">" + number(x0) +
         "</text>";
  svg += "<text x=\"" + right + "\" y=\"" + coord(kMarginTop + ph + 14) +
         "\" text-anchor=\"end\">" + number(x1) + "</text>";
  svg += "<text x=\"" + coord(kMarginLeft + pw / 2) + "\" y=\"" + coord(h - 6) +
         "\" text-anchor=\"middle\">" + escape_html(options.x_label) + "</text>";
  svg += "<text transform=\"translate(12," + coord(kMarginTop + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" +
         escape_html(options.y_label + (options.log_y ? " (log)" : "")) + "</text>";

  for (size_t i = 0; i < series.size(); ++i) {
    const std::string colour = kPalette[i % std::size(kPalette)];
    std::string points, dots;
    for (const auto& [x, y] : series[i].points) {
      if (!std::isfinite(x) || !usable(y)) continue;
      points += coord(px(x)) + "," + coord(py(y)) + " ";
      if (options.markers || series[i].points.size() <= kDotsUpToPoints)
        dots += "<circle cx=\"" + coord(px(x)) + "\" cy=\"" + coord(py(y)) + "\" r=\"3\" fill=\"" +
                colour + "\"/>";
    }
    svg += dots;
    if (!points.empty())
      svg += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.5\" points=\"" +
             points + "\"/>";
    const double ly = kMarginTop + static_cast<double>(i) * kLegendRowHeight + 8;
    const double lx = kMarginLeft + pw + 10;
    svg += "<line x1=\"" + coord(lx) + "\" y1=\"" + coord(ly - 4) + "\" x2=\"" + coord(lx + 16) +
           "\" y2=\"" + coord(ly - 4) + "\" stroke=\"" + colour + "\" stroke-width=\"2\"/>";
    svg += "<text x=\"" + coord(lx + 20) + "\" y=\"" + coord(ly) + "\">" +
           escape_html(series[i].name + (points.empty() ? " (no data)" : "")) + "</text>";
  }
  svg += "</svg>";
  return svg;
}

}  // namespace aslseg::report
