// Cross pseudo supervision (Chen et al., CVPR 2021). As in the paper, the pseudo-labels are the
// other net's argmax (no gradient flows through them) and the cross term covers labelled and
// unlabelled images alike. The paper's CutMix variant is not implemented: both nets see the
// same (augmented) slices, without input noise.
#include "aslseg/ssl/cps.h"

#include "aslseg/ssl/losses.h"

namespace aslseg::ssl {

namespace {

// net_b's initialisation seed relative to net_a's: CPS needs two differently initialised nets.
constexpr uint64_t kNetBSeedOffset = 1;

}  // namespace

CrossPseudoSupervision::CrossPseudoSupervision(const SslParams& params,
                                               const models::UNetOptions& unet,
                                               const torch::Device& device, uint64_t seed)
    : params_(params), device_(device) {
  torch::manual_seed(seed);
  net_a_ = models::UNet(unet);
  torch::manual_seed(seed + kNetBSeedOffset);
  net_b_ = models::UNet(unet);
  net_a_->to(device_);
  net_b_->to(device_);
}

LossTerms CrossPseudoSupervision::loss(const Batch& labelled, const Batch& unlabelled,
                                       int64_t step) {
  const JointBatch batch = join_batches(labelled, unlabelled, device_);
  const torch::Tensor logits_a = net_a_->forward(batch.image);
  const torch::Tensor logits_b = net_b_->forward(batch.image);
  const int64_t n = batch.num_labelled;
  const torch::Tensor sup_a =
      supervised_loss(logits_a.slice(0, 0, n), batch.label, batch.labelled_valid, batch.organ_only);
  const torch::Tensor sup_b =
      supervised_loss(logits_b.slice(0, 0, n), batch.label, batch.labelled_valid, batch.organ_only);
  // Hard pseudo-labels: argmax is not differentiable, and detach() makes it explicit that
  // each net is only the target, never the student, of the other's cross term.
  const torch::Tensor pseudo_a = logits_a.detach().argmax(1);
  const torch::Tensor pseudo_b = logits_b.detach().argmax(1);
  const torch::Tensor cons = cross_entropy(logits_a, pseudo_b, batch.valid) +
                             cross_entropy(logits_b, pseudo_a, batch.valid);
  const double weight = consistency_weight_at(params_, step);
  const torch::Tensor sup = sup_a + sup_b;

  LossTerms out;
  out.total = sup + weight * cons;
  out.terms["sup"] = sup.item<double>();
  out.terms["sup_a"] = sup_a.item<double>();
  out.terms["sup_b"] = sup_b.item<double>();
  out.terms["cons"] = cons.item<double>();
  out.terms["cons_weight"] = weight;
  return out;
}

std::vector<torch::Tensor> CrossPseudoSupervision::trainable_parameters() {
  std::vector<torch::Tensor> params = net_a_->parameters();
  const std::vector<torch::Tensor> b = net_b_->parameters();
  params.insert(params.end(), b.begin(), b.end());
  return params;
}

std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>>
CrossPseudoSupervision::modules() {
  return {{"net_a", net_a_.ptr()}, {"net_b", net_b_.ptr()}};
}

}  // namespace aslseg::ssl
