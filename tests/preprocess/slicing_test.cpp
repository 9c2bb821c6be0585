#include <gtest/gtest.h>

#include <stdexcept>

#include "aslseg/preprocess/slicing.h"

namespace pp = aslseg::preprocess;

namespace {
// 3x2x5 volume whose voxels encode their slice: value = 100 * z + index in the slice.
aslseg::Image coded_volume() {
  aslseg::Geometry g;
  g.size = {3, 2, 5};
  aslseg::Image v(g);
  for (int z = 0; z < 5; ++z)
    for (int i = 0; i < 6; ++i) v.slice(z)[i] = static_cast<float>(100 * z + i);
  return v;
}
}  // namespace

TEST(PreprocessSlicing, ChannelOrderIsZMinusKToZPlusK) {
  const aslseg::Image v = coded_volume();
  const pp::FloatPlanes p = pp::slice_with_context(v, 2, pp::SliceParams{2});
  ASSERT_EQ(p.channels, 5);
  ASSERT_EQ(p.height, 2);
  ASSERT_EQ(p.width, 3);
  ASSERT_EQ(p.data.size(), 30u);
  for (int c = 0; c < 5; ++c) {
    EXPECT_EQ(p.at(c, 0, 0), 100.0f * c) << c;      // channel c = slice 2 - 2 + c
    EXPECT_EQ(p.at(c, 1, 2), 100.0f * c + 5) << c;  // y = 1, x = 2: index 5 in the slice
  }
}

TEST(PreprocessSlicing, EdgesAreReplicated) {
  const aslseg::Image v = coded_volume();
  const pp::FloatPlanes first = pp::slice_with_context(v, 0, pp::SliceParams{2});
  const float first_expected[] = {0, 0, 0, 100, 200};
  for (int c = 0; c < 5; ++c) EXPECT_EQ(first.at(c, 0, 1), first_expected[c] + 1) << c;
  const pp::FloatPlanes last = pp::slice_with_context(v, 4, pp::SliceParams{1});
  ASSERT_EQ(last.channels, 3);
  const float last_expected[] = {300, 400, 400};
  for (int c = 0; c < 3; ++c) EXPECT_EQ(last.at(c, 0, 0), last_expected[c]) << c;
  EXPECT_EQ(pp::context_slice_indices(1, 3, 4), (std::vector<int64_t>{0, 0, 0, 1, 2, 3, 3}));
  // k = 0 is the plain slice.
  EXPECT_EQ(pp::slice_with_context(v, 3, pp::SliceParams{0}).channels, 1);
}

TEST(PreprocessSlicing, RejectsBadArguments) {
  const aslseg::Image v = coded_volume();
  EXPECT_THROW(pp::slice_with_context(v, 5), std::invalid_argument);
  EXPECT_THROW(pp::slice_with_context(v, -1), std::invalid_argument);
  EXPECT_THROW(pp::slice_with_context(v, 0, pp::SliceParams{-1}), std::invalid_argument);
}

TEST(PreprocessSlicing, TumourSlicesAndLabelRoundTrip) {
  aslseg::Geometry g;
  g.size = {4, 4, 6};
  aslseg::LabelMap labels(g, aslseg::kBackground);
  labels.at(1, 1, 1) = aslseg::kLiver;
  labels.at(1, 1, 2) = aslseg::kTumour;
  labels.at(0, 3, 4) = aslseg::kTumour;
  labels.at(1, 3, 4) = aslseg::kTumour;
  labels.at(2, 2, 5) = aslseg::kLiver;
  EXPECT_EQ(pp::slices_containing(labels, aslseg::kTumour), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(pp::slices_containing(labels, aslseg::kTumour, 2), (std::vector<int64_t>{4}));
  EXPECT_EQ(pp::slices_containing(labels, aslseg::kLiver), (std::vector<int64_t>{1, 5}));
  EXPECT_THROW(pp::slices_containing(labels, aslseg::kTumour, 0), std::invalid_argument);

  const pp::LabelPlanes s4 = pp::label_slice(labels, 4);
  EXPECT_EQ(s4.at(0, 3, 1), aslseg::kTumour);
  aslseg::LabelMap copy(g, 0);
  pp::put_label_slice(s4, copy, 1);
  EXPECT_EQ(copy.at(0, 3, 1), aslseg::kTumour);
  EXPECT_EQ(copy.at(0, 3, 4), 0);
  EXPECT_THROW(pp::put_label_slice(pp::LabelPlanes(1, 3, 4), copy, 1), std::invalid_argument);
}
