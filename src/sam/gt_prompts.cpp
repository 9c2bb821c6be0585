#include "aslseg/sam/gt_prompts.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "aslseg/preprocess/connected_components.h"

namespace aslseg::sam {

namespace {

using preprocess::Connectivity2D;

void check_mask(const uint8_t* mask, int64_t width, int64_t height) {
  if (mask == nullptr || width < 1 || height < 1)
    throw std::invalid_argument("gt prompts: empty mask " + std::to_string(width) + "x" +
                                std::to_string(height));
  if (width * height > std::numeric_limits<int>::max())
    throw std::invalid_argument("gt prompts: mask too large");
}

int draw(synth::Rng& rng, int64_t lo, int64_t hi) {
  return rng.uniform_int(static_cast<int>(lo), static_cast<int>(hi));
}

// Largest outward move of a box side along an axis where the component spans `extent` pixels.
int64_t max_margin(const GtPromptParams& p, int64_t extent) {
  const auto by_fraction =
      static_cast<int64_t>(std::floor(p.box_jitter_fraction * static_cast<double>(extent)));
  return std::max<int64_t>(0, std::min(p.box_jitter_px, by_fraction));
}

}  // namespace

void validate(const GtPromptParams& p) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("prompts: " + what); };
  if (p.box_jitter_px < 0) fail("box_jitter_px must be >= 0");
  if (!(p.box_jitter_fraction >= 0.0 && p.box_jitter_fraction <= 1.0))
    fail("box_jitter_fraction must be in [0, 1]");
  if (p.positive_points < 0) fail("positive_points must be >= 0");
  if (p.negative_points < 0) fail("negative_points must be >= 0");
  if (p.negative_margin_px < 0) fail("negative_margin_px must be >= 0");
  if (p.min_component_pixels < 1) fail("min_component_pixels must be >= 1");
  if (!p.use_box && p.positive_points == 0)
    fail("a prompt needs a box (use_box) or at least one positive point");
}

void to_json(nlohmann::json& j, const GtPromptParams& p) {
  j = {{"box_jitter_px", p.box_jitter_px},
       {"box_jitter_fraction", p.box_jitter_fraction},
       {"use_box", p.use_box},
       {"positive_points", p.positive_points},
       {"negative_points", p.negative_points},
       {"negative_margin_px", p.negative_margin_px},
       {"min_component_pixels", p.min_component_pixels}};
}

std::vector<ComponentPrompt> prompts_from_mask(const uint8_t* mask, int64_t width, int64_t height,
                                               const GtPromptParams& p, synth::Rng& rng) {
  check_mask(mask, width, height);
  validate(p);
  const preprocess::Components cc =
      preprocess::label_components_2d(mask, width, height, Connectivity2D::k8);
  const int32_t count = cc.count();
  // Pixel indices and bounds of every component, in one pass.
  std::vector<std::vector<int64_t>> pixels(static_cast<size_t>(count) + 1);
  std::vector<std::array<int64_t, 4>> bounds(
      static_cast<size_t>(count) + 1,
      {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max(), -1, -1});
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const int64_t i = x + width * y;
      const int32_t label = cc.labels[static_cast<size_t>(i)];
      if (label == 0) continue;
      pixels[static_cast<size_t>(label)].push_back(i);
      auto& b = bounds[static_cast<size_t>(label)];
      b = {std::min(b[0], x), std::min(b[1], y), std::max(b[2], x), std::max(b[3], y)};
    }
  }

  std::vector<ComponentPrompt> out;
  for (int32_t k = 1; k <= count; ++k) {
    const auto& px = pixels[static_cast<size_t>(k)];
    if (static_cast<int64_t>(px.size()) < p.min_component_pixels) continue;
    ComponentPrompt cp;
    cp.component = k;
    cp.pixels = static_cast<int64_t>(px.size());
    cp.bounds = bounds[static_cast<size_t>(k)];
    const auto& b = cp.bounds;
    const int64_t mx = max_margin(p, b[2] - b[0] + 1);
    const int64_t my = max_margin(p, b[3] - b[1] + 1);
    // Drawn even when use_box is off, so the points of a seed do not depend on that switch.
    const int64_t x0 = std::max<int64_t>(0, b[0] - draw(rng, 0, mx));
    const int64_t y0 = std::max<int64_t>(0, b[1] - draw(rng, 0, my));
    const int64_t x1 = std::min<int64_t>(width - 1, b[2] + draw(rng, 0, mx));
    const int64_t y1 = std::min<int64_t>(height - 1, b[3] + draw(rng, 0, my));
    cp.box = {static_cast<float>(x0), static_cast<float>(y0), static_cast<float>(x1),
              static_cast<float>(y1)};
    for (int64_t n = 0; n < p.positive_points; ++n) {
      const int64_t i = px[static_cast<size_t>(draw(rng, 0, cp.pixels - 1))];
      cp.points.push_back({static_cast<float>(i % width), static_cast<float>(i / width)});
      cp.labels.push_back(kPointPositive);
    }
    if (p.negative_points > 0) {
      // Background (of the whole mask, so a negative never sits on another lesion) within
      // negative_margin_px of the component's exact box.
      std::vector<int64_t> near;
      const int64_t nx0 = std::max<int64_t>(0, b[0] - p.negative_margin_px);
      const int64_t ny0 = std::max<int64_t>(0, b[1] - p.negative_margin_px);
      const int64_t nx1 = std::min<int64_t>(width - 1, b[2] + p.negative_margin_px);
      const int64_t ny1 = std::min<int64_t>(height - 1, b[3] + p.negative_margin_px);
      for (int64_t y = ny0; y <= ny1; ++y)
        for (int64_t x = nx0; x <= nx1; ++x)
          if (mask[x + width * y] == 0) near.push_back(x + width * y);
      for (int64_t n = 0; n < p.negative_points; ++n) {
        if (near.empty()) {
          cp.points.push_back({0.0f, 0.0f});
          cp.labels.push_back(kPointPadding);
          continue;
        }
        const int64_t i =
            near[static_cast<size_t>(draw(rng, 0, static_cast<int64_t>(near.size()) - 1))];
        cp.points.push_back({static_cast<float>(i % width), static_cast<float>(i / width)});
        cp.labels.push_back(kPointNegative);
      }
    }
    out.push_back(std::move(cp));
  }
  return out;
}

std::vector<uint8_t> component_masks(const uint8_t* mask, int64_t width, int64_t height,
                                     const std::vector<ComponentPrompt>& prompts) {
  check_mask(mask, width, height);
  const preprocess::Components cc =
      preprocess::label_components_2d(mask, width, height, Connectivity2D::k8);
  const int64_t n = width * height;
  std::vector<uint8_t> out(static_cast<size_t>(n) * prompts.size(), 0);
  for (size_t k = 0; k < prompts.size(); ++k) {
    uint8_t* dst = out.data() + k * static_cast<size_t>(n);
    for (int64_t i = 0; i < n; ++i)
      dst[i] = cc.labels[static_cast<size_t>(i)] == prompts[k].component ? 1 : 0;
  }
  return out;
}

SamPrompts to_sam_prompts(const std::vector<ComponentPrompt>& prompts, bool use_box) {
  SamPrompts out;
  const auto b = static_cast<int64_t>(prompts.size());
  if (b == 0) return out;
  const auto n = static_cast<int64_t>(prompts.front().points.size());
  for (const auto& cp : prompts)
    if (static_cast<int64_t>(cp.points.size()) != n || cp.labels.size() != cp.points.size())
      throw std::invalid_argument("to_sam_prompts: prompts differ in their number of points");
  if (use_box) {
    out.boxes = torch::empty({b, 4}, torch::kFloat);
    auto a = out.boxes.accessor<float, 2>();
    for (int64_t i = 0; i < b; ++i)
      for (int64_t c = 0; c < 4; ++c)
        a[i][c] = prompts[static_cast<size_t>(i)].box[static_cast<size_t>(c)];
  }
  if (n > 0) {
    out.point_coords = torch::empty({b, n, 2}, torch::kFloat);
    out.point_labels = torch::empty({b, n}, torch::kLong);
    auto c = out.point_coords.accessor<float, 3>();
    auto l = out.point_labels.accessor<int64_t, 2>();
    for (int64_t i = 0; i < b; ++i) {
      const auto& cp = prompts[static_cast<size_t>(i)];
      for (int64_t j = 0; j < n; ++j) {
        c[i][j][0] = cp.points[static_cast<size_t>(j)][0];
        c[i][j][1] = cp.points[static_cast<size_t>(j)][1];
        l[i][j] = cp.labels[static_cast<size_t>(j)];
      }
    }
  }
  return out;
}

}  // namespace aslseg::sam
