// aslseg's checkpoint format: exact round trips (weights, buffers, optimiser state, metadata),
// atomic writes, and errors that name the file and the offending key.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/io/error.h"
#include "aslseg/models/unet.h"
#include "common/test_util.h"

namespace aslseg::checkpoint {
namespace {

namespace fs = std::filesystem;
using models::UNet;
using models::UNetOptions;

constexpr double kLearningRate = 1e-2;

UNetOptions tiny(int64_t width = 4, const std::string& norm = "batch") {
  UNetOptions o;
  o.base_width = width;
  o.depth = 3;
  o.norm = norm;
  return o;
}

// One training step; also moves the batch-norm running statistics away from their defaults.
void train_step(UNet& net, torch::optim::Optimizer& opt, const torch::Tensor& x,
                const torch::Tensor& y) {
  net->train();
  opt.zero_grad();
  torch::nn::functional::cross_entropy(net->forward(x), y).backward();
  opt.step();
}

void expect_same_state(UNet& a, UNet& b) {
  const auto pa = a->named_parameters();
  const auto pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  const auto ba = a->named_buffers();
  const auto bb = b->named_buffers();
  ASSERT_EQ(ba.size(), bb.size());
  for (const auto& p : ba) EXPECT_TRUE(torch::equal(p.value(), bb[p.key()])) << p.key();
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(CheckpointRoundTrip, WeightsBuffersOptimizerAndMetaAreExact) {
  testing::TempDir dir;
  const fs::path file = dir / "checkpoint.pt";
  torch::manual_seed(0);
  const torch::Tensor x = torch::rand({2, 3, 16, 16});
  const torch::Tensor y = torch::randint(0, 3, {2, 16, 16}, torch::kLong);

  UNet saved(tiny());
  torch::optim::Adam saved_opt(saved->parameters(), torch::optim::AdamOptions(kLearningRate));
  for (int i = 0; i < 2; ++i) train_step(saved, saved_opt, x, y);
  const nlohmann::json meta{{"step", 2}, {"spec", {{"context", 1}}}, {"note", "ünïcode"}};
  save(file, {{{"student", saved.ptr()}}, &saved_opt, meta});
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1)
      << "a temporary file was left behind";

  torch::manual_seed(99);  // different initial weights
  UNet loaded(tiny());
  torch::optim::Adam loaded_opt(loaded->parameters(), torch::optim::AdamOptions(kLearningRate));
  EXPECT_EQ(load(file, {{{"student", loaded.ptr()}}, &loaded_opt, {}}), meta);
  expect_same_state(saved, loaded);
  EXPECT_GT(saved->named_buffers()["encoders.0.norm1.num_batches_tracked"].item<int64_t>(), 0);

  // Adam's moments came back too: one more step from both gives identical weights (a fresh
  // Adam would take a different first step).
  train_step(saved, saved_opt, x, y);
  train_step(loaded, loaded_opt, x, y);
  expect_same_state(saved, loaded);

  EXPECT_EQ(read_meta(file), meta);
  const Summary s = inspect(file);
  EXPECT_EQ(s.modules, std::vector<std::string>{"student"});
  EXPECT_TRUE(s.has_optimizer);
}

TEST(CheckpointRoundTrip, SeveralModulesOverwriteAndNoOptimizer) {
  testing::TempDir dir;
  const fs::path file = dir / "ck.pt";
  torch::manual_seed(3);
  UNet a(tiny()), b(tiny(8, "none"));
  save(file, {{{"teacher", a.ptr()}, {"net_b", b.ptr()}}, nullptr, {{"v", 1}}});
  save(file, {{{"teacher", a.ptr()}, {"net_b", b.ptr()}}, nullptr, {{"v", 2}}});  // replaces
  UNet a2(tiny()), b2(tiny(8, "none"));
  torch::optim::Adam opt(a2->parameters());  // the file has no optimizer: left as it is
  EXPECT_EQ(load(file, {{{"net_b", b2.ptr()}, {"teacher", a2.ptr()}}, &opt, {}}).at("v"), 2);
  expect_same_state(a, a2);
  expect_same_state(b, b2);
  const Summary s = inspect(file);
  EXPECT_EQ(s.modules, (std::vector<std::string>{"net_b", "teacher"}));
  EXPECT_FALSE(s.has_optimizer);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(CheckpointErrors, MissingGarbageAndTruncatedFilesNameTheFile) {
  testing::TempDir dir;
  UNet net(tiny());
  const Contents into{{{"student", net.ptr()}}, nullptr, {}};

  const fs::path missing = dir / "nope.pt";
  try {
    load(missing, into);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), missing.string());
    EXPECT_EQ(e.problem(), "no such file");
  }
  EXPECT_THROW(read_meta(missing), InputError);

  const fs::path garbage = dir / "garbage.pt";
  write_bytes(garbage, std::string(4096, 'x'));
  EXPECT_NE(message_of([&] { load(garbage, into); }).find(garbage.string()), std::string::npos);

  const fs::path good = dir / "good.pt";
  save(good, {{{"student", net.ptr()}}, nullptr, {{"k", 1}}});
  const std::string bytes = testing::read_text(good);
  for (const size_t keep : {bytes.size() / 2, bytes.size() - 10, size_t{100}}) {
    const fs::path truncated = dir / ("truncated-" + std::to_string(keep) + ".pt");
    write_bytes(truncated, bytes.substr(0, keep));
    EXPECT_NE(message_of([&] { load(truncated, into); }).find(truncated.string()),
              std::string::npos)
        << keep;
  }
  // A valid zip that is not an aslseg checkpoint: a module saved without our metadata.
  const fs::path foreign = dir / "foreign.pt";
  torch::save(net, foreign.string());
  EXPECT_NE(message_of([&] { read_meta(foreign); }).find("no metadata"), std::string::npos);
}

TEST(CheckpointErrors, ShapeMismatchNamesTheKeyAndLeavesTheModelUntouched) {
  testing::TempDir dir;
  const fs::path file = dir / "wide.pt";
  UNet wide(tiny(8));
  save(file, {{{"student", wide.ptr()}}, nullptr, {}});

  torch::manual_seed(5);
  UNet narrow(tiny(4));
  const torch::Tensor before = narrow->named_parameters()["head.weight"].clone();
  const std::string msg = message_of([&] {
    load(file, {{{"student", narrow.ptr()}}, nullptr, {}});
  });
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("modules/student: encoders.0.conv1.weight has shape [8,3,3,3], the model "
                     "expects [4,3,3,3]"),
            std::string::npos)
      << msg;
  EXPECT_TRUE(torch::equal(before, narrow->named_parameters()["head.weight"]));

  // Two modules, the second one wrong: the first is not loaded either.
  const fs::path pair_file = dir / "pair.pt";
  UNet first(tiny(4));
  save(pair_file, {{{"a", first.ptr()}, {"b", wide.ptr()}}, nullptr, {}});
  UNet first_copy(tiny(4));
  const torch::Tensor first_before = first_copy->named_parameters()["head.weight"].clone();
  EXPECT_THROW(load(pair_file, {{{"a", first_copy.ptr()}, {"b", narrow.ptr()}}, nullptr, {}}),
               InputError);
  EXPECT_TRUE(torch::equal(first_before, first_copy->named_parameters()["head.weight"]));
  EXPECT_FALSE(torch::equal(first_before, first->named_parameters()["head.weight"]));
}

TEST(CheckpointErrors, MissingKeyUnexpectedKeyAndMissingModule) {
  testing::TempDir dir;
  const fs::path file = dir / "plain.pt";
  torch::manual_seed(6);
  UNet plain(tiny(4, "none"));
  save(file, {{{"student", plain.ptr()}}, nullptr, {}});

  // Same conv shapes, but this model has norms the file lacks; nothing may be copied.
  UNet normed(tiny(4, "batch"));
  const torch::Tensor before = normed->named_parameters()["encoders.0.conv1.weight"].clone();
  std::string msg = message_of([&] { load(file, {{{"student", normed.ptr()}}, nullptr, {}}); });
  EXPECT_NE(msg.find("modules/student: encoders.0.norm1.weight is missing"), std::string::npos)
      << msg;
  EXPECT_TRUE(torch::equal(before, normed->named_parameters()["encoders.0.conv1.weight"]));

  // The file holds a tensor the model has no place for.
  const fs::path linear_file = dir / "linear.pt";
  save(linear_file, {{{"m", torch::nn::Linear(2, 2).ptr()}}, nullptr, {}});
  torch::nn::Linear no_bias(torch::nn::LinearOptions(2, 2).bias(false));
  msg = message_of([&] { load(linear_file, {{{"m", no_bias.ptr()}}, nullptr, {}}); });
  EXPECT_NE(msg.find("modules/m: unexpected key bias"), std::string::npos) << msg;

  msg = message_of([&] { load(file, {{{"teacher", plain.ptr()}}, nullptr, {}}); });
  EXPECT_NE(msg.find("modules/teacher: not in this checkpoint (it holds: student)"),
            std::string::npos)
      << msg;
}

TEST(CheckpointErrors, OptimizerOfAnotherShapeIsAnInputError) {
  testing::TempDir dir;
  const fs::path file = dir / "opt.pt";
  UNet net(tiny());
  torch::optim::Adam opt(net->parameters());
  save(file, {{{"student", net.ptr()}}, &opt, {}});
  torch::nn::Linear other(2, 2);
  torch::optim::Adam other_opt(std::vector<torch::optim::OptimizerParamGroup>{
      torch::optim::OptimizerParamGroup({other->weight}),
      torch::optim::OptimizerParamGroup({other->bias})});
  EXPECT_THROW(load(file, {{}, &other_opt, {}}), InputError);
}

TEST(CheckpointSave, FailedSaveLeavesNoTemporaryFile) {
  testing::TempDir dir;
  UNet net(tiny());
  EXPECT_THROW(save(dir / "x.pt", {{{"bad name", net.ptr()}}, nullptr, {}}), std::invalid_argument);
  EXPECT_THROW(save(dir / "x.pt", {{{"a", net.ptr()}, {"a", net.ptr()}}, nullptr, {}}),
               std::invalid_argument);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace aslseg::checkpoint
