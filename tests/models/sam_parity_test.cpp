// Parity of the LibTorch SAM with the official facebookresearch/segment-anything model: for
// every fixture NAME in the SAM fixture directory (NAME.json hyper-parameters, NAME.pth weights
// saved like the official checkpoints, NAME_cases.pt inputs and outputs of the official
// Sam.forward), every intermediate and output must match within 1e-4; masks may differ only
// where the reference logit is within 1e-4 of the threshold. See DESIGN.md, "Parity with the
// official SAM".
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "aslseg/checkpoint/state_dict.h"
#include "aslseg/checkpoint/torch_pth.h"
#include "aslseg/io/error.h"
#include "aslseg/models/sam.h"
#include "common/sam_fixtures.h"

namespace aslseg::models {
namespace {

constexpr double kTolerance = 1e-4;  // DESIGN.md: max abs difference on float outputs
constexpr int kMultimaskModes[] = {1, 0};
const char* const kCaseSuffix = ".sparse_embeddings";

using CaseMap = std::map<std::string, torch::Tensor>;

CaseMap read_cases(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  const c10::IValue value = torch::pickle_load(bytes);
  CaseMap cases;
  for (const auto& entry : value.toGenericDict())
    cases[entry.key().toStringRef()] = entry.value().toTensor();
  return cases;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Largest difference seen per output over all fixtures, printed at the end for the record.
class MaxDiffs {
 public:
  void add(const std::string& what, double d) { worst_[what] = std::max(worst_[what], d); }
  void print() const {
    for (const auto& [what, d] : worst_) std::printf("  max |diff| %-18s %.3g\n", what.c_str(), d);
  }

 private:
  std::map<std::string, double> worst_;
};

// Checks one tensor against its reference: same shape, max abs diff within tolerance.
void expect_close(const torch::Tensor& ours, const torch::Tensor& ref, const std::string& what,
                  const std::string& output, MaxDiffs& diffs) {
  ASSERT_EQ(ours.sizes(), ref.sizes()) << what;
  const double d = max_abs_diff(ours, ref);
  diffs.add(output, d);
  EXPECT_LE(d, kTolerance) << what;
}

std::vector<std::string> case_names(const CaseMap& cases) {
  std::vector<std::string> names;
  for (const auto& [key, tensor] : cases) {
    const auto at = key.rfind(kCaseSuffix);
    if (at != std::string::npos && at + std::string(kCaseSuffix).size() == key.size())
      names.push_back(key.substr(0, at));
  }
  return names;
}

SamPrompt prompt_of(const CaseMap& cases, const std::string& name) {
  auto get = [&](const std::string& field) {
    const auto it = cases.find(name + "." + field);
    return it == cases.end() ? torch::Tensor() : it->second;
  };
  SamPrompt p;
  p.point_coords = get("point_coords");
  p.point_labels = get("point_labels");
  p.boxes = get("boxes");
  p.mask_inputs = get("mask_inputs");
  return p;
}

void run_fixture(const std::filesystem::path& dir, const std::string& name, MaxDiffs& diffs) {
  SCOPED_TRACE("fixture " + name);
  const SamConfig config = load_sam_config(dir / (name + ".json"));
  Sam sam = load_sam(config, dir / (name + ".pth"));
  const CaseMap cases = read_cases(dir / (name + "_cases.pt"));
  auto ref = [&](const std::string& key) {
    const auto it = cases.find(key);
    if (it == cases.end()) ADD_FAILURE() << name << "_cases.pt has no key " << key;
    return it == cases.end() ? torch::Tensor() : it->second;
  };
  torch::NoGradGuard no_grad;

  const torch::Tensor image = ref("image");
  const torch::Tensor original = ref("original_size");
  const std::array<int64_t, 2> original_size{original[0].item<int64_t>(),
                                             original[1].item<int64_t>()};
  const std::array<int64_t, 2> input_size{image.size(-2), image.size(-1)};

  const torch::Tensor preprocessed = sam->preprocess(image);
  expect_close(preprocessed, ref("preprocessed"), "preprocessed", "preprocessed", diffs);
  const torch::Tensor embeddings = sam->encode(preprocessed);
  expect_close(embeddings, ref("image_embeddings"), "image_embeddings", "image_embeddings", diffs);
  expect_close(sam->prompt_encoder->get_dense_pe(), ref("dense_pe"), "dense_pe", "dense_pe", diffs);

  const auto names = case_names(cases);
  ASSERT_FALSE(names.empty()) << name << "_cases.pt holds no prompt case";
  for (const std::string& c : names) {
    SCOPED_TRACE("case " + c);
    const SamPrompt prompt = prompt_of(cases, c);
    const auto [sparse, dense] = sam->embed_prompts(prompt);
    expect_close(sparse, ref(c + ".sparse_embeddings"), c + ".sparse_embeddings",
                 "sparse_embeddings", diffs);
    expect_close(dense, ref(c + ".dense_embeddings"), c + ".dense_embeddings", "dense_embeddings",
                 diffs);
    for (int multimask : kMultimaskModes) {
      const std::string key = c + ".multimask_" + std::to_string(multimask);
      SCOPED_TRACE(key);
      const SamOutput out = sam->forward(image, original_size, prompt, multimask != 0);
      const torch::Tensor ref_low_res = ref(key + ".low_res_logits");
      expect_close(out.low_res_logits, ref_low_res, key + ".low_res_logits", "low_res_logits",
                   diffs);
      expect_close(out.iou_predictions, ref(key + ".iou_predictions"), key + ".iou_predictions",
                   "iou_predictions", diffs);
      // decode() on the stored embeddings gives the same logits as forward().
      const auto [low_res, iou] = sam->decode(ref("image_embeddings"), prompt, multimask != 0);
      expect_close(low_res, ref_low_res, key + " decode(reference embeddings)", "low_res_logits",
                   diffs);

      const torch::Tensor ref_masks = ref(key + ".masks");
      ASSERT_EQ(out.masks.sizes(), ref_masks.sizes());
      EXPECT_EQ(out.masks.scalar_type(), torch::kBool);
      const torch::Tensor ref_logits =
          sam->postprocess_masks(ref_low_res, input_size, original_size);
      const torch::Tensor differ = out.masks != ref_masks.to(torch::kBool);
      const torch::Tensor near_threshold = (ref_logits - config.mask_threshold).abs() <= kTolerance;
      const int64_t bad = (differ & ~near_threshold).sum().item<int64_t>();
      diffs.add("masks (pixels differ)", differ.sum().item<double>());
      EXPECT_EQ(bad, 0) << key << ".masks: " << bad << " pixels differ away from the threshold";
    }
  }
}

TEST(SamParity, MatchesOfficialFixtures) {
  ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(dir);
  const auto names = testing::sam_fixture_names(dir);
  ASSERT_FALSE(names.empty()) << "no NAME.json + NAME.pth + NAME_cases.pt in " << dir;
  MaxDiffs diffs;
  for (const auto& name : names) {
    std::printf("  fixture %s\n", name.c_str());
    run_fixture(dir, name, diffs);
  }
  diffs.print();
}

// The state dict holds exactly the checkpoint's keys and shapes: no pixel_mean / pixel_std.
TEST(SamParity, StateDictKeysAreTheCheckpointKeys) {
  ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(dir);
  for (const auto& name : testing::sam_fixture_names(dir)) {
    SCOPED_TRACE(name);
    Sam sam(load_sam_config(dir / (name + ".json")));
    const checkpoint::StateDict file = checkpoint::read_torch_state_dict(dir / (name + ".pth"));
    const checkpoint::StateDict ours = checkpoint::module_state_dict(*sam);
    ASSERT_EQ(ours.size(), file.size());
    std::map<std::string, std::vector<int64_t>> file_shapes;
    for (const auto& [key, t] : file) file_shapes[key] = t.sizes().vec();
    for (const auto& [key, t] : ours) {
      ASSERT_TRUE(file_shapes.count(key)) << "unexpected key " << key;
      EXPECT_EQ(t.sizes().vec(), file_shapes[key]) << key;
    }
  }
}

// A checkpoint that does not fit the config is refused with an error naming the file.
TEST(SamParity, MismatchedCheckpointIsInputErrorNamingTheFile) {
  ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(dir);
  const auto names = testing::sam_fixture_names(dir);
  ASSERT_FALSE(names.empty());
  SamConfig config = load_sam_config(dir / (names.front() + ".json"));
  config.depth += 1;  // one block more than the checkpoint holds
  const std::filesystem::path pth = dir / (names.front() + ".pth");
  try {
    load_sam(config, pth);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), pth.string());
    EXPECT_NE(
        std::string(e.what()).find("image_encoder.blocks." + std::to_string(config.depth - 1)),
        std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace aslseg::models
