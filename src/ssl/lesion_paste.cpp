#include "aslseg/ssl/lesion_paste.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace aslseg::ssl {
namespace {

// Neighbouring slices of a lesion reach a little beyond the centre slice's outline.
constexpr int64_t kBoxMargin = 2;

struct Box {
  int64_t x0, y0, x1, y1;  // inclusive
};

// Bounding box of the 4-connected tumour component of `label` holding (x, y).
Box component_box(const uint8_t* label, int64_t h, int64_t w, int64_t x, int64_t y) {
  Box b{x, y, x, y};
  std::vector<uint8_t> seen(static_cast<size_t>(h * w), 0);
  std::vector<int64_t> stack{y * w + x};
  seen[static_cast<size_t>(y * w + x)] = 1;
  while (!stack.empty()) {
    const int64_t i = stack.back();
    stack.pop_back();
    const int64_t px = i % w;
    const int64_t py = i / w;
    b = {std::min(b.x0, px), std::min(b.y0, py), std::max(b.x1, px), std::max(b.y1, py)};
    const int64_t nx[4] = {px - 1, px + 1, px, px};
    const int64_t ny[4] = {py, py, py - 1, py + 1};
    for (int n = 0; n < 4; ++n) {
      if (nx[n] < 0 || ny[n] < 0 || nx[n] >= w || ny[n] >= h) continue;
      const int64_t j = ny[n] * w + nx[n];
      if (seen[static_cast<size_t>(j)] || label[j] != kStackTumour) continue;
      seen[static_cast<size_t>(j)] = 1;
      stack.push_back(j);
    }
  }
  return b;
}

// Mean of `image` where `label` == value; `fallback` when there is no such pixel.
double mean_where(const float* image, const uint8_t* label, int64_t n, uint8_t value,
                  double fallback) {
  double sum = 0.0;
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (label[i] != value) continue;
    sum += image[i];
    ++count;
  }
  return count > 0 ? sum / static_cast<double>(count) : fallback;
}

}  // namespace

int64_t paste_lesion(const LabelledStack& donor, const LabelledStack& recipient,
                     const PasteDraw& draw, float* out_channels, uint8_t* out_label) {
  const int64_t h = recipient.height;
  const int64_t w = recipient.width;
  const int64_t n = h * w;
  const size_t channels = recipient.channels.size();
  if (donor.height != h || donor.width != w || donor.channels.size() != channels ||
      donor.labels.size() != channels || recipient.labels.size() != channels)
    throw std::invalid_argument("paste_lesion: donor and recipient stacks differ in shape");
  for (size_t c = 0; c < channels; ++c)
    std::memcpy(out_channels + static_cast<int64_t>(c) * n, recipient.channels[c],
                static_cast<size_t>(n) * sizeof(float));
  std::memcpy(out_label, recipient.labels[static_cast<size_t>(recipient.centre)],
              static_cast<size_t>(n));
  const uint8_t* donor_centre = donor.labels[static_cast<size_t>(donor.centre)];
  if (donor_centre[draw.donor_y * w + draw.donor_x] != kStackTumour) return 0;

  const Box box = component_box(donor_centre, h, w, draw.donor_x, draw.donor_y);
  const int64_t dx = draw.target_x - draw.donor_x;
  const int64_t dy = draw.target_y - draw.donor_y;
  int64_t pasted = 0;
  for (size_t c = 0; c < channels; ++c) {
    const float* src = donor.channels[c];
    const uint8_t* src_label = donor.labels[c];
    const uint8_t* dst_label = recipient.labels[c];
    double lesion_sum = 0.0;
    int64_t lesion_count = 0;
    std::vector<int64_t> from;  // donor pixels of this channel that land in the recipient liver
    for (int64_t y = std::max<int64_t>(0, box.y0 - kBoxMargin);
         y <= std::min(h - 1, box.y1 + kBoxMargin); ++y) {
      for (int64_t x = std::max<int64_t>(0, box.x0 - kBoxMargin);
           x <= std::min(w - 1, box.x1 + kBoxMargin); ++x) {
        const int64_t i = y * w + x;
        if (src_label[i] != kStackTumour) continue;
        lesion_sum += src[i];
        ++lesion_count;
        const int64_t tx = x + dx;
        const int64_t ty = y + dy;
        if (tx < 0 || ty < 0 || tx >= w || ty >= h || !in_liver(dst_label[ty * w + tx])) continue;
        from.push_back(i);
      }
    }
    if (lesion_count == 0 || from.empty()) continue;
    const double lesion_mean = lesion_sum / static_cast<double>(lesion_count);
    const double donor_liver = mean_where(src, src_label, n, kStackLiver, lesion_mean);
    const double recipient_liver =
        mean_where(recipient.channels[c], dst_label, n, kStackLiver, donor_liver);
    const double shift =
        recipient_liver - lesion_mean + draw.contrast_factor * (lesion_mean - donor_liver);
    float* out = out_channels + static_cast<int64_t>(c) * n;
    const bool centre = static_cast<int64_t>(c) == recipient.centre;
    for (const int64_t i : from) {
      const int64_t t = (i / w + dy) * w + (i % w + dx);
      out[t] = static_cast<float>(std::clamp(src[i] + shift, 0.0, 1.0));
      if (centre) {
        pasted += out_label[t] != kStackTumour ? 1 : 0;
        out_label[t] = kStackTumour;
      }
    }
  }
  return pasted;
}

}  // namespace aslseg::ssl
