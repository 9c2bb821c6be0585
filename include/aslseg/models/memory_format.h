// Memory layout and CPU fast paths of convolutional nets. aslseg keeps filters and activations in
// NHWC (channels_last) on the CPU: oneDNN's native layout, 1.2x (fp32) to 1.5x (bf16) faster per
// convolution here than NCHW, which oneDNN reorders at every call (docs/benchmarks.md).
#pragma once

#include <torch/torch.h>

namespace aslseg::models {

// Converts every 4-D parameter and buffer of `module` (and its children) to `format` in place;
// values are unchanged. Loading a checkpoint copies into these tensors and keeps the layout.
void to_memory_format(torch::nn::Module& module, c10::MemoryFormat format);

// The layout of a 4-D filter: ChannelsLast when it is stored NHWC, else Contiguous.
c10::MemoryFormat filter_format(const torch::Tensor& weight);

// up->forward(x) for a transposed convolution with a 2x2 kernel and stride 2 (the U-Net's
// upsampling), computed as one matrix product: every input pixel gives its own 2x2 output
// block, out[n, o, 2i+a, 2j+b] = sum_c x[n, c, i, j] w[c, o, a, b] + bias[o]. LibTorch 1.13
// runs the layer itself on its slow reference path (about 10 % of a CPU training step, ~20x
// the time of this product). Same values within float rounding; the result is NHWC in memory.
// Throws std::invalid_argument for any other kernel, stride, padding, groups or dilation.
torch::Tensor transposed_conv_2x2(const torch::Tensor& x, const torch::nn::ConvTranspose2dImpl& up);

}  // namespace aslseg::models
