#include "aslseg/postprocess/component_filter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace pp = aslseg::postprocess;
using aslseg::Image;
using aslseg::LabelMap;

namespace {

constexpr float kLiverHu = 60.0f;
constexpr float kLesionHu = 100.0f;

// A 10x10x5 grid: liver in x, y 1..8 on every slice; lesion A = the 2x2x2 cube at x, y 3..4,
// z 1..2 (HU 100, P 0.9 except one voxel at 0.5); speck B = one voxel at (7, 7, 4) (HU as the
// liver, P 0.6).
struct Case {
  LabelMap labels;
  Image prob;
  Image hu;
  Case() {
    aslseg::Geometry g;
    g.size = {10, 10, 5};
    labels = LabelMap(g, aslseg::kBackground);
    prob = Image(g, 0.0f);
    hu = Image(g, -100.0f);
    for (int64_t z = 0; z < 5; ++z)
      for (int64_t y = 1; y <= 8; ++y)
        for (int64_t x = 1; x <= 8; ++x) {
          labels.at(x, y, z) = aslseg::kLiver;
          hu.at(x, y, z) = kLiverHu;
        }
    for (int64_t z = 1; z <= 2; ++z)
      for (int64_t y = 3; y <= 4; ++y)
        for (int64_t x = 3; x <= 4; ++x) {
          labels.at(x, y, z) = aslseg::kTumour;
          hu.at(x, y, z) = kLesionHu;
          prob.at(x, y, z) = 0.9f;
        }
    prob.at(3, 3, 1) = 0.5f;
    labels.at(7, 7, 4) = aslseg::kTumour;
    prob.at(7, 7, 4) = 0.6f;
  }
};

pp::ComponentExample example(int64_t voxels, double p, bool is_tumour) {
  pp::ComponentExample e;
  e.features.voxels = voxels;
  e.features.mean_probability = p;
  e.features.max_probability = std::min(1.0, p + 0.1);
  e.features.member_agreement = is_tumour ? 0.9 : 0.2;
  e.features.contrast_hu = is_tumour ? 40.0 : 10.0;
  e.features.slices = is_tumour ? 4 : 1;
  e.is_tumour = is_tumour;
  return e;
}

// Large, confident, agreed-on, contrasted true components; small doubtful false ones.
std::vector<pp::ComponentExample> separable_examples() {
  std::vector<pp::ComponentExample> out;
  for (int i = 0; i < 8; ++i) out.push_back(example(50 + 20 * i, 0.8 + 0.02 * i, true));
  for (int i = 0; i < 12; ++i) out.push_back(example(1 + i, 0.45 + 0.01 * i, false));
  return out;
}

}  // namespace

TEST(ComponentFilter, FeaturesOfConstructedComponents) {
  Case c;
  LabelMap half(c.labels.geometry, aslseg::kLiver);  // member 1 finds half of A, not B
  for (int64_t z = 1; z <= 2; ++z)
    for (int64_t x = 3; x <= 4; ++x) half.at(x, 3, z) = aslseg::kTumour;
  const pp::TumourComponents t = pp::tumour_components(c.labels, c.prob, c.hu, {c.labels, half});
  ASSERT_EQ(t.components.count(), 2);
  ASSERT_EQ(t.features.size(), 2u);
  const pp::ComponentFeatures& a = t.features[0];  // first in buffer order
  EXPECT_EQ(a.voxels, 8);
  EXPECT_NEAR(a.mean_probability, (7 * 0.9 + 0.5) / 8, 1e-6);
  EXPECT_NEAR(a.max_probability, 0.9, 1e-6);
  EXPECT_DOUBLE_EQ(a.member_agreement, 0.5);
  EXPECT_NEAR(a.contrast_hu, kLesionHu - kLiverHu, 1e-6);  // the ring is all liver
  EXPECT_EQ(a.slices, 2);
  const pp::ComponentFeatures& b = t.features[1];
  EXPECT_EQ(b.voxels, 1);
  EXPECT_NEAR(b.mean_probability, 0.6, 1e-6);
  EXPECT_DOUBLE_EQ(b.member_agreement, 0.0);
  EXPECT_NEAR(b.contrast_hu, 0.0, 1e-6);
  EXPECT_EQ(b.slices, 1);
  // A single net: agreement 1.
  EXPECT_DOUBLE_EQ(pp::tumour_components(c.labels, c.prob, c.hu, {}).features[1].member_agreement,
                   1.0);
}

TEST(ComponentFilter, TouchesTumourPerComponent) {
  Case c;
  LabelMap truth(c.labels.geometry, aslseg::kLiver);
  truth.at(4, 4, 2) = aslseg::kTumour;  // one voxel of A
  truth.at(0, 0, 0) = aslseg::kTumour;  // far from both
  const auto t = pp::tumour_components(c.labels, c.prob, c.hu, {});
  EXPECT_EQ(pp::touches_tumour(t.components, truth), (std::vector<bool>{true, false}));
}

TEST(ComponentFilter, LearnsSeparableComponentsAndRemovesTheFalseOnes) {
  const pp::ComponentFilter f = pp::ComponentFilter::fit(separable_examples(), {});
  ASSERT_TRUE(f.enabled());
  EXPECT_GT(f.probability(example(120, 0.85, true).features), 0.9);
  EXPECT_LT(f.probability(example(2, 0.5, false).features), 0.1);

  // On the constructed case: A looks like the true examples, B like the false ones.
  Case c;
  LabelMap member = c.labels;
  std::vector<LabelMap> members{member, member};
  const auto t = pp::tumour_components(c.labels, c.prob, c.hu, members);
  LabelMap filtered = c.labels;
  EXPECT_EQ(f.apply(t, filtered, &members), 1);
  EXPECT_EQ(filtered.at(7, 7, 4), aslseg::kLiver);
  EXPECT_EQ(filtered.at(3, 3, 1), aslseg::kTumour);
  EXPECT_EQ(members[1].at(7, 7, 4), aslseg::kLiver);
  EXPECT_EQ(members[1].at(4, 4, 2), aslseg::kTumour);
  int64_t changed = 0;
  for (size_t i = 0; i < filtered.voxels.size(); ++i)
    changed += filtered.voxels[i] != c.labels.voxels[i];
  EXPECT_EQ(changed, 1);
}

TEST(ComponentFilter, TooFewExamplesGiveAFilterThatKeepsEverything) {
  std::vector<pp::ComponentExample> few = separable_examples();
  few.resize(10);  // 8 true, 2 false
  const pp::ComponentFilter f = pp::ComponentFilter::fit(few, {});
  EXPECT_FALSE(f.enabled());
  EXPECT_NE(f.reason().find("8 true and 2 false"), std::string::npos) << f.reason();
  EXPECT_DOUBLE_EQ(f.probability(example(1, 0.1, false).features), 1.0);
  Case c;
  LabelMap labels = c.labels;
  EXPECT_EQ(pp::filter_tumour_components(f, c.hu, c.prob, labels), 0);
  EXPECT_EQ(labels.voxels, c.labels.voxels);
}

TEST(ComponentFilter, JsonRoundTripScoresTheSame) {
  const pp::ComponentFilter f = pp::ComponentFilter::fit(separable_examples(), {});
  const pp::ComponentFilter g = pp::ComponentFilter::from_json(f.to_json());
  ASSERT_TRUE(g.enabled());
  for (const auto& e : separable_examples())
    EXPECT_DOUBLE_EQ(g.probability(e.features), f.probability(e.features));
  nlohmann::json bad = f.to_json();
  bad["scale"][2] = 0.0;
  EXPECT_THROW(pp::ComponentFilter::from_json(bad), std::invalid_argument);
  bad = f.to_json();
  bad["wieghts"] = 1;
  EXPECT_THROW(pp::ComponentFilter::from_json(bad), std::invalid_argument);
  const pp::ComponentFilter off = pp::ComponentFilter::from_json(pp::ComponentFilter().to_json());
  EXPECT_FALSE(off.enabled());
}

TEST(ComponentFilter, OtherGridsAreRefused) {
  Case c;
  aslseg::Geometry g = c.labels.geometry;
  g.size[2] = 4;
  EXPECT_THROW(pp::tumour_components(c.labels, Image(g, 0.0f), c.hu, {}), std::invalid_argument);
  EXPECT_THROW(pp::tumour_components(c.labels, c.prob, c.hu, {LabelMap(g, 0)}),
               std::invalid_argument);
}
