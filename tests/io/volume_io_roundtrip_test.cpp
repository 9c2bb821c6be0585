#include <gtest/gtest.h>

#include "aslseg/io/volume_io.h"
#include "io/io_test_util.h"

namespace aslseg {
namespace {

using testing::oblique_geometry;
using testing::TempDir;

void expect_same_geometry(const Geometry& a, const Geometry& b) {
  EXPECT_EQ(a.size, b.size);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(a.spacing[i], b.spacing[i], 1e-5) << "spacing " << i;
    EXPECT_NEAR(a.origin[i], b.origin[i], 1e-4) << "origin " << i;
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(a.direction[i], b.direction[i], 1e-5) << "dir " << i;
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, Int16ImageKeepsEveryVoxelAndGeometry) {
  TempDir dir;
  const Geometry g = oblique_geometry(13, 11, 7);
  Image img(g);
  // Distinct HU values, negative ones included, so a swapped axis or a lost sign shows.
  for (size_t i = 0; i < img.voxels.size(); ++i)
    img.voxels[i] = static_cast<float>(static_cast<int>(i * 37 % 4001) - 1024);
  const auto path = dir / ("ct" + GetParam());
  io::write_image(img, path, io::PixelType::kInt16);
  const Image back = io::read_image(path);
  expect_same_geometry(back.geometry, g);
  ASSERT_EQ(back.voxels.size(), img.voxels.size());
  EXPECT_EQ(back.voxels, img.voxels);
  // The geometry-only reader agrees with the full one.
  expect_same_geometry(io::read_geometry(path), g);
}

TEST_P(RoundTrip, FloatImageKeepsEveryVoxel) {
  TempDir dir;
  const Geometry g = oblique_geometry(9, 8, 5);
  Image img(g);
  for (size_t i = 0; i < img.voxels.size(); ++i)
    img.voxels[i] = 0.125f * static_cast<float>(i) - 17.3f;
  const auto path = dir / ("f" + GetParam());
  io::write_image(img, path, io::PixelType::kFloat32);
  const Image back = io::read_image(path);
  expect_same_geometry(back.geometry, g);
  EXPECT_EQ(back.voxels, img.voxels);
}

TEST_P(RoundTrip, LabelsKeepEveryVoxelAndGeometry) {
  TempDir dir;
  const Geometry g = oblique_geometry(10, 12, 6);
  LabelMap labels(g);
  for (size_t i = 0; i < labels.voxels.size(); ++i) labels.voxels[i] = static_cast<uint8_t>(i % 3);
  const auto path = dir / ("seg" + GetParam());
  io::write_labels(labels, path);
  const LabelMap back = io::read_labels(path);
  expect_same_geometry(back.geometry, g);
  EXPECT_EQ(back.voxels, labels.voxels);
  // And it matches the image grid it was made for.
  EXPECT_NO_THROW(io::read_labels_matching(path, g));
}

INSTANTIATE_TEST_SUITE_P(IoFormats, RoundTrip,
                         ::testing::Values(".nii.gz", ".nii", ".mha", ".nrrd"),
                         [](const auto& info) {
                           std::string n = info.param.substr(1);
                           for (auto& c : n)
                             if (c == '.') c = '_';
                           return n;
                         });

TEST(IoAtomicWrite, LeavesNoTemporaryFiles) {
  TempDir dir;
  LabelMap labels(oblique_geometry(4, 4, 3), 1);
  io::write_labels(labels, dir / "a.nii.gz");
  io::write_labels(labels, dir / "a.nii.gz");  // overwrite through rename
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "a.nii.gz");
  }
  EXPECT_EQ(files, 1);
}

TEST(IoAtomicWrite, FailedWriteLeavesNothingBehind) {
  TempDir dir;
  LabelMap labels(oblique_geometry(4, 4, 3), 1);
  labels.voxels.pop_back();  // inconsistent with its geometry: must be refused
  EXPECT_THROW(io::write_labels(labels, dir / "b.nii.gz"), InputError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(IoPaths, StemsAndVolumeNames) {
  EXPECT_EQ(io::volume_stem("a/volume-3.nii.gz"), "volume-3");
  EXPECT_EQ(io::volume_stem("x_0000.nii"), "x_0000");
  EXPECT_EQ(io::volume_stem("ct.mha"), "ct");
  EXPECT_TRUE(io::is_volume_path("ct.nrrd"));
  EXPECT_FALSE(io::is_volume_path("notes.txt"));
}

}  // namespace
}  // namespace aslseg
