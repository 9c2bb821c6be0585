#include <gtest/gtest.h>

#include <fstream>

#include "aslseg/config/train_config.h"
#include "aslseg/io/error.h"
#include "common/test_util.h"

namespace aslseg::config {
namespace {

using testing::TempDir;

template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigTrain, DefaultsResolveAndDeriveInputChannels) {
  const auto c = config_from_json(resolve_config_json({}, {}));
  EXPECT_EQ(c.train.spec.unet.in_channels, 2 * c.train.spec.context + 1);
  EXPECT_EQ(c.train.data.image_size, c.train.spec.image_size);
  EXPECT_EQ(c.loop.rounds, 0);
  EXPECT_EQ(c.train.ssl.paradigm, "mean_teacher");
}

TEST(ConfigTrain, FileThenOverridesWin) {
  TempDir dir;
  const auto file = dir / "c.json";
  std::ofstream(file) << R"({"optim": {"steps": 40, "lr": 0.01}, "preprocess": {"context": 2}})";
  const auto c = config_from_json(resolve_config_json(
      file, {"optim.lr=0.002", "ssl.paradigm=cps", "model.norm=\"instance\"", "seed=9"}));
  EXPECT_EQ(c.train.optim.steps, 40);
  EXPECT_DOUBLE_EQ(c.train.optim.lr, 0.002);
  EXPECT_EQ(c.train.ssl.paradigm, "cps");  // a bare word is a string
  EXPECT_EQ(c.train.spec.unet.norm, "instance");
  EXPECT_EQ(c.train.seed, 9u);
  EXPECT_EQ(c.train.spec.unet.in_channels, 5);
}

TEST(ConfigTrain, TyposAndBadValuesAreRefusedByName) {
  TempDir dir;
  const auto file = dir / "typo.json";
  std::ofstream(file) << R"({"optim": {"stpes": 40}})";
  const std::string e1 = error_of([&] { resolve_config_json(file, {}); });
  EXPECT_NE(e1.find("typo.json"), std::string::npos) << e1;
  EXPECT_NE(e1.find("optim.stpes"), std::string::npos) << e1;
  const std::string e2 = error_of([&] { resolve_config_json({}, {"optim.lr=fast"}); });
  EXPECT_NE(e2.find("optim.lr"), std::string::npos) << e2;
  const std::string e3 = error_of([&] { resolve_config_json({}, {"preprocess.image_size=100"}); });
  EXPECT_NE(e3.find("image_size"), std::string::npos) << e3;
  EXPECT_FALSE(error_of([&] { resolve_config_json({}, {"nonsense"}); }).empty());
}

TEST(ConfigTrain, FirstDifferenceNamesTheKeyPath) {
  const auto a = default_config_json();
  auto b = a;
  EXPECT_EQ(first_difference(a, b), "");
  b["optim"]["lr"] = 0.5;
  EXPECT_EQ(first_difference(a, b), "optim.lr");
}

}  // namespace
}  // namespace aslseg::config
