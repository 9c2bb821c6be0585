// Preparing volumes for the SSL stage: read, window, resize to the model size, keep as
// tensors. See docs/ssl_data.md.
#include "aslseg/ssl/slice_data.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/preprocess/invalid_mask.h"
#include "aslseg/preprocess/resize.h"
#include "aslseg/preprocess/slicing.h"

namespace aslseg::ssl {
namespace {

// A few cases at a time: each worker holds one full-resolution volume (a 512x512x1000 CT is
// 1 GB as float), and ITK's readers are largely bound by gzip inflation anyway.
constexpr unsigned kMaxPrepareThreads = 4;

void validate_prepare(const SliceDataParams& params) {
  if (params.image_size < 1) {
    throw std::invalid_argument("image_size must be >= 1, got " +
                                std::to_string(params.image_size));
  }
  if (params.context < 0) {
    throw std::invalid_argument("context must be >= 0, got " + std::to_string(params.context));
  }
  preprocess::validate(params.window);
}

// [Z, S, S] tensor holding the planes (channels = slices), resized when needed. `Planes` is a
// volume's buffer reinterpreted: ITK order (x fastest, then y, then z) is [Z][Y][X].
template <typename T>
preprocess::Planes<T> as_planes(const Volume<T>& v) {
  preprocess::Planes<T> p;
  p.channels = v.geometry.size[2];
  p.height = v.geometry.size[1];
  p.width = v.geometry.size[0];
  return p;
}

template <typename T>
torch::Tensor to_tensor(const preprocess::Planes<T>& p, torch::ScalarType type) {
  torch::Tensor t = torch::empty({p.channels, p.height, p.width}, torch::TensorOptions(type));
  std::memcpy(t.data_ptr(), p.data.data(), p.data.size() * sizeof(T));
  return t;
}

torch::Tensor image_tensor(Image&& windowed, int64_t side) {
  preprocess::FloatPlanes p = as_planes(windowed);
  p.data = std::move(windowed.voxels);
  if (p.height != side || p.width != side) p = preprocess::resize_bilinear(p, side, side);
  return to_tensor(p, torch::kFloat32);
}

torch::Tensor mask_tensor(LabelMap&& mask, int64_t side) {
  preprocess::LabelPlanes p = as_planes(mask);
  p.data = std::move(mask.voxels);
  if (p.height != side || p.width != side) p = preprocess::resize_nearest(p, side, side);
  return to_tensor(p, torch::kUInt8);
}

// Slices of a [Z, S, S] uint8 label tensor holding any voxel >= `label`. Taken at model
// resolution: a tumour that nearest-neighbour downsampling erased is not a tumour slice.
std::vector<int64_t> slices_with_label_at_least(const torch::Tensor& label, uint8_t value) {
  std::vector<int64_t> slices;
  const int64_t depth = label.size(0);
  const int64_t plane = label.size(1) * label.size(2);
  const uint8_t* p = label.data_ptr<uint8_t>();
  for (int64_t z = 0; z < depth; ++z) {
    const uint8_t* s = p + z * plane;
    if (std::any_of(s, s + plane, [value](uint8_t v) { return v >= value; })) slices.push_back(z);
  }
  return slices;
}

// Image, valid mask and (when `label_path` is non-null) labels of one case.
PreparedVolume prepare_case(const std::string& id, const std::filesystem::path& image_path,
                            const std::filesystem::path* label_path, const SliceDataParams& params,
                            bool liver_unsupervised = false) {
  PreparedVolume v;
  v.id = id;
  Image hu = io::read_image(image_path);
  const Geometry& g = hu.geometry;
  const double side = static_cast<double>(params.image_size);
  v.spacing.pixel_mm = 0.5 *
                       (g.spacing[0] * static_cast<double>(g.size[0]) +
                        g.spacing[1] * static_cast<double>(g.size[1])) /
                       side;
  v.spacing.slice_mm = g.spacing[2];
  // Read the label before the heavy work: a bad label file fails fast.
  LabelMap labels;
  if (label_path != nullptr) labels = io::read_labels_matching(*label_path, hu.geometry);
  LabelMap valid = preprocess::valid_mask(hu);
  // In place: padding becomes 0, the rest window_value(hu).
  preprocess::apply_window(hu.voxels.data(), valid.voxels.data(), hu.voxels.data(),
                           hu.voxels.size(), params.window);
  v.image = image_tensor(std::move(hu), params.image_size);
  v.valid = mask_tensor(std::move(valid), params.image_size);
  if (label_path != nullptr) {
    v.label = mask_tensor(std::move(labels), params.image_size);
    v.tumour_slices = slices_with_label_at_least(v.label, kTumour);
    v.liver_slices = slices_with_label_at_least(v.label, kLiver);
    if (liver_unsupervised)
      v.label.masked_fill_(v.label == static_cast<int64_t>(kLiver), kUnsupervisedLabel);
  }
  return v;
}

// Runs prepare_one(i) for every case on a few threads; results in case order. Cases are
// claimed in increasing index and a claimed case always finishes, so after a failure every
// case before it has been tried and the error rethrown (the lowest failing index) does not
// depend on timing.
template <typename PrepareOne>
std::vector<PreparedVolume> prepare_all(size_t count, const std::vector<std::string>& paths,
                                        PrepareOne prepare_one) {
  std::vector<PreparedVolume> out(count);
  std::vector<std::exception_ptr> errors(count);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&]() {
    for (;;) {
      if (failed.load()) return;
      const size_t i = next.fetch_add(1);
      if (i >= count) return;
      try {
        out[i] = prepare_one(i);
      } catch (const InputError&) {
        errors[i] = std::current_exception();
      } catch (const std::bad_alloc&) {
        errors[i] = std::current_exception();
      } catch (const std::exception& e) {
        // resize / window errors do not know the file; name it for the trainer's report.
        errors[i] = std::make_exception_ptr(InputError(paths[i], e.what()));
      }
      if (errors[i]) failed.store(true);
    }
  };
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads = std::min<size_t>({count, hardware, kMaxPrepareThreads});
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();  // the calling thread is one of the workers
  for (std::thread& t : pool) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return out;
}

}  // namespace

std::vector<PreparedVolume> prepare_labelled(const std::vector<dataset::LabelledCase>& cases,
                                             const SliceDataParams& params) {
  validate_prepare(params);
  std::vector<std::string> paths;
  for (const auto& c : cases) paths.push_back(c.image.string());
  return prepare_all(cases.size(), paths, [&](size_t i) {
    return prepare_case(cases[i].id, cases[i].image, &cases[i].label, params,
                        cases[i].liver_unsupervised);
  });
}

std::vector<PreparedVolume> prepare_unlabelled(const std::vector<dataset::UnlabelledCase>& cases,
                                               const SliceDataParams& params) {
  validate_prepare(params);
  std::vector<std::string> paths;
  for (const auto& c : cases) paths.push_back(c.image.string());
  return prepare_all(cases.size(), paths, [&](size_t i) {
    return prepare_case(cases[i].id, cases[i].image, nullptr, params);
  });
}

torch::Tensor context_stack(const PreparedVolume& v, int64_t z, int64_t context) {
  if (!v.image.defined() || v.image.dim() != 3) {
    throw std::invalid_argument("context_stack: volume '" + v.id + "' has no [Z, S, S] image");
  }
  const std::vector<int64_t> indices =
      preprocess::context_slice_indices(z, static_cast<int>(context), v.image.size(0));
  const torch::Tensor index = torch::tensor(indices, torch::kInt64).to(v.image.device());
  return v.image.index_select(0, index);
}

}  // namespace aslseg::ssl
