// Per-sample augmentation of one 2.5D training slice: a random in-plane affine (flips,
// rotation and scale about the slice centre) applied identically to every image channel
// (bilinear), the label (nearest) and the field-of-view mask (nearest), then an intensity
// jitter on valid pixels. Torch-free on purpose: it runs on raw buffers, so the batch
// workers never touch torch's RNG and this file compiles fast.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace aslseg::ssl {

// Forward transform: flip (about the centre), then rotate by angle_deg and scale by `scale`
// about the centre. Output pixel p shows input point source(p) = T^-1(p). Pixel centres sit
// at integer coordinates, the centre at ((W-1)/2, (H-1)/2): the convention of grid_sample
// with align_corners=false once its normalised coordinates are turned into pixels.
struct SliceAffine {
  bool flip_x = false;     // left-right (last tensor dimension)
  bool flip_y = false;     // up-down
  double angle_deg = 0.0;  // rotation from the +x towards the +y index axis
  double scale = 1.0;      // > 1 magnifies

  bool is_identity() const { return !flip_x && !flip_y && angle_deg == 0.0 && scale == 1.0; }
};

// source = m * (x, y) + t, precomputed for one slice size.
struct SourceMap {
  std::array<double, 4> m{1, 0, 0, 1};  // row-major 2x2
  std::array<double, 2> t{0, 0};

  void source(double x, double y, double* sx, double* sy) const {
    *sx = m[0] * x + m[1] * y + t[0];
    *sy = m[2] * x + m[3] * y + t[1];
  }
};

// The inverse map of `a` on a height x width slice. Rotation uses synth::detmath (not libm),
// so the map, and hence every augmented batch, is bit-identical on every machine. A pure
// flip gives an exact integer permutation of the pixels.
SourceMap source_map(const SliceAffine& a, int64_t height, int64_t width);

struct IntensityJitter {
  float multiplier = 1.0f;  // image * multiplier + shift, clamped to [0, 1], valid pixels only
  float shift = 0.0f;

  bool is_identity() const { return multiplier == 1.0f && shift == 0.0f; }
};

// Image degradations after nnU-Net's GaussianNoise and GaussianBlur transforms: a net trained
// on a few volumes of one scanner otherwise learns their noise level and sharpness too.
struct Degradation {
  double blur_sigma_px = 0.0;  // in-plane Gaussian blur of every channel (0: none)
  double noise_sigma = 0.0;    // additive Gaussian noise, windowed units (0: none)
  uint64_t noise_seed = 0;     // of the noise field, so a sample repeats bit for bit

  bool is_identity() const { return blur_sigma_px <= 0.0 && noise_sigma <= 0.0; }
};

struct AugmentDraw {
  SliceAffine affine;
  IntensityJitter intensity;
  Degradation degradation;
};

// One input sample: the 2k+1 channel planes (pointers into a volume, edge slices already
// replicated), the label plane (null for unlabelled data) and the valid plane, each
// height x width with x fastest.
struct SliceInput {
  std::vector<const float*> channels;
  const uint8_t* label = nullptr;
  const uint8_t* valid = nullptr;
  int64_t height = 0;
  int64_t width = 0;
};

// Where the sample goes: channels.size() planes of floats, one int64 label plane (null for
// unlabelled data) and one float valid plane (1 or 0).
struct SliceOutput {
  float* image = nullptr;
  int64_t* label = nullptr;
  float* valid = nullptr;
};

// A square patch of the slice for patch-based training (nnU-Net's habit: native resolution
// at a fraction of the whole-slice cost): the output is size x size pixels whose centre shows
// input point (centre_x, centre_y), pixel coordinates; the augmentation turns about that point.
struct PatchWindow {
  int64_t size = 0;
  double centre_x = 0.0;
  double centre_y = 0.0;
};

// Writes the sample, augmented with `draw` when it is non-null. Geometric part: bilinear
// for the image with zeros outside the slice (grid_sample, padding_mode='zeros'), nearest
// (round half up) for label and valid, 0 for both outside the slice; the image is then set to
// 0 wherever the resampled valid mask is 0, keeping prepare's invariant "padding is 0".
// Bilinear is evaluated as nested lerps a + f * (b - a), so a region of one value stays
// exactly that value. Intensity part: on valid pixels only.
// With `window` non-null the output planes are window->size squared (else the input's size);
// the rules above hold the same, pixels outside the slice being padding.
void render_sample(const SliceInput& in, const AugmentDraw* draw, const SliceOutput& out,
                   const PatchWindow* window = nullptr);

}  // namespace aslseg::ssl
