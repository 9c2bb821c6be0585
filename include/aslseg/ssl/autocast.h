// bf16 autocast for the forward passes of training on CUDA (torch.autocast(device_type="cuda",
// dtype=torch.bfloat16) in PyTorch terms). Losses are computed in float32 whatever the logits'
// dtype (losses.h), and backward runs outside the guard, as PyTorch recommends.
#pragma once

#include <torch/torch.h>

namespace aslseg::ssl {

// Active only when `bf16` is asked for and `device` is CUDA; a no-op on the CPU (LibTorch's
// CPU autocast is not used: bf16 matmuls on CPUs without AVX512-BF16 are slower than fp32).
// Restores the previous autocast state on destruction.
class AutocastGuard {
 public:
  AutocastGuard(bool bf16, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

}  // namespace aslseg::ssl
