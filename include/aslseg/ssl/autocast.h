// bf16 autocast for the forward passes of training (torch.autocast(device_type=...,
// dtype=torch.bfloat16) in PyTorch terms), on CUDA and on CPUs that multiply bf16 natively. Losses
// are computed in float32 whatever the logits' dtype (losses.h), and backward runs outside the
// guard, as PyTorch recommends.
#pragma once

#include <torch/torch.h>

namespace aslseg::ssl {

// True on CUDA, and on a CPU with native bf16 (core::cpu_has_native_bf16): elsewhere bf16 is
// emulated and slower than fp32, so asking for it changes nothing.
bool bf16_autocast_available(const torch::Device& device);

// Active when `bf16` is asked for and bf16_autocast_available(device). Restores the previous
// autocast state on destruction.
class AutocastGuard {
 public:
  AutocastGuard(bool bf16, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

  bool active() const { return active_; }

 private:
  bool active_ = false;
  c10::DeviceType device_type_ = c10::DeviceType::CPU;  // CPU or CUDA when active
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

}  // namespace aslseg::ssl
