// AdaptationSpec (models/adaptation_net.h): the channel count with and without PL1, the JSON
// round trip, missing keys following the other fields, and refusal of unknown keys, wrong
// types, mismatched channels or classes and sizes the U-Net cannot take.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "aslseg/models/adaptation_net.h"

namespace aslseg::models {
namespace {

using nlohmann::json;

constexpr int64_t kWidth = 8;
constexpr int64_t kDepth = 3;

UNetOptions small_unet() {
  UNetOptions o;
  o.base_width = kWidth;
  o.depth = kDepth;
  return o;
}

TEST(AdaptationSpec, ChannelsAreContextSlicesPlusPl2AndOptionalPl1) {
  const AdaptationSpec without = make_adaptation_spec(small_unet(), {}, 1, 32, false);
  EXPECT_EQ(without.input_channels(), 4);  // 3 slices + PL2
  EXPECT_EQ(without.unet.in_channels, 4);
  EXPECT_EQ(without.unet.num_classes, kAdaptationClasses);
  const AdaptationSpec with = make_adaptation_spec(small_unet(), {}, 2, 32, true);
  EXPECT_EQ(with.input_channels(), 7);  // 5 slices + PL2 + PL1
  EXPECT_EQ(with.unet.in_channels, 7);
  EXPECT_NO_THROW(validate(without));
  EXPECT_NO_THROW(validate(with));
  // The default-constructed spec is a valid one.
  EXPECT_NO_THROW(validate(AdaptationSpec{}));
}

TEST(AdaptationSpec, JsonRoundTrip) {
  const AdaptationSpec s = make_adaptation_spec(small_unet(), {50.0f, 300.0f}, 2, 48, true);
  const json j = s;
  EXPECT_EQ(j.at("use_pl1"), true);
  EXPECT_EQ(j.at("unet").at("in_channels"), 7);
  const AdaptationSpec back = j.get<AdaptationSpec>();
  EXPECT_EQ(json(back), j);
  EXPECT_EQ(back.context, 2);
  EXPECT_EQ(back.image_size, 48);
  EXPECT_FLOAT_EQ(back.window.width, 300.0f);
}

TEST(AdaptationSpec, MissingChannelsAndClassesFollowTheOtherFields) {
  const json j = {{"context", 0},
                  {"use_pl1", true},
                  {"image_size", 32},
                  {"unet", {{"base_width", kWidth}, {"depth", kDepth}}}};
  const AdaptationSpec s = j.get<AdaptationSpec>();
  EXPECT_EQ(s.unet.in_channels, 3);  // 1 slice + PL2 + PL1
  EXPECT_EQ(s.unet.num_classes, kAdaptationClasses);
}

TEST(AdaptationSpec, RefusesUnknownKeysWrongTypesAndMismatches) {
  const json good = make_adaptation_spec(small_unet(), {}, 1, 32, false);
  auto refused = [&](const json& patch, const std::string& needle) {
    json j = good;
    j.merge_patch(patch);
    try {
      (void)j.get<AdaptationSpec>();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "accepted " << j.dump();
  };
  refused({{"use_pll", true}}, "use_pll");
  refused({{"use_pl1", 1}}, "use_pl1");
  refused({{"context", "1"}}, "context");
  refused({{"window", {{"levle", 40}}}}, "levle");
  // Channels that disagree with context and PL1: the file was made for another net.
  refused({{"unet", {{"in_channels", 5}}}}, "in_channels");
  refused({{"use_pl1", true}, {"unet", {{"in_channels", 4}}}}, "in_channels");
  refused({{"unet", {{"num_classes", 3}}}}, "num_classes");
  refused({{"image_size", 30}}, "image_size");  // not a multiple of 2^(depth-1) = 4
  refused({{"context", -1}}, "context");
}

}  // namespace
}  // namespace aslseg::models
