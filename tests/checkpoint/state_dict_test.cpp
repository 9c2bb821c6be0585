// load_state_dict_strict: exact in-place copies, and each kind of mismatch named before
// anything is copied.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "aslseg/checkpoint/state_dict.h"
#include "checkpoint/checkpoint_test_util.h"

namespace aslseg::checkpoint {
namespace {

using testing::expect_input_error;

const std::filesystem::path kSource = "weights/model.pth";

struct InnerImpl : torch::nn::Module {
  InnerImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 4));
    bn = register_module("bn", torch::nn::BatchNorm1d(4));
    scale = register_parameter("scale", torch::ones({2, 2}));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
  torch::Tensor scale;
};
TORCH_MODULE(Inner);

struct OuterImpl : torch::nn::Module {
  OuterImpl() {
    inner = register_module("inner", Inner());
    head = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(4, 2).bias(false)));
    register_buffer("table", torch::arange(5, torch::kLong));
  }
  Inner inner{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Outer);

StateDict randomised(const Outer& m, int seed) {
  torch::manual_seed(seed);
  StateDict sd = module_state_dict(*m);
  for (auto& [name, t] : sd) t = torch::randint(0, 100, t.sizes(), t.options());
  return sd;
}

std::vector<std::string> names(const StateDict& sd) {
  std::vector<std::string> out;
  for (const auto& kv : sd) out.push_back(kv.first);
  return out;
}

TEST(StateDict, ModuleStateDictListsParametersThenBuffersWithRecursiveNames) {
  Outer m;
  EXPECT_EQ(names(module_state_dict(*m)),
            (std::vector<std::string>{"inner.scale", "inner.fc.weight", "inner.fc.bias",
                                      "inner.bn.weight", "inner.bn.bias", "head.weight", "table",
                                      "inner.bn.running_mean", "inner.bn.running_var",
                                      "inner.bn.num_batches_tracked"}));
}

TEST(StateDict, LoadCopiesInPlaceKeepingIdentity) {
  Outer m;
  const StateDict sd = randomised(m, 1);
  const void* weight_before = m->inner->fc->weight.data_ptr();
  load_state_dict_strict(*m, sd, kSource);
  EXPECT_EQ(m->inner->fc->weight.data_ptr(), weight_before);
  const StateDict now = module_state_dict(*m);
  for (size_t i = 0; i < sd.size(); ++i) EXPECT_TRUE(torch::equal(now[i].second, sd[i].second));
  EXPECT_TRUE(m->inner->fc->weight.requires_grad());
}

TEST(StateDict, ConvertsDtypeAndAcceptsAnyOrder) {
  Outer m;
  StateDict sd = randomised(m, 2);
  std::reverse(sd.begin(), sd.end());
  for (auto& [name, t] : sd)
    if (t.is_floating_point()) t = t.to(torch::kDouble);
  load_state_dict_strict(*m, sd, kSource);
  EXPECT_EQ(m->inner->scale.scalar_type(), torch::kFloat);
  for (const auto& [name, t] : sd)
    if (name == "inner.scale") EXPECT_TRUE(torch::equal(m->inner->scale, t.to(torch::kFloat)));
}

TEST(StateDict, MissingKeyIsNamedAndNothingIsCopied) {
  Outer m;
  const torch::Tensor before = m->inner->fc->weight.clone();
  StateDict sd = randomised(m, 3);
  sd.erase(sd.begin() + 4);  // inner.bn.bias
  sd.erase(sd.begin() + 5);  // table
  expect_input_error([&] { load_state_dict_strict(*m, sd, kSource); }, kSource,
                     "missing key 'inner.bn.bias' (and 1 more)");
  EXPECT_TRUE(torch::equal(m->inner->fc->weight, before));
}

TEST(StateDict, UnexpectedKeyIsNamed) {
  Outer m;
  StateDict sd = randomised(m, 4);
  sd.emplace_back("inner.fc.extra", torch::zeros({1}));
  expect_input_error([&] { load_state_dict_strict(*m, sd, kSource); }, kSource,
                     "unexpected key 'inner.fc.extra'");
}

TEST(StateDict, ShapeMismatchNamesBothShapesAndCopiesNothing) {
  Outer m;
  const torch::Tensor before = m->inner->fc->weight.clone();
  StateDict sd = randomised(m, 5);
  for (auto& [name, t] : sd)
    if (name == "inner.bn.num_batches_tracked") t = torch::zeros({3}, torch::kLong);
  expect_input_error(
      [&] { load_state_dict_strict(*m, sd, kSource); }, kSource,
      "shape of 'inner.bn.num_batches_tracked' is [3] in the checkpoint but [] in the model");
  EXPECT_TRUE(torch::equal(m->inner->fc->weight, before));

  StateDict transposed = randomised(m, 6);
  for (auto& [name, t] : transposed)
    if (name == "inner.fc.weight") t = t.t();
  expect_input_error([&] { load_state_dict_strict(*m, transposed, kSource); }, kSource,
                     "shape of 'inner.fc.weight' is [3, 4] in the checkpoint but [4, 3]");
}

TEST(StateDict, DuplicateKeyIsNamed) {
  Outer m;
  StateDict sd = randomised(m, 7);
  sd.push_back(sd.front());
  expect_input_error([&] { load_state_dict_strict(*m, sd, kSource); }, kSource,
                     "key 'inner.scale' appears twice");
}

}  // namespace
}  // namespace aslseg::checkpoint
