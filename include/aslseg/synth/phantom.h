// CT-like abdominal phantoms with liver and tumour labels (LiTS convention), for tests and
// demos: `make_phantom` draws one volume in HU plus its label map, deterministically from a
// seed. What a phantom contains and which knobs change it is documented in docs/synth.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aslseg/io/volume.h"

namespace aslseg::synth {

// Tissue intensities in Hounsfield units (portal-venous phase CT). Ranges are drawn per case.
namespace hu {
constexpr double kOutOfFov = -3024.0;  // what scanners write outside the reconstruction circle
constexpr double kAir = -1000.0;
constexpr double kBowelGas = -950.0;
constexpr double kFat = -100.0;
constexpr double kMuscle = 45.0;
constexpr double kBowel = 25.0;
constexpr double kLung = -850.0;
constexpr double kHeart = 40.0;
constexpr double kKidney = 32.0;
constexpr double kSpleen = 48.0;
constexpr double kStomachFluid = 12.0;
constexpr double kGallbladder = 8.0;
constexpr double kCsf = 15.0;
constexpr double kDisc = 90.0;
constexpr double kCancellousBone = 220.0;
constexpr double kVertebralArch = 500.0;
constexpr double kRib = 550.0;
constexpr double kCorticalBone = 650.0;
constexpr double kLiverMin = 55.0;  // liver parenchyma, drawn per case
constexpr double kLiverMax = 70.0;
constexpr double kVesselMin = 150.0;  // contrast-enhanced portal and hepatic veins
constexpr double kVesselMax = 180.0;
constexpr double kAortaExtra = 15.0;  // the aorta is a little brighter than the veins
constexpr double kIvcDrop = 25.0;     // the IVC a little darker (mixing of unenhanced blood)
// Tumour contrast relative to the case's liver HU, by kind.
constexpr double kHypoContrastMin = -80.0;
constexpr double kHypoContrastMax = -30.0;
constexpr double kIsoContrastMin = -15.0;
constexpr double kIsoContrastMax = -5.0;
constexpr double kHyperContrastMin = 40.0;
constexpr double kHyperContrastMax = 90.0;
constexpr double kMinWritten = -1024.0;  // in-field values are clamped to the int16 CT range
constexpr double kMaxWritten = 3071.0;
}  // namespace hu

// The adult body width that anatomy proportions are drawn for; everything (organs, vessels,
// tumour radii) is scaled by body_width / kReferenceBodyWidthMm.
constexpr double kReferenceBodyWidthMm = 320.0;

struct PhantomParams {
  std::array<int64_t, 3> size{128, 128, 64};     // voxels x, y, z
  std::array<double, 3> spacing{0.8, 0.8, 2.5};  // mm
  // World position of voxel (0,0,0); by default the volume is centred on world (0,0,0).
  std::optional<std::array<double, 3>> origin;
  // Direction: a rotation about z (degrees), applied after flipping the listed axes. The
  // anatomy stays put in world (LPS) space: liver on the patient's right, spine posterior.
  double rotate_z_deg = 0.0;
  std::array<bool, 3> flip{false, false, false};
  // Body width in mm; 0 fits the body to the in-plane field of view. Give it explicitly to
  // keep the anatomy the same physical size on grids of different extent.
  double body_width_mm = 0.0;
  // Radius of the scan field (voxels outside get out_of_fov_hu) as a fraction of the circle
  // inscribed in the in-plane extent; >= sqrt(2) means no out-of-field corners.
  double fov_fraction = 1.0;
  double out_of_fov_hu = hu::kOutOfFov;
  // Tumour count: with probability no_tumour_probability a case has none (when tumours_min
  // is 0); otherwise it is uniform in [max(1, tumours_min), tumours_max].
  int tumours_min = 0;
  int tumours_max = 6;
  double no_tumour_probability = 0.2;
  // Tumour radius, log-uniform, in mm at the reference (adult) body width.
  double tumour_radius_min_mm = 3.0;
  double tumour_radius_max_mm = 30.0;
  double isodense_probability = 0.25;  // the rest minus hyperdense is hypodense
  double hyperdense_probability = 0.2;
  double edge_tumour_probability = 0.3;  // centred on the liver surface, clipped to the liver
  double tumour_irregularity = 0.25;     // max relative radius perturbation
  double noise_sigma_min = 10.0;         // Gaussian noise sigma (HU), uniform per case
  double noise_sigma_max = 20.0;
  double bias_hu = 8.0;  // amplitude of the smooth additive bias field inside the body
};

// Throws InputError (empty path) naming the offending parameter and its CLI option.
void validate(const PhantomParams& params);

// The grid a phantom with these parameters is written on.
Geometry phantom_geometry(const PhantomParams& params);

enum class TumourKind { kHypodense, kIsodense, kHyperdense };
std::string to_string(TumourKind kind);

struct TumourInfo {
  TumourKind kind = TumourKind::kHypodense;
  std::array<double, 3> centre_mm{0, 0, 0};     // world (LPS) coordinates
  std::array<double, 3> centre_index{0, 0, 0};  // continuous voxel index
  double radius_mm = 0.0;                       // nominal; the boundary is perturbed
  double max_radius_mm = 0.0;                   // no voxel of the lesion lies farther out
  double hu = 0.0;                              // lesion HU before noise and bias
  double contrast_hu = 0.0;                     // hu - liver_hu
  bool at_edge = false;                         // centred on the liver surface
  bool rim = false;                             // enhancing rim (hypodense only)
  bool necrotic_core = false;                   // darker centre (large hypodense only)
  int64_t voxels = 0;                           // label-2 voxels of this lesion
};

// What was drawn, for synth.json and for tests.
struct PhantomInfo {
  uint64_t seed = 0;
  double body_width_mm = 0.0;
  double anatomy_scale = 1.0;  // body_width_mm / kReferenceBodyWidthMm
  double liver_hu = 0.0;
  double vessel_hu = 0.0;
  double noise_sigma = 0.0;
  std::vector<TumourInfo> tumours;  // lesions with at least one labelled voxel
  int64_t liver_voxels = 0;         // label 1
  int64_t tumour_voxels = 0;        // label 2
  double liver_ml = 0.0;
  double tumour_ml = 0.0;
  int64_t liver_first_slice = -1;  // z index range holding label 1 or 2; -1 if none
  int64_t liver_last_slice = -1;
};

struct Phantom {
  Image ct;         // HU, integer-valued, so an int16 file holds it exactly
  LabelMap labels;  // 0 background, 1 liver, 2 tumour
  PhantomInfo info;
};

// One phantom; the same (params, seed) gives bit-identical voxels on every machine.
Phantom make_phantom(const PhantomParams& params, uint64_t seed);

// Case `index` of a set generated with `seed` (make_phantom with case_seed(seed, index)).
Phantom make_case(const PhantomParams& params, uint64_t seed, uint64_t index);

}  // namespace aslseg::synth
