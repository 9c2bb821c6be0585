// prepare_labelled / prepare_unlabelled on phantoms written to disk: windowing, padding,
// resizing, tumour slices, case order, errors, and proof that unlabelled labels are never read.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/preprocess/intensity.h"
#include "aslseg/preprocess/invalid_mask.h"
#include "aslseg/preprocess/resize.h"
#include "aslseg/preprocess/slicing.h"
#include "aslseg/synth/phantom.h"
#include "common/test_util.h"
#include "ssl/slice_data_test_util.h"

namespace aslseg::ssl {
namespace {

namespace fs = std::filesystem;
using testing::bitwise_equal;
using testing::TempDir;

// Small phantoms with out-of-field corners (fov_fraction < 1) and tumours big enough to
// survive coarse voxels.
synth::PhantomParams phantom_params(int64_t nx, int64_t ny, int64_t nz) {
  synth::PhantomParams p;
  p.size = {nx, ny, nz};
  p.spacing = {320.0 / static_cast<double>(nx), 320.0 / static_cast<double>(nx), 12.0};
  p.fov_fraction = 0.9;
  p.tumours_min = 2;
  p.tumours_max = 3;
  p.tumour_radius_min_mm = 20.0;
  p.tumour_radius_max_mm = 35.0;
  return p;
}

struct WrittenCase {
  dataset::LabelledCase files;
  synth::Phantom phantom;
};

WrittenCase write_case(const TempDir& dir, const synth::PhantomParams& params, int index) {
  WrittenCase c;
  c.phantom = synth::make_case(params, 77, static_cast<uint64_t>(index));
  c.files.id = std::to_string(index);
  c.files.image = dir / ("volume-" + c.files.id + ".nii.gz");
  c.files.label = dir / ("segmentation-" + c.files.id + ".nii.gz");
  io::write_image(c.phantom.ct, c.files.image);
  io::write_labels(c.phantom.labels, c.files.label);
  return c;
}

dataset::UnlabelledCase unlabelled(const dataset::LabelledCase& c) { return {c.id, c.image}; }

// [Z][Y][X] planes of a volume's buffer.
template <typename T>
preprocess::Planes<T> planes_of(const Volume<T>& v) {
  preprocess::Planes<T> p(v.geometry.size[2], v.geometry.size[1], v.geometry.size[0]);
  p.data = v.voxels;
  return p;
}

template <typename T>
torch::Tensor tensor_of(const preprocess::Planes<T>& p, torch::ScalarType type) {
  return torch::from_blob(const_cast<T*>(p.data.data()), {p.channels, p.height, p.width}, type)
      .clone();
}

TEST(SliceDataPrepare, NoResizeKeepsWindowedHuPaddingAndTumourSlices) {
  TempDir dir;
  const WrittenCase c = write_case(dir, phantom_params(40, 40, 12), 0);
  ASSERT_GT(c.phantom.info.tumour_voxels, 0);
  SliceDataParams params;
  params.image_size = 40;  // the original size: no resampling
  const auto volumes = prepare_labelled({c.files}, params);
  ASSERT_EQ(volumes.size(), 1u);
  const PreparedVolume& v = volumes[0];
  EXPECT_EQ(v.id, "0");
  ASSERT_EQ(v.image.sizes(), (std::vector<int64_t>{12, 40, 40}));
  ASSERT_EQ(v.valid.sizes(), (std::vector<int64_t>{12, 40, 40}));
  ASSERT_EQ(v.label.sizes(), (std::vector<int64_t>{12, 40, 40}));
  EXPECT_EQ(v.image.scalar_type(), torch::kFloat32);
  EXPECT_EQ(v.valid.scalar_type(), torch::kUInt8);
  EXPECT_EQ(v.label.scalar_type(), torch::kUInt8);

  const auto img = v.image.accessor<float, 3>();
  const auto val = v.valid.accessor<uint8_t, 3>();
  const auto lab = v.label.accessor<uint8_t, 3>();
  int64_t padding = 0;
  for (int64_t z = 0; z < 12; ++z) {
    for (int64_t y = 0; y < 40; ++y) {
      for (int64_t x = 0; x < 40; ++x) {
        const float hu = c.phantom.ct.at(x, y, z);  // integer HU: int16 on disk is exact
        const bool valid = preprocess::is_valid_hu(hu);
        padding += valid ? 0 : 1;
        ASSERT_EQ(val[z][y][x], valid ? 1 : 0) << x << "," << y << "," << z;
        ASSERT_EQ(img[z][y][x], valid ? preprocess::window_value(hu, params.window) : 0.0f)
            << x << "," << y << "," << z;
        ASSERT_EQ(lab[z][y][x], c.phantom.labels.at(x, y, z)) << x << "," << y << "," << z;
      }
    }
  }
  EXPECT_GT(padding, 0);  // the out-of-field corners were exercised
  EXPECT_EQ(v.tumour_slices, preprocess::slices_containing(c.phantom.labels, kTumour));
  std::vector<int64_t> liver;  // slices with label >= 1 (liver or tumour)
  for (int64_t z = 0; z < 12; ++z) {
    const uint8_t* s = c.phantom.labels.slice(z);
    if (std::any_of(s, s + 40 * 40, [](uint8_t l) { return l >= kLiver; })) liver.push_back(z);
  }
  EXPECT_EQ(v.liver_slices, liver);
  EXPECT_FALSE(v.tumour_slices.empty());
  EXPECT_LT(v.tumour_slices.size(), 12u);  // not trivially every slice
}

// A pseudo-label whose liver is not trusted: its liver pixels carry kUnsupervisedLabel (the
// loss leaves them out, paradigm.h); tumour, background, the image, the valid mask and the
// slice lists (from the label as read) stay as for an expert label.
TEST(SliceDataPrepare, UnsupervisedLiverIsMarkedOnlyThere) {
  TempDir dir;
  const WrittenCase c = write_case(dir, phantom_params(40, 40, 12), 0);
  SliceDataParams params;
  params.image_size = 40;
  dataset::LabelledCase pseudo = c.files;
  pseudo.liver_unsupervised = true;
  const auto volumes = prepare_labelled({c.files, pseudo}, params);
  ASSERT_EQ(volumes.size(), 2u);
  const auto expert = volumes[0].label.accessor<uint8_t, 3>();
  const auto partial = volumes[1].label.accessor<uint8_t, 3>();
  int64_t liver = 0, tumour = 0;
  for (int64_t z = 0; z < 12; ++z)
    for (int64_t y = 0; y < 40; ++y)
      for (int64_t x = 0; x < 40; ++x) {
        const uint8_t label = c.phantom.labels.at(x, y, z);
        ASSERT_EQ(expert[z][y][x], label);
        ASSERT_EQ(partial[z][y][x], label == kLiver ? kUnsupervisedLabel : label)
            << x << "," << y << "," << z;
        liver += label == kLiver ? 1 : 0;
        tumour += label == kTumour ? 1 : 0;
      }
  EXPECT_GT(liver, 0);
  EXPECT_GT(tumour, 0);
  EXPECT_TRUE(bitwise_equal(volumes[0].valid, volumes[1].valid));
  EXPECT_TRUE(bitwise_equal(volumes[0].image, volumes[1].image));
  EXPECT_EQ(volumes[0].tumour_slices, volumes[1].tumour_slices);
  EXPECT_EQ(volumes[0].liver_slices, volumes[1].liver_slices);
}

// Non-square input resized to S x S: the preprocess resize functions applied per slice, in
// [Z][Y][X] order (a transposed implementation fails on a non-square slice), cases in order.
TEST(SliceDataPrepare, ResizesEveryCaseInOrder) {
  constexpr int64_t kDepth = 8;  // the phantom minimum
  TempDir dir;
  const synth::PhantomParams params = phantom_params(48, 32, kDepth);
  std::vector<WrittenCase> cases;
  std::vector<dataset::LabelledCase> files;
  for (int i = 0; i < 5; ++i) {
    cases.push_back(write_case(dir, params, i));
    files.push_back(cases.back().files);
  }
  SliceDataParams p;
  p.image_size = 20;
  const auto volumes = prepare_labelled(files, p);
  ASSERT_EQ(volumes.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const WrittenCase& c = cases[i];
    const PreparedVolume& v = volumes[i];
    EXPECT_EQ(v.id, c.files.id);
    const Image hu = io::read_image(c.files.image);
    const LabelMap valid = preprocess::valid_mask(hu);
    const Image windowed = preprocess::apply_window(hu, valid, p.window);
    const auto image = preprocess::resize_bilinear(planes_of(windowed), 20, 20);
    const auto mask = preprocess::resize_nearest(planes_of(valid), 20, 20);
    const auto label = preprocess::resize_nearest(planes_of(c.phantom.labels), 20, 20);
    EXPECT_TRUE(bitwise_equal(v.image, tensor_of(image, torch::kFloat32))) << i;
    EXPECT_TRUE(bitwise_equal(v.valid, tensor_of(mask, torch::kUInt8))) << i;
    EXPECT_TRUE(bitwise_equal(v.label, tensor_of(label, torch::kUInt8))) << i;
    std::vector<int64_t> tumour;
    for (int64_t z = 0; z < kDepth; ++z) {
      if ((tensor_of(label, torch::kUInt8)[z] == 2).any().item<bool>()) tumour.push_back(z);
    }
    EXPECT_EQ(v.tumour_slices, tumour) << i;
  }
  // Unlabelled preparation of the same images: same pixels, no labels.
  std::vector<dataset::UnlabelledCase> images;
  for (const auto& f : files) images.push_back(unlabelled(f));
  const auto plain = prepare_unlabelled(images, p);
  ASSERT_EQ(plain.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(bitwise_equal(plain[i].image, volumes[i].image)) << i;
    EXPECT_TRUE(bitwise_equal(plain[i].valid, volumes[i].valid)) << i;
    EXPECT_FALSE(plain[i].label.defined());
    EXPECT_TRUE(plain[i].tumour_slices.empty());
    EXPECT_TRUE(plain[i].liver_slices.empty());
  }
}

// The label files of unlabelled cases are made unreadable (garbage, missing): preparing
// them as unlabelled still works, preparing them as labelled fails naming the bad file.
TEST(SliceDataPrepare, UnlabelledLabelsAreNeverRead) {
  TempDir dir;
  const synth::PhantomParams params = phantom_params(32, 32, 8);
  std::vector<dataset::LabelledCase> files;
  for (int i = 0; i < 3; ++i) files.push_back(write_case(dir, params, i).files);
  SliceDataParams p;
  p.image_size = 16;
  const auto before = prepare_labelled(files, p);

  std::ofstream(files[1].label, std::ios::binary | std::ios::trunc) << "not a NIfTI file";
  fs::remove(files[2].label);
  std::vector<dataset::UnlabelledCase> images;
  for (const auto& f : files) images.push_back(unlabelled(f));
  const auto volumes = prepare_unlabelled(images, p);
  ASSERT_EQ(volumes.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(bitwise_equal(volumes[i].image, before[i].image)) << i;
    EXPECT_FALSE(volumes[i].label.defined());
  }

  // Labelled: the first failing case in case order is reported, whatever the threads did.
  for (int repeat = 0; repeat < 3; ++repeat) {
    try {
      prepare_labelled(files, p);
      ADD_FAILURE() << "corrupt label accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.path(), files[1].label.string());
      EXPECT_NE(std::string(e.what()).find("segmentation-1"), std::string::npos) << e.what();
    }
  }
  try {
    prepare_labelled({files[0], files[2]}, p);
    ADD_FAILURE() << "missing label accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("segmentation-2"), std::string::npos) << e.what();
  }
}

TEST(SliceDataPrepare, ErrorsNameTheFileAndBadParametersAreRejected) {
  TempDir dir;
  dataset::UnlabelledCase missing{"9", dir / "volume-9.nii.gz"};
  try {
    prepare_unlabelled({missing}, SliceDataParams{});
    ADD_FAILURE() << "missing image accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("volume-9.nii.gz"), std::string::npos) << e.what();
  }
  SliceDataParams bad;
  bad.image_size = 0;
  EXPECT_THROW(prepare_unlabelled({}, bad), std::invalid_argument);
  EXPECT_TRUE(prepare_unlabelled({}, SliceDataParams{}).empty());
}

}  // namespace
}  // namespace aslseg::ssl
