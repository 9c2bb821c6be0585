#include "aslseg/ssl/batch.h"

namespace aslseg::ssl {

Batch Batch::to(const torch::Device& device) const {
  // Undefined members (the label of an unlabelled batch) stay undefined.
  auto move = [&device](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  Batch out;
  out.image = move(image);
  out.label = move(label);
  out.valid = move(valid);
  return out;
}

}  // namespace aslseg::ssl
