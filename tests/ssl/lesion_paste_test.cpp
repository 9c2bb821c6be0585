// paste_lesion: the donor's tumour component moves to the target, keeps its texture, takes the
// recipient's liver level plus the rescaled contrast, lands on liver only, and is labelled.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "aslseg/ssl/lesion_paste.h"

namespace aslseg::ssl {
namespace {

constexpr int64_t kSide = 16;
constexpr int64_t kPlane = kSide * kSide;

struct Slice {
  std::vector<float> image = std::vector<float>(kPlane, 0.0f);
  std::vector<uint8_t> label = std::vector<uint8_t>(kPlane, 0);
  void fill(int64_t x0, int64_t y0, int64_t x1, int64_t y1, float value, uint8_t l) {
    for (int64_t y = y0; y <= y1; ++y)
      for (int64_t x = x0; x <= x1; ++x) {
        image[static_cast<size_t>(y * kSide + x)] = value;
        label[static_cast<size_t>(y * kSide + x)] = l;
      }
  }
  float at(int64_t x, int64_t y) const { return image[static_cast<size_t>(y * kSide + x)]; }
};

LabelledStack stack_of(const Slice& s) {
  LabelledStack st;
  st.channels = {s.image.data()};
  st.labels = {s.label.data()};
  st.height = kSide;
  st.width = kSide;
  st.centre = 0;
  return st;
}

TEST(LesionPaste, MovesTheComponentWithNewContrastOntoLiverOnly) {
  Slice donor;
  donor.fill(0, 0, 15, 15, 0.5f, 1);  // liver at 0.5
  donor.fill(2, 2, 4, 4, 0.2f, 2);    // the lesion: 3x3 at 0.2 (contrast -0.3)
  donor.image[static_cast<size_t>(3 * kSide + 3)] = 0.25f;  // texture: centre a little brighter
  donor.fill(12, 12, 13, 13, 0.9f, 2);  // another lesion, outside the component's box
  Slice recipient;
  recipient.fill(6, 6, 15, 15, 0.6f, 1);  // liver at 0.6; rows/columns < 6 background

  std::vector<float> out(kPlane);
  std::vector<uint8_t> out_label(kPlane);
  PasteDraw d;
  d.donor_x = 3;
  d.donor_y = 3;
  d.target_x = 10;
  d.target_y = 10;
  d.contrast_factor = 1.0;
  EXPECT_EQ(paste_lesion(stack_of(donor), stack_of(recipient), d, out.data(), out_label.data()), 9);
  // Lesion mean 0.2056: value = 0.6 + (v - 0.2056) + 1.0 * (0.2056 - 0.5) = v + 0.1.
  const float lesion_mean = (8 * 0.2f + 0.25f) / 9.0f;
  const float donor_liver = 0.5f;  // mean over label 1 only
  for (int64_t y = 9; y <= 11; ++y)
    for (int64_t x = 9; x <= 11; ++x) {
      const float v = donor.at(x - 7, y - 7);
      EXPECT_NEAR(out[static_cast<size_t>(y * kSide + x)],
                  0.6f + (v - lesion_mean) + (lesion_mean - donor_liver), 1e-6)
          << x << "," << y;
      EXPECT_EQ(out_label[static_cast<size_t>(y * kSide + x)], 2);
    }
  EXPECT_EQ(out_label[static_cast<size_t>(8 * kSide + 8)], 1) << "around the lesion: untouched";
  EXPECT_EQ(out[static_cast<size_t>(8 * kSide + 8)], 0.6f);
  EXPECT_EQ(out_label[static_cast<size_t>(12 * kSide + 12)], 1) << "the other lesion stays home";

  // Inverted contrast: a hypodense donor becomes hyperdense.
  d.contrast_factor = -1.0;
  paste_lesion(stack_of(donor), stack_of(recipient), d, out.data(), out_label.data());
  EXPECT_NEAR(out[static_cast<size_t>(9 * kSide + 9)],
              0.6f + (0.2f - lesion_mean) - (lesion_mean - donor_liver), 1e-6);
  // Values stay in the windowed range [0, 1].
  d.contrast_factor = -2.0;
  paste_lesion(stack_of(donor), stack_of(recipient), d, out.data(), out_label.data());
  EXPECT_EQ(out[static_cast<size_t>(9 * kSide + 9)], 1.0f);

  // Aimed at the recipient's liver edge: only the pixels landing on liver are pasted.
  d.contrast_factor = 1.0;
  d.target_x = 6;
  d.target_y = 6;
  EXPECT_EQ(paste_lesion(stack_of(donor), stack_of(recipient), d, out.data(), out_label.data()), 4);
  EXPECT_EQ(out_label[static_cast<size_t>(5 * kSide + 5)], 0);
  EXPECT_EQ(out[static_cast<size_t>(5 * kSide + 5)], 0.0f);

  // A donor pixel that is not tumour pastes nothing: the output is the recipient.
  d.donor_x = 8;
  d.donor_y = 8;
  EXPECT_EQ(paste_lesion(stack_of(donor), stack_of(recipient), d, out.data(), out_label.data()), 0);
  EXPECT_EQ(out, recipient.image);
  EXPECT_EQ(out_label, recipient.label);
}

}  // namespace
}  // namespace aslseg::ssl
