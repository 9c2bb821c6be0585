// Drawing batches: which slices (tumour over-sampling), their augmentation, and the
// prefetching BatchSource. Everything random comes from synth::Rng seeded by
// (seed, step, sample, stream), never from torch's generator or from thread timing.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "aslseg/core/runtime.h"
#include "aslseg/preprocess/slicing.h"
#include "aslseg/ssl/slice_data.h"
#include "aslseg/synth/rng.h"

namespace aslseg::ssl {
namespace {

// Separates batch randomness from every other use of the same seed (phantoms, splits).
constexpr uint64_t kBatchSalt = 0x5ca1ab1e0ddba11ull;
constexpr double kFlipProbability = 0.5;
// nnU-Net's GaussianBlur draws sigma from [0.5, 1] pixels: below half a pixel it is a no-op.
constexpr double kMinBlurSigmaPx = 0.5;
// A blur wider than a few pixels erases the small lesions the net must learn.
constexpr double kMaxBlurSigmaPx = 4.0;
constexpr uint64_t kLabelledStream = 1;
constexpr uint64_t kUnlabelledStream = 0;
constexpr uint8_t kLiverLabel = 1;  // LiTS
constexpr uint8_t kTumourLabel = 2;
// Synthetic lesions: in-plane elongation up to e^0.3 = 1.35 (semi-axes ratio 1.8), and a
// boundary perturbation that keeps the radius positive.
constexpr double kMaxLogElongation = 0.3;
constexpr double kMaxSynthIrregularity = 0.5;
constexpr double kPi = 3.14159265358979323846;

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

void validate_sampling(const SliceDataParams& p) {
  require(p.context >= 0, "context must be >= 0, got " + std::to_string(p.context));
  require(p.image_size >= 1, "image_size must be >= 1, got " + std::to_string(p.image_size));
  require(p.patch_size >= 0 && p.patch_size <= p.image_size,
          "data.patch_size must be in [0, image_size = " + std::to_string(p.image_size) +
              "], got " + std::to_string(p.patch_size));
  require(
      p.tumour_slice_fraction >= 0.0 && p.tumour_slice_fraction <= 1.0,
      "tumour_slice_fraction must be in [0, 1], got " + std::to_string(p.tumour_slice_fraction));
  const AugmentParams& a = p.augment;
  require(a.rotate_deg >= 0.0 && a.rotate_deg <= 180.0,
          "augment.rotate_deg must be in [0, 180], got " + std::to_string(a.rotate_deg));
  require(a.scale >= 0.0 && a.scale < 1.0,
          "augment.scale must be in [0, 1), got " + std::to_string(a.scale));
  require(a.intensity_scale >= 0.0 && a.intensity_scale < 1.0,
          "augment.intensity_scale must be in [0, 1), got " + std::to_string(a.intensity_scale));
  require(a.intensity_shift >= 0.0 && a.intensity_shift <= 1.0,
          "augment.intensity_shift must be in [0, 1], got " + std::to_string(a.intensity_shift));
  require(a.noise_probability >= 0.0 && a.noise_probability <= 1.0 && a.noise_max >= 0.0 &&
              a.noise_max <= 1.0,
          "augment.noise_probability must be in [0, 1] and augment.noise_max in [0, 1], got " +
              std::to_string(a.noise_probability) + " and " + std::to_string(a.noise_max));
  require(a.blur_probability >= 0.0 && a.blur_probability <= 1.0 && a.blur_max_px >= 0.0 &&
              a.blur_max_px <= kMaxBlurSigmaPx,
          "augment.blur_probability must be in [0, 1] and augment.blur_max_px in [0, " +
              std::to_string(kMaxBlurSigmaPx) + "], got " + std::to_string(a.blur_probability) +
              " and " + std::to_string(a.blur_max_px));
  const LesionPasteParams& l = p.lesion_paste;
  require(l.probability >= 0.0 && l.probability <= 1.0,
          "lesion_paste.probability must be in [0, 1], got " + std::to_string(l.probability));
  require(l.contrast_min > 0.0 && l.contrast_min <= l.contrast_max,
          "lesion_paste needs 0 < contrast_min <= contrast_max, got " +
              std::to_string(l.contrast_min) + " and " + std::to_string(l.contrast_max));
  require(l.invert_probability >= 0.0 && l.invert_probability <= 1.0,
          "lesion_paste.invert_probability must be in [0, 1], got " +
              std::to_string(l.invert_probability));
  const LesionSynthParams& y = p.lesion_synth;
  require(y.probability >= 0.0 && y.probability <= 1.0,
          "lesion_synth.probability must be in [0, 1], got " + std::to_string(y.probability));
  require(y.radius_min_mm > 0.0 && y.radius_min_mm <= y.radius_max_mm,
          "lesion_synth needs 0 < radius_min_mm <= radius_max_mm");
  require(y.contrast_min_hu >= 0.0 && y.contrast_min_hu <= y.contrast_max_hu,
          "lesion_synth needs 0 <= contrast_min_hu <= contrast_max_hu");
  require(y.hypo_probability >= 0.0 && y.hypo_probability <= 1.0,
          "lesion_synth.hypo_probability must be in [0, 1]");
  require(
      y.irregularity >= 0.0 && y.irregularity <= kMaxSynthIrregularity,
      "lesion_synth.irregularity must be in [0, " + std::to_string(kMaxSynthIrregularity) + "]");
}

// Every volume must be what prepare_* makes at this image_size: CPU, contiguous, [Z, S, S].
void validate_volumes(const std::vector<PreparedVolume>& volumes, bool labelled,
                      const SliceDataParams& p) {
  require(!volumes.empty(), "make_batch: no volumes to draw from");
  require(volumes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()),
          "make_batch: too many volumes");
  const int64_t s = p.image_size;
  auto check = [&](const PreparedVolume& v, const torch::Tensor& t, torch::ScalarType type,
                   const char* what) {
    require(t.defined() && t.dim() == 3 && t.scalar_type() == type && t.device().is_cpu() &&
                t.is_contiguous() && t.size(0) >= 1 && t.size(1) == s && t.size(2) == s &&
                t.size(0) == v.image.size(0) && t.size(0) <= std::numeric_limits<int>::max(),
            "make_batch: volume '" + v.id + "' has no contiguous CPU " + what + " of [Z, " +
                std::to_string(s) + ", " + std::to_string(s) + "] (prepared at another size?)");
  };
  for (const PreparedVolume& v : volumes) {
    require(v.image.defined(), "make_batch: volume '" + v.id + "' has no image");
    check(v, v.image, torch::kFloat32, "float image");
    check(v, v.valid, torch::kUInt8, "uint8 valid mask");
    if (labelled) check(v, v.label, torch::kUInt8, "uint8 label");
  }
}

// Labelled volumes that can serve a tumour draw / a liver-only draw.
struct Pools {
  std::vector<int64_t> tumour;
  std::vector<int64_t> liver;
};

Pools make_pools(const std::vector<PreparedVolume>& volumes) {
  Pools pools;
  for (size_t i = 0; i < volumes.size(); ++i) {
    if (!volumes[i].tumour_slices.empty()) pools.tumour.push_back(static_cast<int64_t>(i));
    if (!volumes[i].liver_slices.empty()) pools.liver.push_back(static_cast<int64_t>(i));
  }
  return pools;
}

// Uniform index in [0, n), n >= 1 (sizes were checked to fit an int).
int64_t pick(synth::Rng& rng, size_t n) { return rng.uniform_int(0, static_cast<int>(n) - 1); }

template <typename T>
T pick_from(synth::Rng& rng, const std::vector<T>& items) {
  return items[static_cast<size_t>(pick(rng, items.size()))];
}

uint64_t sample_seed(uint64_t seed, int64_t step, int64_t index, bool labelled) {
  uint64_t h = synth::hash_combine(synth::mix64(seed ^ kBatchSalt), static_cast<uint64_t>(step));
  h = synth::hash_combine(h, static_cast<uint64_t>(index));
  return synth::hash_combine(h, labelled ? kLabelledStream : kUnlabelledStream);
}

// Always the same seven draws in the same order (the seventh seeds the degradations), so
// switching one kind of augmentation off (flip = false, rotate_deg = 0 ...) leaves the others'
// values unchanged.
AugmentDraw draw_augment(const AugmentParams& a, synth::Rng& rng) {
  AugmentDraw d;
  const bool flip_x = rng.bernoulli(kFlipProbability);
  const bool flip_y = rng.bernoulli(kFlipProbability);
  d.affine.flip_x = a.flip && flip_x;
  d.affine.flip_y = a.flip && flip_y;
  d.affine.angle_deg = rng.uniform(-a.rotate_deg, a.rotate_deg);
  d.affine.scale = rng.uniform(1.0 - a.scale, 1.0 + a.scale);
  d.intensity.multiplier =
      static_cast<float>(rng.uniform(1.0 - a.intensity_scale, 1.0 + a.intensity_scale));
  d.intensity.shift = static_cast<float>(rng.uniform(-a.intensity_shift, a.intensity_shift));
  // The degradations draw from their own generator, seeded by one draw here, so they can be
  // switched on or off without moving any later draw of the sample.
  synth::Rng aux(rng.next());
  const bool noise = aux.bernoulli(a.noise_probability);
  const double noise_sigma = aux.uniform(0.0, a.noise_max);
  d.degradation.noise_seed = aux.next();
  const bool blur = aux.bernoulli(a.blur_probability);
  const double blur_sigma = aux.uniform(kMinBlurSigmaPx, std::max(kMinBlurSigmaPx, a.blur_max_px));
  d.degradation.noise_sigma = noise ? noise_sigma : 0.0;
  d.degradation.blur_sigma_px = blur && a.blur_max_px > 0.0 ? blur_sigma : 0.0;
  return d;
}

// A uniformly drawn pixel of slice z holding `label`; nullopt when the slice holds none.
std::optional<std::pair<int64_t, int64_t>> pick_pixel(synth::Rng& rng, const PreparedVolume& v,
                                                      int64_t z, uint8_t label) {
  const int64_t side = v.label.size(2);
  const int64_t plane = v.label.size(1) * side;
  const uint8_t* p = v.label.data_ptr<uint8_t>() + z * plane;
  const int64_t count = std::count(p, p + plane, label);
  if (count == 0) return std::nullopt;
  int64_t k = rng.uniform_int(0, static_cast<int>(count) - 1);
  for (int64_t i = 0; i < plane; ++i) {
    if (p[i] == label && k-- == 0) return std::make_pair(i % side, i / side);
  }
  return std::nullopt;  // unreachable
}

// Which lesion goes where, for a labelled sample that gets one pasted: a tumour pixel of a
// random tumour slice as the donor, a liver pixel of the sample's own slice as the target.
std::optional<SampleChoice::Paste> draw_paste(const std::vector<PreparedVolume>& volumes,
                                              const Pools& pools, const SampleChoice& c,
                                              const LesionPasteParams& p, synth::Rng& rng) {
  if (!rng.bernoulli(p.probability) || pools.tumour.empty()) return std::nullopt;
  SampleChoice::Paste paste;
  paste.donor_volume = pick_from(rng, pools.tumour);
  const PreparedVolume& donor = volumes[static_cast<size_t>(paste.donor_volume)];
  paste.donor_slice = pick_from(rng, donor.tumour_slices);
  const auto from = pick_pixel(rng, donor, paste.donor_slice, kTumourLabel);
  const auto to = pick_pixel(rng, volumes[static_cast<size_t>(c.volume)], c.slice, kLiverLabel);
  if (!from || !to) return std::nullopt;
  paste.draw.donor_x = from->first;
  paste.draw.donor_y = from->second;
  paste.draw.target_x = to->first;
  paste.draw.target_y = to->second;
  const double factor = rng.uniform(p.contrast_min, p.contrast_max);
  paste.draw.contrast_factor = rng.bernoulli(p.invert_probability) ? -factor : factor;
  return paste;
}

// A synthetic lesion centred on a liver pixel of the sample's slice (after any paste); its
// centre lies within half a slice, and within half its radius, of that slice.
std::optional<SynthDraw> draw_synth(const PreparedVolume& v, const SampleChoice& c,
                                    const SliceDataParams& p, synth::Rng& rng) {
  const LesionSynthParams& y = p.lesion_synth;
  if (!rng.bernoulli(y.probability)) return std::nullopt;
  const auto at = pick_pixel(rng, v, c.slice, kLiverLabel);
  if (!at) return std::nullopt;
  SynthDraw d;
  d.centre_x = static_cast<double>(at->first);
  d.centre_y = static_cast<double>(at->second);
  d.radius_mm = rng.log_uniform(y.radius_min_mm, y.radius_max_mm);
  const double z_reach = 0.5 * std::min(v.spacing.slice_mm, d.radius_mm);
  d.centre_z_mm = rng.uniform(-z_reach, z_reach);
  d.elongation = std::exp(rng.uniform(-kMaxLogElongation, kMaxLogElongation));
  d.angle_rad = rng.uniform(0.0, kPi);
  d.harmonic2 = rng.uniform(0.0, 0.5 * y.irregularity);
  d.phase2 = rng.uniform(0.0, 2.0 * kPi);
  d.harmonic3 = rng.uniform(0.0, 0.5 * y.irregularity);
  d.phase3 = rng.uniform(0.0, 2.0 * kPi);
  const double hu = rng.uniform(y.contrast_min_hu, y.contrast_max_hu);
  const double sign = rng.bernoulli(y.hypo_probability) ? -1.0 : 1.0;
  d.contrast = sign * hu / static_cast<double>(p.window.width);
  return d;
}

// Where the patch of a sample sits: near a tumour pixel for tumour draws and near a pasted
// or synthetic lesion (so the lesion is not always at the centre), else anywhere the patch fits
// inside the slice.
PatchWindow draw_window(const PreparedVolume& v, const SampleChoice& c, const SliceDataParams& p,
                        synth::Rng& rng) {
  PatchWindow w;
  w.size = p.patch_size;
  const double half = 0.5 * static_cast<double>(p.patch_size - 1);
  const double last = static_cast<double>(p.image_size - 1);
  std::optional<std::pair<int64_t, int64_t>> anchor;
  if (c.tumour_draw) anchor = pick_pixel(rng, v, c.slice, kTumourLabel);
  if (!anchor && c.paste) anchor = std::make_pair(c.paste->draw.target_x, c.paste->draw.target_y);
  if (!anchor && c.synth)
    anchor = std::make_pair(static_cast<int64_t>(c.synth->centre_x),
                            static_cast<int64_t>(c.synth->centre_y));
  if (anchor) {
    const auto [x, y] = *anchor;
    const double jitter = 0.25 * static_cast<double>(p.patch_size);
    w.centre_x = static_cast<double>(x) + rng.uniform(-jitter, jitter);
    w.centre_y = static_cast<double>(y) + rng.uniform(-jitter, jitter);
  } else {
    w.centre_x = rng.uniform(half, last - half);
    w.centre_y = rng.uniform(half, last - half);
  }
  // Whole pixels, so an unrotated patch is an exact copy of slice pixels.
  w.centre_x = std::floor(w.centre_x) + (p.patch_size % 2 == 0 ? 0.5 : 0.0);
  w.centre_y = std::floor(w.centre_y) + (p.patch_size % 2 == 0 ? 0.5 : 0.0);
  return w;
}

SampleChoice choose(const std::vector<PreparedVolume>& volumes, const Pools& pools, bool labelled,
                    const SliceDataParams& p, uint64_t seed, int64_t step, int64_t index) {
  synth::Rng rng(sample_seed(seed, step, index, labelled));
  SampleChoice c;
  // Drawn for unlabelled samples too, so both streams consume the generator alike.
  const bool tumour = rng.bernoulli(p.tumour_slice_fraction);
  if (labelled && tumour && !pools.tumour.empty()) {
    c.volume = pick_from(rng, pools.tumour);
    c.slice = pick_from(rng, volumes[static_cast<size_t>(c.volume)].tumour_slices);
    c.tumour_draw = true;
  } else if (labelled && p.liver_slices_only && !pools.liver.empty()) {
    c.volume = pick_from(rng, pools.liver);
    c.slice = pick_from(rng, volumes[static_cast<size_t>(c.volume)].liver_slices);
  } else {
    c.volume = pick(rng, volumes.size());
    c.slice = pick(rng, static_cast<size_t>(volumes[static_cast<size_t>(c.volume)].image.size(0)));
  }
  if (p.augment.enabled) c.augment = draw_augment(p.augment, rng);
  if (labelled && p.lesion_paste.probability > 0.0)
    c.paste = draw_paste(volumes, pools, c, p.lesion_paste, rng);
  if (labelled && p.lesion_synth.probability > 0.0)
    c.synth = draw_synth(volumes[static_cast<size_t>(c.volume)], c, p, rng);
  // Drawn last, so that whole-slice training keeps the draws it always had.
  if (p.patch_size > 0) c.window = draw_window(volumes[static_cast<size_t>(c.volume)], c, p, rng);
  return c;
}

// The planes of slice z's 2k+1 stack (labels only for labelled volumes).
LabelledStack labelled_stack(const PreparedVolume& v, int64_t z, const SliceDataParams& params,
                             bool labelled) {
  const int64_t plane = v.image.size(1) * v.image.size(2);
  LabelledStack s;
  s.height = v.image.size(1);
  s.width = v.image.size(2);
  s.centre = params.context;
  for (int64_t zi :
       preprocess::context_slice_indices(z, static_cast<int>(params.context), v.image.size(0))) {
    s.channels.push_back(v.image.data_ptr<float>() + zi * plane);
    if (labelled) s.labels.push_back(v.label.data_ptr<uint8_t>() + zi * plane);
  }
  return s;
}

// The in-plane side of the batches: patch_size when set, else image_size.
int64_t sample_side(const SliceDataParams& params) {
  return params.patch_size > 0 ? params.patch_size : params.image_size;
}

}  // namespace

SampleChoice choose_sample(const std::vector<PreparedVolume>& volumes, bool labelled,
                           const SliceDataParams& params, uint64_t seed, int64_t step,
                           int64_t index) {
  validate_sampling(params);
  validate_volumes(volumes, labelled, params);
  return choose(volumes, make_pools(volumes), labelled, params, seed, step, index);
}

Batch make_batch(const std::vector<PreparedVolume>& volumes, bool labelled, int64_t batch_size,
                 const SliceDataParams& params, uint64_t seed, int64_t step) {
  require(batch_size >= 0, "batch_size must be >= 0, got " + std::to_string(batch_size));
  validate_sampling(params);
  const int64_t side = params.image_size;
  const int64_t channels = 2 * params.context + 1;
  const int64_t plane = side * side;
  const int64_t out_side = sample_side(params);
  const int64_t out_plane = out_side * out_side;
  Batch b;
  b.image = torch::empty({batch_size, channels, out_side, out_side}, torch::kFloat32);
  b.valid = torch::empty({batch_size, out_side, out_side}, torch::kFloat32);
  if (labelled) b.label = torch::empty({batch_size, out_side, out_side}, torch::kInt64);
  if (batch_size == 0) return b;

  validate_volumes(volumes, labelled, params);
  const Pools pools = make_pools(volumes);
  SliceInput in;
  in.height = side;
  in.width = side;
  std::vector<float> pasted_image;  // the stack with a pasted lesion, when a sample has one
  std::vector<uint8_t> pasted_label;
  std::vector<float> synth_image;  // the stack with a synthetic lesion added
  std::vector<uint8_t> synth_label;
  for (int64_t i = 0; i < batch_size; ++i) {
    const SampleChoice c = choose(volumes, pools, labelled, params, seed, step, i);
    const PreparedVolume& v = volumes[static_cast<size_t>(c.volume)];
    const LabelledStack stack = labelled_stack(v, c.slice, params, labelled);
    in.channels = stack.channels;
    in.valid = v.valid.data_ptr<uint8_t>() + c.slice * plane;
    in.label = labelled ? v.label.data_ptr<uint8_t>() + c.slice * plane : nullptr;
    if (c.paste) {
      const LabelledStack donor = labelled_stack(
          volumes[static_cast<size_t>(c.paste->donor_volume)], c.paste->donor_slice, params, true);
      pasted_image.resize(static_cast<size_t>(channels * plane));
      pasted_label.resize(static_cast<size_t>(plane));
      paste_lesion(donor, stack, c.paste->draw, pasted_image.data(), pasted_label.data());
      for (int64_t ch = 0; ch < channels; ++ch)
        in.channels[static_cast<size_t>(ch)] = pasted_image.data() + ch * plane;
      in.label = pasted_label.data();
    }
    if (c.synth) {
      // On top of a pasted lesion, if any: the image as pasted, the liver of the recipient.
      LabelledStack recipient = stack;
      recipient.channels = in.channels;
      synth_image.resize(static_cast<size_t>(channels * plane));
      synth_label.resize(static_cast<size_t>(plane));
      synthesize_lesion(recipient, v.spacing, *c.synth, synth_image.data(), synth_label.data());
      if (c.paste) {  // keep the pasted lesion's label
        for (int64_t j = 0; j < plane; ++j)
          if (pasted_label[static_cast<size_t>(j)] == kTumourLabel)
            synth_label[static_cast<size_t>(j)] = kTumourLabel;
      }
      for (int64_t ch = 0; ch < channels; ++ch)
        in.channels[static_cast<size_t>(ch)] = synth_image.data() + ch * plane;
      in.label = synth_label.data();
    }
    SliceOutput out;
    out.image = b.image.data_ptr<float>() + i * channels * out_plane;
    out.valid = b.valid.data_ptr<float>() + i * out_plane;
    out.label = labelled ? b.label.data_ptr<int64_t>() + i * out_plane : nullptr;
    render_sample(in, params.augment.enabled ? &c.augment : nullptr, out,
                  params.patch_size > 0 ? &c.window : nullptr);
  }
  return b;
}

// Prefetching: workers fill slots for the steps [next, next + prefetch) that nobody has
// claimed; get(step) takes its slot (waiting if a worker is on it) or computes the batch
// itself, then moves the window to step + 1. Slots outside the window are dropped once done,
// so the map holds at most prefetch + workers batches.
struct BatchSource::Impl {
  struct Slot {
    bool ready = false;
    int waiters = 0;
    Batch batch;
    std::exception_ptr error;
  };

  const std::vector<PreparedVolume>& volumes;
  bool labelled;
  int64_t batch_size;
  SliceDataParams params;
  uint64_t seed;

  std::mutex mutex;
  std::condition_variable work_cv;  // workers: the window moved, or stop
  std::condition_variable done_cv;  // get(): a slot became ready
  std::map<int64_t, Slot> slots;
  int64_t next = 0;
  bool stop = false;
  std::vector<std::thread> threads;

  Impl(const std::vector<PreparedVolume>& v, bool l, int64_t b, const SliceDataParams& p,
       uint64_t s)
      : volumes(v), labelled(l), batch_size(b), params(p), seed(s) {}

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    work_cv.notify_all();
    for (std::thread& t : threads) t.join();
  }

  Batch compute(int64_t step) const {
    return make_batch(volumes, labelled, batch_size, params, seed, step);
  }

  // The first unclaimed step of the window (mutex held).
  bool find_work(int64_t* step) const {
    for (int64_t s = next; s < next + params.prefetch; ++s) {
      if (slots.find(s) == slots.end()) {
        *step = s;
        return true;
      }
    }
    return false;
  }

  // Drops finished slots nobody waits for outside the window (mutex held).
  void evict() {
    for (auto it = slots.begin(); it != slots.end();) {
      const bool outside = it->first < next || it->first >= next + params.prefetch;
      if (outside && it->second.ready && it->second.waiters == 0) {
        it = slots.erase(it);
      } else {
        ++it;
      }
    }
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      int64_t step = 0;
      work_cv.wait(lock, [&] { return stop || find_work(&step); });
      if (stop) return;
      slots[step];  // claimed: get() waits for it instead of computing it again
      lock.unlock();
      Batch batch;
      std::exception_ptr error;
      try {
        batch = compute(step);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      Slot& slot = slots[step];  // only evict() erases, and never a slot still being filled
      slot.batch = std::move(batch);
      slot.error = error;
      slot.ready = true;
      evict();
      done_cv.notify_all();
    }
  }

  Batch get(int64_t step) {
    if (threads.empty()) return compute(step);
    std::unique_lock<std::mutex> lock(mutex);
    auto it = slots.find(step);
    if (it == slots.end()) {
      // Not prefetched (first call, a jump, or an out-of-order request): compute it here
      // while the workers start on the steps after it.
      next = step + 1;
      evict();
      lock.unlock();
      work_cv.notify_all();
      return compute(step);
    }
    ++it->second.waiters;
    next = step + 1;
    work_cv.notify_all();
    done_cv.wait(lock, [&] { return it->second.ready; });
    Batch batch = it->second.batch;  // shares the tensors: they are never written again
    const std::exception_ptr error = it->second.error;
    if (--it->second.waiters == 0) slots.erase(it);
    evict();
    lock.unlock();
    if (error) std::rethrow_exception(error);
    return batch;
  }
};

BatchSource::BatchSource(const std::vector<PreparedVolume>& volumes, bool labelled,
                         int64_t batch_size, const SliceDataParams& params, uint64_t seed)
    : impl_(std::make_unique<Impl>(volumes, labelled, batch_size, params, seed)) {
  require(batch_size >= 0, "batch_size must be >= 0, got " + std::to_string(batch_size));
  require(params.workers >= 0, "workers must be >= 0, got " + std::to_string(params.workers));
  require(params.prefetch >= 0, "prefetch must be >= 0, got " + std::to_string(params.prefetch));
  validate_sampling(params);
  // Nothing to overlap for an empty stream; workers = 0 or prefetch = 0 is synchronous.
  if (batch_size == 0 || params.prefetch == 0) return;
  // More workers than CPUs only adds threads that wait; each runs below the compute threads'
  // priority so that prefetching never stalls the OpenMP team of the training step.
  const int64_t workers = std::min<int64_t>(params.workers, core::available_cpus());
  for (int64_t t = 0; t < workers; ++t) {
    impl_->threads.emplace_back([impl = impl_.get()] {
      core::lower_thread_priority();
      impl->work();
    });
  }
}

BatchSource::~BatchSource() = default;

Batch BatchSource::get(int64_t step) { return impl_->get(step); }

}  // namespace aslseg::ssl
