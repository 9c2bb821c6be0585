// Phantoms whose lesions a short CPU run can learn from random weights (SAM fine-tuning, the
// adaptation net, the SAM stage): large (20-40 mm radius), hypodense only (isodense lesions are
// invisible to a random image encoder), every case with tumour, low noise. Tests set the grid
// and the lesion count.
#pragma once

#include <array>
#include <cstdint>

#include "aslseg/synth/phantom.h"

namespace aslseg::testing {

inline constexpr double kVisibleLesionRadiusMinMm = 20.0;
inline constexpr double kVisibleLesionRadiusMaxMm = 40.0;
inline constexpr double kVisibleLesionNoiseMin = 5.0;
inline constexpr double kVisibleLesionNoiseMax = 10.0;

inline synth::PhantomParams visible_lesion_params(std::array<int64_t, 3> size,
                                                  std::array<double, 3> spacing, int tumours_min,
                                                  int tumours_max) {
  synth::PhantomParams p;
  p.size = size;
  p.spacing = spacing;
  p.tumours_min = tumours_min;
  p.tumours_max = tumours_max;
  p.no_tumour_probability = 0.0;
  p.tumour_radius_min_mm = kVisibleLesionRadiusMinMm;
  p.tumour_radius_max_mm = kVisibleLesionRadiusMaxMm;
  p.isodense_probability = 0.0;
  p.hyperdense_probability = 0.0;
  p.noise_sigma_min = kVisibleLesionNoiseMin;
  p.noise_sigma_max = kVisibleLesionNoiseMax;
  return p;
}

}  // namespace aslseg::testing
