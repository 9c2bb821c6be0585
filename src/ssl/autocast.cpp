#include "aslseg/ssl/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "aslseg/core/runtime.h"

namespace aslseg::ssl {

namespace {

// LibTorch 2.4 replaced the CUDA-only autocast switches with per-device-type ones (the old
// names remain, deprecated); 1.13 (Debian) has only the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool cuda_autocast_enabled() { return at::autocast::is_autocast_enabled(at::kCUDA); }
void set_cuda_autocast(bool on) { at::autocast::set_autocast_enabled(at::kCUDA, on); }
at::ScalarType cuda_autocast_dtype() { return at::autocast::get_autocast_dtype(at::kCUDA); }
void set_cuda_autocast_dtype(at::ScalarType t) { at::autocast::set_autocast_dtype(at::kCUDA, t); }
bool cpu_autocast_enabled() { return at::autocast::is_autocast_enabled(at::kCPU); }
void set_cpu_autocast(bool on) { at::autocast::set_autocast_enabled(at::kCPU, on); }
at::ScalarType cpu_autocast_dtype() { return at::autocast::get_autocast_dtype(at::kCPU); }
void set_cpu_autocast_dtype(at::ScalarType t) { at::autocast::set_autocast_dtype(at::kCPU, t); }
#else
bool cuda_autocast_enabled() { return at::autocast::is_enabled(); }
void set_cuda_autocast(bool on) { at::autocast::set_enabled(on); }
at::ScalarType cuda_autocast_dtype() { return at::autocast::get_autocast_gpu_dtype(); }
void set_cuda_autocast_dtype(at::ScalarType t) { at::autocast::set_autocast_gpu_dtype(t); }
bool cpu_autocast_enabled() { return at::autocast::is_cpu_enabled(); }
void set_cpu_autocast(bool on) { at::autocast::set_cpu_enabled(on); }
at::ScalarType cpu_autocast_dtype() { return at::autocast::get_autocast_cpu_dtype(); }
void set_cpu_autocast_dtype(at::ScalarType t) { at::autocast::set_autocast_cpu_dtype(t); }
#endif

}  // namespace

bool bf16_autocast_available(const torch::Device& device) {
  return device.is_cuda() || (device.is_cpu() && core::cpu_has_native_bf16());
}

AutocastGuard::AutocastGuard(bool bf16, const torch::Device& device)
    : active_(bf16 && bf16_autocast_available(device)), cuda_(device.is_cuda()) {
  if (!active_) return;
  previous_enabled_ = cuda_ ? cuda_autocast_enabled() : cpu_autocast_enabled();
  previous_dtype_ = cuda_ ? cuda_autocast_dtype() : cpu_autocast_dtype();
  if (cuda_) {
    set_cuda_autocast_dtype(at::kBFloat16);
    set_cuda_autocast(true);
  } else {
    set_cpu_autocast_dtype(at::kBFloat16);
    set_cpu_autocast(true);
  }
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // Leaving the outermost autocast region frees the casted-weight cache (as torch.autocast).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    set_cuda_autocast(previous_enabled_);
    set_cuda_autocast_dtype(previous_dtype_);
  } else {
    set_cpu_autocast(previous_enabled_);
    set_cpu_autocast_dtype(previous_dtype_);
  }
}

}  // namespace aslseg::ssl
