#include "aslseg/models/memory_format.h"

#include <stdexcept>
#include <string>

namespace aslseg::models {

void to_memory_format(torch::nn::Module& module, c10::MemoryFormat format) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(format));
  for (auto& b : module.buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(format));
}

c10::MemoryFormat filter_format(const torch::Tensor& weight) {
  // A 1x1 filter or one channel is both layouts at once; call that NHWC only when the
  // strides say so unambiguously.
  return weight.dim() == 4 && weight.is_contiguous(c10::MemoryFormat::ChannelsLast) &&
                 !weight.is_contiguous(c10::MemoryFormat::Contiguous)
             ? c10::MemoryFormat::ChannelsLast
             : c10::MemoryFormat::Contiguous;
}

torch::Tensor transposed_conv_2x2(const torch::Tensor& x,
                                  const torch::nn::ConvTranspose2dImpl& up) {
  constexpr int64_t k = 2;
  const auto& o = up.options;
  const auto* pad = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
  const bool plain = (*o.kernel_size())[0] == k && (*o.kernel_size())[1] == k &&
                     (*o.stride())[0] == k && (*o.stride())[1] == k && pad != nullptr &&
                     (**pad)[0] == 0 && (**pad)[1] == 0 && (*o.output_padding())[0] == 0 &&
                     (*o.output_padding())[1] == 0 && (*o.dilation())[0] == 1 &&
                     (*o.dilation())[1] == 1 && o.groups() == 1;
  if (!plain)
    throw std::invalid_argument("transposed_conv_2x2: needs kernel 2, stride 2, no padding");
  if (x.dim() != 4 || x.size(1) != o.in_channels())
    throw std::invalid_argument("transposed_conv_2x2: expected [B, " +
                                std::to_string(o.in_channels()) + ", H, W], got " +
                                c10::str(x.sizes()));
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t out = o.out_channels();
  const torch::Tensor rows = x.permute({0, 2, 3, 1}).reshape({n * h * w, c});
  torch::Tensor y = torch::matmul(rows, up.weight.reshape({c, out * k * k}));
  // [n, i, j, o, a, b] -> [n, i, a, j, b, o] = [n, 2h, 2w, o]
  y = y.view({n, h, w, out, k, k}).permute({0, 1, 4, 2, 5, 3}).reshape({n, h * k, w * k, out});
  if (up.bias.defined()) y = y + up.bias.to(y.scalar_type());
  return y.permute({0, 3, 1, 2});
}

}  // namespace aslseg::models
