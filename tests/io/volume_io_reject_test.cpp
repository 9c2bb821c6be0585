// Every input that ITK 5.2 alone would accept with invented voxels (see DESIGN.md and the
// foundation issue) must be refused with an InputError whose message names the file.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "aslseg/io/volume_io.h"
#include "io/io_test_util.h"
#include "io/nifti_builder.h"

namespace aslseg {
namespace {

using testing::NiftiSpec;
using testing::TempDir;

// Runs fn, expects an InputError naming `path` and containing `needle`.
template <typename Fn>
void expect_rejected(Fn fn, const std::filesystem::path& path, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "accepted " << path;
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line, please: " << msg;
  }
}

std::filesystem::path write_ct(const TempDir& dir, const std::string& name) {
  Image img(testing::oblique_geometry(32, 32, 16));
  for (size_t i = 0; i < img.voxels.size(); ++i)
    img.voxels[i] = static_cast<float>((i * 7919) % 2000) - 1000.0f;  // poorly compressible
  const auto path = dir / name;
  io::write_image(img, path);
  return path;
}

TEST(IoReject, MissingFile) {
  TempDir dir;
  const auto p = dir / "nope.nii.gz";
  expect_rejected([&] { io::read_image(p); }, p, "no such file");
}

TEST(IoReject, NotAnImage) {
  TempDir dir;
  const auto p = dir / "notes.nii";
  testing::write_bytes(p, std::vector<char>(400, 'x'));
  expect_rejected([&] { io::read_image(p); }, p, "not a NIfTI file");
}

TEST(IoReject, TruncatedGzip) {
  TempDir dir;
  const auto p = write_ct(dir, "ct.nii.gz");
  auto bytes = testing::read_bytes(p);
  bytes.resize(bytes.size() / 2);
  testing::write_bytes(p, bytes);
  expect_rejected([&] { io::read_image(p); }, p, "truncated");
}

TEST(IoReject, CorruptDeflateStream) {
  TempDir dir;
  const auto p = write_ct(dir, "ct.nii.gz");
  auto bytes = testing::read_bytes(p);
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 64; ++i)
    bytes[i] = static_cast<char>(~bytes[i]);
  testing::write_bytes(p, bytes);
  expect_rejected([&] { io::read_image(p); }, p, "corrupt");
}

TEST(IoReject, UncompressedDataShorterThanHeader) {
  TempDir dir;
  const auto p = write_ct(dir, "ct.nii");
  auto bytes = testing::read_bytes(p);
  bytes.resize(bytes.size() - 1000);
  testing::write_bytes(p, bytes);
  expect_rejected([&] { io::read_image(p); }, p, "truncated");
}

TEST(IoReject, TinyFileClaimingAGigavoxel) {
  TempDir dir;
  const auto p = dir / "bomb.nii.gz";
  NiftiSpec spec;
  spec.dim = {3, 1024, 1024, 1024, 1, 1, 1, 1};
  testing::write_nifti(p, spec, {});
  ASSERT_LT(std::filesystem::file_size(p), 200u);
  expect_rejected([&] { io::read_image(p); }, p, "truncated");
}

TEST(IoReject, FourDimensional) {
  TempDir dir;
  const auto p = dir / "fmri.nii.gz";
  NiftiSpec spec;
  spec.dim = {4, 4, 4, 4, 3, 1, 1, 1};
  testing::write_nifti(p, spec, testing::as_bytes(std::vector<int16_t>(4 * 4 * 4 * 3, 5)));
  expect_rejected([&] { io::read_image(p); }, p, "4D");
}

TEST(IoReject, TwoDimensional) {
  TempDir dir;
  const auto p = dir / "slice.nii";
  NiftiSpec spec;
  spec.dim = {2, 8, 8, 1, 1, 1, 1, 1};
  testing::write_nifti(p, spec, testing::as_bytes(std::vector<int16_t>(64, 5)));
  expect_rejected([&] { io::read_image(p); }, p, "2D");
  // The same file is fine where a single slice is explicitly allowed.
  EXPECT_EQ(io::read_labels(p, /*allow_single_slice=*/true).geometry.size[2], 1);
}

TEST(IoReject, SingleSliceThreeDimensional) {
  TempDir dir;
  const auto p = dir / "thin.nii.gz";
  NiftiSpec spec;
  spec.dim = {3, 8, 8, 1, 1, 1, 1, 1};
  testing::write_nifti(p, spec, testing::as_bytes(std::vector<int16_t>(64, 5)));
  expect_rejected([&] { io::read_image(p); }, p, "2D");
}

TEST(IoReject, ZeroSpacing) {
  TempDir dir;
  const auto p = dir / "flat.nii.gz";
  NiftiSpec spec;
  spec.pixdim = {1, 0.8f, 0.8f, 0.0f, 1, 1, 1, 1};
  testing::write_nifti(p, spec, testing::as_bytes(std::vector<int16_t>(64, 5)));
  expect_rejected([&] { io::read_image(p); }, p, "pixdim[3]");
}

// Issue 13: a CT's NaN/Inf voxels (resampling fill) are outside the field of view, not a reason
// to fail the case; ITK alone would read them as 0 HU (water). A label map with NaN is refused.
TEST(IoReject, NanAndInfInFloatImageAreOutsideTheFieldOfView) {
  TempDir dir;
  NiftiSpec spec;
  spec.datatype = 16;  // float32
  spec.bitpix = 32;
  std::vector<float> v(64, 1.5f);
  v[10] = std::numeric_limits<float>::quiet_NaN();
  v[20] = std::numeric_limits<float>::infinity();
  for (const char* name : {"nan.nii.gz", "nan.nii"}) {
    const auto p = dir / name;
    testing::write_nifti(p, spec, testing::as_bytes(v));
    const Image image = io::read_image(p);
    ASSERT_EQ(image.voxels.size(), v.size());
    for (size_t i = 0; i < v.size(); ++i)
      EXPECT_EQ(image.voxels[i], (i == 10 || i == 20) ? io::kNonFiniteHu : 1.5f)
          << name << " " << i;
    expect_rejected([&] { io::read_labels(p); }, p, "2 voxels are NaN or Inf");
  }
  // The same through MetaImage, where ITK keeps the NaN itself.
  Image with_nan = io::read_image(dir / "nan.nii");
  with_nan.voxels[33] = std::numeric_limits<float>::quiet_NaN();
  io::write_image(with_nan, dir / "nan.mha", io::PixelType::kFloat32);
  const Image mha = io::read_image(dir / "nan.mha");
  EXPECT_EQ(mha.voxels[33], io::kNonFiniteHu);
  EXPECT_EQ(mha.voxels[10], io::kNonFiniteHu);
  EXPECT_EQ(mha.voxels[11], 1.5f);
  // A volume that is mostly NaN is no CT.
  std::vector<float> mostly(64, std::numeric_limits<float>::quiet_NaN());
  mostly[0] = 0.0f;
  const auto bad = dir / "mostly.nii.gz";
  testing::write_nifti(bad, spec, testing::as_bytes(mostly));
  expect_rejected([&] { io::read_image(bad); }, bad, "63 voxels are NaN or Inf");
}

TEST(IoReject, FiniteFloatImageIsRead) {
  TempDir dir;
  const auto p = dir / "ok.nii.gz";
  NiftiSpec spec;
  spec.datatype = 16;
  spec.bitpix = 32;
  std::vector<float> v(64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) - 3.25f;
  testing::write_nifti(p, spec, testing::as_bytes(v));
  const Image img = io::read_image(p);
  EXPECT_EQ(img.voxels, v);
}

TEST(IoReject, LabelGeometryMismatch) {
  TempDir dir;
  Geometry g = testing::oblique_geometry(8, 8, 4);
  LabelMap labels(g, 1);
  labels.geometry.spacing[2] = 3.0;  // the image has 2.5 mm slices
  const auto p = dir / "seg.nii.gz";
  io::write_labels(labels, p);
  expect_rejected([&] { io::read_labels_matching(p, g); }, p, "spacing");
  labels.geometry = g;
  labels.geometry.size[2] = 5;
  labels.voxels.resize(static_cast<size_t>(labels.geometry.num_voxels()), 1);
  io::write_labels(labels, p);
  expect_rejected([&] { io::read_labels_matching(p, g); }, p, "size 8x8x5 vs 8x8x4");
}

TEST(IoReject, LabelsMustBeSmallIntegers) {
  TempDir dir;
  Image img(testing::oblique_geometry(8, 8, 4), 1.0f);
  img.voxels[3] = 300.0f;
  const auto p = dir / "seg.nii.gz";
  io::write_image(img, p, io::PixelType::kInt16);
  expect_rejected([&] { io::read_labels(p); }, p, "not a label map");
}

class RawFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(RawFormats, TruncatedFileIsRejected) {
  TempDir dir;
  const auto p = write_ct(dir, "ct" + GetParam());
  auto bytes = testing::read_bytes(p);
  bytes.resize(bytes.size() * 2 / 3);
  testing::write_bytes(p, bytes);
  expect_rejected([&] { io::read_image(p); }, p, "truncated");
}

TEST_P(RawFormats, CorruptCompressedDataIsRejected) {
  TempDir dir;
  const auto p = write_ct(dir, "ct" + GetParam());
  auto bytes = testing::read_bytes(p);
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i)
    bytes[i] = static_cast<char>(~bytes[i]);
  testing::write_bytes(p, bytes);
  expect_rejected([&] { io::read_image(p); }, p, "corrupt");
}

INSTANTIATE_TEST_SUITE_P(IoReject, RawFormats, ::testing::Values(".mha", ".nrrd"),
                         [](const auto& info) { return info.param.substr(1); });

}  // namespace
}  // namespace aslseg
