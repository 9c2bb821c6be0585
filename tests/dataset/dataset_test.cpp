#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "aslseg/dataset/case_id.h"
#include "aslseg/dataset/dataset.h"
#include "aslseg/dataset/split.h"
#include "aslseg/io/error.h"
#include "io/io_test_util.h"

namespace aslseg {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Dataset discovery only looks at names, so empty files stand in for volumes.
void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "";
}

TEST(DatasetCaseId, LitsNnunetAndPlainNames) {
  EXPECT_EQ(dataset::case_id("a/volume-7.nii"), "7");
  EXPECT_EQ(dataset::case_id("segmentation-7.nii.gz"), "7");
  EXPECT_EQ(dataset::case_id("imagesTr/liver_007_0000.nii.gz"), "liver_007");
  EXPECT_EQ(dataset::case_id("labelsTr/liver_007.nii.gz"), "liver_007");
  EXPECT_EQ(dataset::case_id("ct_12.mha"), "ct_12");
}

TEST(DatasetDiscover, LitsWithBatchFoldersSortsNumerically) {
  TempDir d;
  for (int i : {0, 2, 10}) {
    touch(d / "Training Batch 1" / ("volume-" + std::to_string(i) + ".nii"));
    touch(d / "Training Batch 1" / ("segmentation-" + std::to_string(i) + ".nii"));
  }
  touch(d / "volume-11.nii.gz");  // an unlabelled case in the root
  const auto ds = dataset::discover(d.path());
  EXPECT_EQ(ds.layout, dataset::Layout::kLits);
  ASSERT_EQ(ds.cases.size(), 4u);
  EXPECT_EQ(ds.cases[0].id, "0");
  EXPECT_EQ(ds.cases[1].id, "2");
  EXPECT_EQ(ds.cases[2].id, "10");
  EXPECT_EQ(ds.cases[3].id, "11");
  EXPECT_EQ(ds.num_labelled(), 3u);
  EXPECT_FALSE(ds.cases[3].label.has_value());
  EXPECT_EQ(ds.cases[2].label->filename(), "segmentation-10.nii");
}

TEST(DatasetDiscover, NnunetRawWithTestImages) {
  TempDir d;
  touch(d / "imagesTr" / "liver_001_0000.nii.gz");
  touch(d / "labelsTr" / "liver_001.nii.gz");
  touch(d / "imagesTr" / "liver_002_0000.nii.gz");
  touch(d / "labelsTr" / "liver_002.nii.gz");
  touch(d / "imagesTs" / "liver_100_0000.nii.gz");
  touch(d / "dataset.json");
  const auto ds = dataset::discover(d.path());
  EXPECT_EQ(ds.layout, dataset::Layout::kNnUnet);
  ASSERT_EQ(ds.cases.size(), 3u);
  EXPECT_EQ(ds.cases[0].id, "liver_001");
  EXPECT_EQ(ds.num_labelled(), 2u);
}

TEST(DatasetDiscover, NnunetMultiChannelIsRefused) {
  TempDir d;
  touch(d / "imagesTr" / "a_0000.nii.gz");
  touch(d / "imagesTr" / "a_0001.nii.gz");
  try {
    dataset::discover(d.path());
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("a_0001.nii.gz"), std::string::npos) << e.what();
  }
}

TEST(DatasetDiscover, ImagesAndLabelsFolders) {
  TempDir d;
  touch(d / "images" / "p1.mha");
  touch(d / "labels" / "p1.mha");
  touch(d / "images" / "p2.nrrd");
  touch(d / "images" / ".p3.tmp-1-0.nii.gz");  // our own temporaries are ignored
  const auto ds = dataset::discover(d.path());
  EXPECT_EQ(ds.layout, dataset::Layout::kImagesLabels);
  ASSERT_EQ(ds.cases.size(), 2u);
  EXPECT_TRUE(ds.cases[0].label.has_value());
  EXPECT_FALSE(ds.cases[1].label.has_value());
}

TEST(DatasetDiscover, ErrorsNameTheFile) {
  TempDir d;
  EXPECT_THROW(dataset::discover(d / "missing"), InputError);
  EXPECT_THROW(dataset::discover(d.path()), InputError);  // empty: no layout
  touch(d / "volume-1.nii");
  touch(d / "segmentation-2.nii");
  try {
    dataset::discover(d.path());
    ADD_FAILURE() << "a label without an image was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("segmentation-2.nii"), std::string::npos);
  }
}

dataset::Dataset fake_lits(const TempDir& d, int n, int unlabelled_extra = 0) {
  for (int i = 0; i < n; ++i) {
    touch(d / ("volume-" + std::to_string(i) + ".nii.gz"));
    touch(d / ("segmentation-" + std::to_string(i) + ".nii.gz"));
  }
  for (int i = n; i < n + unlabelled_extra; ++i)
    touch(d / ("volume-" + std::to_string(i) + ".nii.gz"));
  return dataset::discover(d.path());
}

TEST(DatasetSplit, CountsFollowTheDocumentedRule) {
  TempDir d;
  const auto ds = fake_lits(d, 20, 5);
  dataset::SplitParams p;
  p.labelled_fraction = 0.1;
  p.test_fraction = 0.2;
  p.seed = 3;
  const auto s = dataset::make_split(ds, p);
  EXPECT_EQ(s.test.size(), 4u);      // round(0.2 x 20 labelled)
  EXPECT_EQ(s.labelled.size(), 2u);  // round(0.1 x (25 - 4))
  EXPECT_EQ(s.unlabelled.size(), 19u);
  std::set<std::string> all(s.labelled.begin(), s.labelled.end());
  all.insert(s.unlabelled.begin(), s.unlabelled.end());
  all.insert(s.test.begin(), s.test.end());
  EXPECT_EQ(all.size(), 25u) << "every case exactly once";
  for (const auto& id : s.test) EXPECT_LT(std::stoi(id), 20) << "test cases need labels";
  for (int i = 20; i < 25; ++i)
    EXPECT_NE(std::find(s.unlabelled.begin(), s.unlabelled.end(), std::to_string(i)),
              s.unlabelled.end());
}

TEST(DatasetSplit, DeterministicPerSeedAndDifferentAcrossSeeds) {
  TempDir d;
  const auto ds = fake_lits(d, 30);
  dataset::SplitParams p;
  p.seed = 11;
  const auto a = dataset::make_split(ds, p);
  const auto b = dataset::make_split(ds, p);
  EXPECT_EQ(a.labelled, b.labelled);
  EXPECT_EQ(a.test, b.test);
  p.seed = 12;
  const auto c = dataset::make_split(ds, p);
  EXPECT_TRUE(a.test != c.test || a.labelled != c.labelled);
}

TEST(DatasetSplit, AtLeastOneLabelledCaseAndBadFractionsRefused) {
  TempDir d;
  const auto ds = fake_lits(d, 5);
  dataset::SplitParams p;
  p.labelled_fraction = 0.0;
  p.test_fraction = 0.0;
  EXPECT_EQ(dataset::make_split(ds, p).labelled.size(), 1u);
  p.test_fraction = 1.0;
  EXPECT_THROW(dataset::make_split(ds, p), InputError);
}

// The structural guarantee: an unlabelled case has no member that could hold a label.
template <typename T, typename = void>
struct has_label : std::false_type {};
template <typename T>
struct has_label<T, std::void_t<decltype(std::declval<T>().label)>> : std::true_type {};

TEST(DatasetSplit, UnlabelledCasesCarryNoLabelIntoTraining) {
  static_assert(!has_label<dataset::UnlabelledCase>::value, "UnlabelledCase must not hold a label");
  static_assert(has_label<dataset::LabelledCase>::value);
  TempDir d;
  const auto ds = fake_lits(d, 10);
  dataset::SplitParams p;
  p.labelled_fraction = 0.3;
  const auto s = dataset::make_split(ds, p);
  const auto train = s.training_set(ds);
  EXPECT_EQ(train.labelled.size(), s.labelled.size());
  EXPECT_EQ(train.unlabelled.size(), s.unlabelled.size());
  const auto eval = s.evaluation_set(ds);
  EXPECT_EQ(eval.unlabelled_truth.size(), s.unlabelled.size());
  EXPECT_EQ(eval.test.size(), s.test.size());
}

TEST(DatasetSplit, JsonRoundTripAndValidation) {
  TempDir d;
  const auto ds = fake_lits(d, 12);
  const auto s = dataset::make_split(ds, {});
  const auto path = d / "split.json";
  std::ofstream(path) << dataset::split_to_json(s);
  const auto back = dataset::load_split(path, ds);
  EXPECT_EQ(back.labelled, s.labelled);
  EXPECT_EQ(back.unlabelled, s.unlabelled);
  EXPECT_EQ(back.test, s.test);
  // A case listed twice is refused, naming the split file.
  auto j = nlohmann::json::parse(dataset::split_to_json(s));
  j["test"].push_back(s.labelled.front());
  std::ofstream(path) << j.dump();
  try {
    dataset::load_split(path, ds);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("split.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("two sets"), std::string::npos);
  }
}

}  // namespace
}  // namespace aslseg

namespace aslseg {
namespace {
TEST(DatasetCaseId, NaturalOrder) {
  EXPECT_TRUE(dataset::case_id_less("2", "10"));
  EXPECT_FALSE(dataset::case_id_less("10", "2"));
  EXPECT_TRUE(dataset::case_id_less("liver_2", "liver_10"));
  EXPECT_TRUE(dataset::case_id_less("a", "b"));
  EXPECT_FALSE(dataset::case_id_less("7", "7"));
  EXPECT_TRUE(dataset::case_id_less("007", "8")) << "leading zeros do not change the number";
}
}  // namespace
}  // namespace aslseg
