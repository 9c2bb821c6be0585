// make_batch and BatchSource: determinism, prefetching, tumour over-sampling, context channels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "ssl/slice_data_test_util.h"

namespace aslseg::ssl {
namespace {

using testing::bitwise_equal;
using testing::coded_set;

SliceDataParams small_params(int64_t side = 32) {
  SliceDataParams p;
  p.image_size = side;
  p.context = 1;
  return p;
}

bool has_label(const torch::Tensor& label_plane, int64_t value) {
  return (label_plane == value).any().item<bool>();
}

TEST(SliceDataBatch, ShapesTypesAndEmptyBatches) {
  const auto volumes = coded_set();
  SliceDataParams p = small_params();
  p.context = 2;
  const Batch b = make_batch(volumes, true, 5, p, 1, 0);
  EXPECT_EQ(b.image.sizes(), (std::vector<int64_t>{5, 5, 32, 32}));
  EXPECT_EQ(b.label.sizes(), (std::vector<int64_t>{5, 32, 32}));
  EXPECT_EQ(b.valid.sizes(), (std::vector<int64_t>{5, 32, 32}));
  EXPECT_EQ(b.image.scalar_type(), torch::kFloat32);
  EXPECT_EQ(b.label.scalar_type(), torch::kInt64);
  EXPECT_EQ(b.valid.scalar_type(), torch::kFloat32);
  EXPECT_GE(b.image.min().item<float>(), 0.0f);
  EXPECT_LE(b.image.max().item<float>(), 1.0f);
  EXPECT_TRUE(((b.valid == 0) | (b.valid == 1)).all().item<bool>());
  EXPECT_FALSE(b.empty());

  const Batch u = make_batch(volumes, false, 3, p, 1, 0);
  EXPECT_FALSE(u.label.defined());
  EXPECT_EQ(u.image.size(0), 3);

  const Batch e = make_batch(volumes, true, 0, p, 1, 0);
  EXPECT_TRUE(e.empty());
  EXPECT_TRUE(make_batch({}, false, 0, p, 1, 0).empty());  // no unlabelled stream at all

  const Batch moved = b.to(torch::Device(torch::kCPU));
  EXPECT_TRUE(bitwise_equal(moved, b));
  EXPECT_FALSE(u.to(torch::Device(torch::kCPU)).label.defined());
}

TEST(SliceDataBatch, RejectsBadInput) {
  const auto volumes = coded_set();
  const SliceDataParams p = small_params();
  EXPECT_THROW(make_batch({}, true, 2, p, 0, 0), std::invalid_argument);
  EXPECT_THROW(make_batch(volumes, true, -1, p, 0, 0), std::invalid_argument);
  EXPECT_THROW(make_batch(volumes, true, 2, small_params(16), 0, 0), std::invalid_argument);
  // A labelled stream over volumes without labels.
  EXPECT_THROW(make_batch(coded_set(32, false), true, 2, p, 0, 0), std::invalid_argument);
  SliceDataParams bad = p;
  bad.tumour_slice_fraction = 1.5;
  EXPECT_THROW(make_batch(volumes, true, 2, bad, 0, 0), std::invalid_argument);
}

TEST(SliceDataBatch, DeterministicInSeedAndStep) {
  const auto volumes = coded_set();
  const SliceDataParams p = small_params();  // augmentation on: its draws must be seeded too
  const Batch a = make_batch(volumes, true, 8, p, 42, 7);
  const Batch b = make_batch(volumes, true, 8, p, 42, 7);
  EXPECT_TRUE(bitwise_equal(a, b));
  EXPECT_FALSE(bitwise_equal(a.image, make_batch(volumes, true, 8, p, 42, 8).image));
  EXPECT_FALSE(bitwise_equal(a.image, make_batch(volumes, true, 8, p, 43, 7).image));
  // Labelled and unlabelled streams of one seed are independent draws.
  EXPECT_FALSE(bitwise_equal(a.image, make_batch(volumes, false, 8, p, 42, 7).image));
  // Torch's global generator plays no part.
  torch::manual_seed(123);
  const Batch c = make_batch(volumes, true, 8, p, 42, 7);
  torch::rand({10});
  EXPECT_TRUE(bitwise_equal(a, c));
  // Sample i of a batch does not depend on the batch size.
  const Batch d = make_batch(volumes, true, 3, p, 42, 7);
  EXPECT_TRUE(bitwise_equal(d.image, a.image.slice(0, 0, 3)));
}

TEST(SliceDataBatch, SourceMatchesMakeBatchInAndOutOfOrder) {
  const auto volumes = coded_set();
  SliceDataParams p = small_params();
  p.workers = 3;
  p.prefetch = 4;
  constexpr int64_t kBatch = 6;
  constexpr uint64_t kSeed = 5;
  for (bool labelled : {true, false}) {
    std::vector<Batch> expected;
    for (int64_t s = 0; s <= 20; ++s) {
      expected.push_back(make_batch(volumes, labelled, kBatch, p, kSeed, s));
    }
    {
      BatchSource source(volumes, labelled, kBatch, p, kSeed);
      for (int64_t s = 0; s <= 20; ++s) {
        EXPECT_TRUE(bitwise_equal(source.get(s), expected[static_cast<size_t>(s)])) << s;
      }
    }
    {
      BatchSource source(volumes, labelled, kBatch, p, kSeed);
      // Jumps forward and back, repeats, and steps inside and outside the prefetch window.
      for (int64_t s : {20, 3, 4, 5, 4, 0, 19, 7, 7, 12, 1, 2, 13, 14, 6, 8, 20, 9, 10, 11}) {
        EXPECT_TRUE(bitwise_equal(source.get(s), expected[static_cast<size_t>(s)])) << s;
      }
    }
  }
  // Synchronous modes give the same batches.
  p.workers = 0;
  BatchSource sync(volumes, true, kBatch, p, kSeed);
  EXPECT_TRUE(bitwise_equal(sync.get(3), make_batch(volumes, true, kBatch, p, kSeed, 3)));
  p.workers = 2;
  p.prefetch = 0;
  BatchSource no_prefetch(volumes, true, kBatch, p, kSeed);
  EXPECT_TRUE(bitwise_equal(no_prefetch.get(3), make_batch(volumes, true, kBatch, p, kSeed, 3)));
  BatchSource empty(volumes, false, 0, p, kSeed);
  EXPECT_TRUE(empty.get(0).empty());
}

TEST(SliceDataBatch, WorkerErrorsReachGetAndShutdownIsClean) {
  SliceDataParams p = small_params();
  p.workers = 3;
  const auto unlabelled = coded_set(32, false);
  for (int round = 0; round < 3; ++round) {
    BatchSource source(unlabelled, /*labelled=*/true, 4, p, 0);
    EXPECT_THROW(source.get(0), std::invalid_argument);  // computed inline: not prefetched
    EXPECT_THROW(source.get(1), std::invalid_argument);  // prefetched by a worker
    EXPECT_THROW(source.get(2), std::invalid_argument);
  }
  // Destroyed while workers are busy prefetching: must join without hanging.
  const auto volumes = coded_set();  // must outlive the sources
  for (int round = 0; round < 5; ++round) {
    BatchSource source(volumes, true, 8, p, static_cast<uint64_t>(round));
    source.get(0);
  }
}

// Fraction of labelled samples whose label holds tumour over `steps` batches of 8.
double tumour_fraction(const std::vector<PreparedVolume>& volumes, const SliceDataParams& p,
                       int64_t samples) {
  constexpr int64_t kBatch = 8;
  int64_t with_tumour = 0;
  for (int64_t step = 0; step * kBatch < samples; ++step) {
    const Batch b = make_batch(volumes, true, kBatch, p, 11, step);
    for (int64_t i = 0; i < kBatch; ++i) with_tumour += has_label(b.label[i], 2) ? 1 : 0;
  }
  return static_cast<double>(with_tumour) / static_cast<double>(samples);
}

TEST(SliceDataBatch, TumourSlicesAreOverSampled) {
  const auto volumes = coded_set();
  SliceDataParams p = small_params();
  p.augment.enabled = false;
  p.tumour_slice_fraction = 1.0;
  const Batch all = make_batch(volumes, true, 64, p, 3, 0);
  for (int64_t i = 0; i < 64; ++i) EXPECT_TRUE(has_label(all.label[i], 2)) << i;

  // Without the tumour draw a sample is a uniform slice of a uniform volume, so it holds
  // tumour with probability base = mean over volumes of (tumour slices / slices).
  double base = 0.0;
  for (const auto& v : volumes) {
    base += static_cast<double>(v.tumour_slices.size()) / static_cast<double>(v.image.size(0));
  }
  base /= static_cast<double>(volumes.size());
  constexpr int64_t kSamples = 400;
  // 4 binomial standard deviations: a correct sampler fails with probability < 1e-4 (and the
  // seeds are fixed, so the test is deterministic anyway); the two expectations below are
  // ~0.44 apart, far more than the band, so a sampler ignoring the fraction cannot pass.
  auto band = [&](double expected) {
    return 4.0 * std::sqrt(expected * (1.0 - expected) / static_cast<double>(kSamples));
  };
  p.tumour_slice_fraction = 0.5;
  const double expected = 0.5 + 0.5 * base;
  ASSERT_GT(expected - base, 2.0 * band(expected));  // the test can tell them apart
  EXPECT_NEAR(tumour_fraction(volumes, p, kSamples), expected, band(expected));
  p.tumour_slice_fraction = 0.0;
  EXPECT_NEAR(tumour_fraction(volumes, p, kSamples), base, band(base));

  // Liver-only draws never return a slice without liver.
  p.liver_slices_only = true;
  const Batch liver = make_batch(volumes, true, 64, p, 3, 1);
  for (int64_t i = 0; i < 64; ++i) EXPECT_TRUE(has_label(liver.label[i], 1)) << i;
}

TEST(SliceDataBatch, ContextChannelsAreNeighbourSlicesWithEdgesReplicated) {
  auto volumes = coded_set();
  SliceDataParams p = small_params();
  p.augment.enabled = false;
  p.context = 2;
  constexpr int64_t kBatch = 64;
  const Batch b = make_batch(volumes, true, kBatch, p, 9, 0);
  int edges = 0;
  for (int64_t i = 0; i < kBatch; ++i) {
    const SampleChoice c = choose_sample(volumes, true, p, 9, 0, i);
    const PreparedVolume& v = volumes[static_cast<size_t>(c.volume)];
    const int64_t depth = v.image.size(0);
    EXPECT_TRUE(bitwise_equal(b.image[i][p.context], v.image[c.slice])) << i;
    EXPECT_TRUE(bitwise_equal(b.image[i][0], v.image[std::max<int64_t>(c.slice - 2, 0)])) << i;
    EXPECT_TRUE(bitwise_equal(b.image[i][1], v.image[std::max<int64_t>(c.slice - 1, 0)])) << i;
    EXPECT_TRUE(bitwise_equal(b.image[i][4], v.image[std::min(c.slice + 2, depth - 1)])) << i;
    EXPECT_TRUE(bitwise_equal(b.label[i], v.label[c.slice].to(torch::kInt64))) << i;
    EXPECT_TRUE(bitwise_equal(b.valid[i], v.valid[c.slice].to(torch::kFloat32))) << i;
    edges += (c.slice < 2 || c.slice + 2 >= depth) ? 1 : 0;
  }
  EXPECT_GT(edges, 0);  // the edge rule was exercised
  // context_stack itself, at both ends.
  const PreparedVolume& v = volumes[2];
  const torch::Tensor first = context_stack(v, 0, 2);
  EXPECT_EQ(first.sizes(), (std::vector<int64_t>{5, 32, 32}));
  for (int64_t ch : {0, 1, 2}) EXPECT_TRUE(bitwise_equal(first[ch], v.image[0])) << ch;
  EXPECT_TRUE(bitwise_equal(first[4], v.image[2]));
  const torch::Tensor last = context_stack(v, 9, 1);
  EXPECT_TRUE(bitwise_equal(last[0], v.image[8]));
  EXPECT_TRUE(bitwise_equal(last[2], v.image[9]));
  EXPECT_THROW(context_stack(v, 10, 1), std::invalid_argument);
}

// Patch training: batches are patch-sized, an unaugmented patch is an exact copy of the
// slice's pixels around the drawn centre, and a tumour draw's patch holds tumour.
TEST(SliceDataBatch, PatchesAreExactCropsAndTumourDrawsHoldTumour) {
  const auto volumes = testing::coded_set();
  SliceDataParams p = small_params();
  p.augment.enabled = false;
  p.patch_size = 16;
  p.tumour_slice_fraction = 1.0;
  constexpr int64_t kBatch = 24;
  const Batch b = make_batch(volumes, true, kBatch, p, 5, 0);
  ASSERT_EQ(b.image.sizes(), (std::vector<int64_t>{kBatch, 3, 16, 16}));
  ASSERT_EQ(b.label.sizes(), (std::vector<int64_t>{kBatch, 16, 16}));
  for (int64_t i = 0; i < kBatch; ++i) {
    const SampleChoice c = choose_sample(volumes, true, p, 5, 0, i);
    ASSERT_TRUE(c.tumour_draw);
    EXPECT_TRUE(has_label(b.label[i], 2)) << "sample " << i;
    // Even size: the centre sits between pixels, so the crop starts at centre - 7.5.
    const int64_t x0 = static_cast<int64_t>(c.window.centre_x - 7.5);
    const int64_t y0 = static_cast<int64_t>(c.window.centre_y - 7.5);
    const PreparedVolume& v = volumes[static_cast<size_t>(c.volume)];
    for (int64_t y = 0; y < 16; ++y) {
      for (int64_t x = 0; x < 16; ++x) {
        const int64_t sx = x0 + x;
        const int64_t sy = y0 + y;
        const bool inside = sx >= 0 && sy >= 0 && sx < 32 && sy < 32;
        const float want_image = inside ? v.image[c.slice][sy][sx].item<float>() : 0.0f;
        const int64_t want_label = inside ? v.label[c.slice][sy][sx].item<int64_t>() : 0;
        ASSERT_EQ(b.image[i][1][y][x].item<float>(), want_image) << i << " " << x << "," << y;
        ASSERT_EQ(b.label[i][y][x].item<int64_t>(), want_label) << i << " " << x << "," << y;
      }
    }
  }
  // Non-tumour draws place the patch wholly inside the slice.
  p.tumour_slice_fraction = 0.0;
  for (int64_t i = 0; i < kBatch; ++i) {
    const SampleChoice c = choose_sample(volumes, true, p, 5, 1, i);
    EXPECT_GE(c.window.centre_x - 7.5, 0.0);
    EXPECT_LE(c.window.centre_x + 7.5, 31.0);
    EXPECT_GE(c.window.centre_y - 7.5, 0.0);
    EXPECT_LE(c.window.centre_y + 7.5, 31.0);
  }
  // Augmented patches keep the shape, and a patch larger than the slice is refused.
  p.augment.enabled = true;
  EXPECT_EQ(make_batch(volumes, false, 4, p, 5, 2).image.sizes(),
            (std::vector<int64_t>{4, 3, 16, 16}));
  p.patch_size = 64;
  EXPECT_THROW(make_batch(volumes, true, 2, p, 5, 0), std::invalid_argument);
}

// Lesion paste in the batch: with probability 1, every labelled sample whose slice holds liver
// comes out with tumour, the donor and target recorded in its SampleChoice; off, the batches
// are those of a source without the option; unlabelled samples never get one.
TEST(SliceDataBatch, LesionPasteGivesEveryLiverSliceATumour) {
  const auto volumes = testing::coded_set();
  SliceDataParams p = small_params();
  p.augment.enabled = false;
  p.tumour_slice_fraction = 0.0;
  p.liver_slices_only = true;
  const Batch plain = make_batch(volumes, true, 16, p, 9, 0);
  p.lesion_paste.probability = 1.0;
  const Batch pasted = make_batch(volumes, true, 16, p, 9, 0);
  for (int64_t i = 0; i < 16; ++i) {
    const SampleChoice c = choose_sample(volumes, true, p, 9, 0, i);
    ASSERT_TRUE(c.paste.has_value()) << i;
    EXPECT_TRUE(has_label(pasted.label[i], 2)) << i;
    const PreparedVolume& donor = volumes[static_cast<size_t>(c.paste->donor_volume)];
    EXPECT_EQ(donor.label[c.paste->donor_slice][c.paste->draw.donor_y][c.paste->draw.donor_x]
                  .item<int64_t>(),
              2);
    EXPECT_EQ(pasted.label[i][c.paste->draw.target_y][c.paste->draw.target_x].item<int64_t>(), 2);
  }
  EXPECT_FALSE(testing::bitwise_equal(plain.label, pasted.label));
  EXPECT_FALSE(choose_sample(volumes, false, p, 9, 0, 0).paste.has_value());
  p.lesion_paste.probability = 0.0;
  EXPECT_TRUE(testing::bitwise_equal(make_batch(volumes, true, 16, p, 9, 0), plain));
  p.lesion_paste.contrast_min = 0.0;
  EXPECT_THROW(make_batch(volumes, true, 2, p, 9, 0), std::invalid_argument);
}

// Synthetic lesions in the batch: with probability 1, every labelled sample whose slice holds
// liver gets tumour at the drawn centre; off, the batches are those without the option.
TEST(SliceDataBatch, LesionSynthGivesEveryLiverSliceATumourAtItsCentre) {
  const auto volumes = testing::coded_set();
  SliceDataParams p = small_params();
  p.augment.enabled = false;
  p.tumour_slice_fraction = 0.0;
  p.liver_slices_only = true;
  const Batch plain = make_batch(volumes, true, 16, p, 9, 0);
  p.lesion_synth.probability = 1.0;
  p.lesion_synth.radius_min_mm = 2.0;
  p.lesion_synth.radius_max_mm = 3.0;
  const Batch synthetic = make_batch(volumes, true, 16, p, 9, 0);
  for (int64_t i = 0; i < 16; ++i) {
    const SampleChoice c = choose_sample(volumes, true, p, 9, 0, i);
    ASSERT_TRUE(c.synth.has_value()) << i;
    const auto x = static_cast<int64_t>(c.synth->centre_x);
    const auto y = static_cast<int64_t>(c.synth->centre_y);
    EXPECT_EQ(volumes[static_cast<size_t>(c.volume)].label[c.slice][y][x].item<int64_t>(), 1);
    EXPECT_EQ(synthetic.label[i][y][x].item<int64_t>(), 2) << i;
  }
  EXPECT_FALSE(choose_sample(volumes, false, p, 9, 0, 0).synth.has_value());
  p.lesion_synth.probability = 0.0;
  EXPECT_TRUE(testing::bitwise_equal(make_batch(volumes, true, 16, p, 9, 0), plain));
  p.lesion_synth.radius_min_mm = 0.0;
  EXPECT_THROW(make_batch(volumes, true, 2, p, 9, 0), std::invalid_argument);
}

}  // namespace
}  // namespace aslseg::ssl
