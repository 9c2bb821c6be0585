// The machine's convolution ceiling, the yardstick of scripts/bench_vs_pytorch.sh: one 3x3
// convolution of 32 -> 32 channels on a batch of 8 at 256x256 (the first level of the U-Net of
// configs/ssl.json), forward + backward (input and weight gradients), through LibTorch's CPU
// path (oneDNN). Counter GFLOP_per_s counts 2 FLOP per multiply-add: forward, input gradient and
// weight gradient each 2*B*H*W*Cin*Cout*9. Arguments: memory format (0 NCHW, 1 NHWC) and
// precision (0 float32, 1 bf16 tensors: the kernels bf16 autocast runs, on CPUs with native bf16).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <string>

namespace {

constexpr int64_t kBatch = 8;
constexpr int64_t kSide = 256;
constexpr int64_t kChannels = 32;
constexpr int64_t kKernel = 3;
constexpr int64_t kPasses = 3;  // forward, grad input, grad weight

void BM_Conv3x3(benchmark::State& state) {
  const auto format =
      state.range(0) == 1 ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  const auto dtype = state.range(1) == 1 ? torch::kBFloat16 : torch::kFloat;
  torch::manual_seed(0);
  auto conv = torch::nn::Conv2d(
      torch::nn::Conv2dOptions(kChannels, kChannels, kKernel).padding(1).bias(false));
  {
    torch::NoGradGuard no_grad;
    conv->weight.set_data(conv->weight.to(dtype).contiguous(format));
  }
  const torch::Tensor x =
      torch::rand({kBatch, kChannels, kSide, kSide}, dtype).contiguous(format).requires_grad_(true);
  const torch::Tensor grad =
      torch::ones({kBatch, kChannels, kSide, kSide}, dtype).contiguous(format);
  for (auto _ : state) {
    const torch::Tensor y = conv->forward(x);
    y.backward(grad);
    benchmark::DoNotOptimize(x.grad().data_ptr());
    x.mutable_grad().reset();
    conv->weight.mutable_grad().reset();
  }
  const double flop =
      kPasses * 2.0 * kBatch * kSide * kSide * kChannels * kChannels * kKernel * kKernel;
  state.counters["GFLOP_per_s"] = benchmark::Counter(
      flop * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(state.range(0) == 1 ? "NHWC" : "NCHW") +
                 (state.range(1) == 1 ? " bf16" : " fp32"));
}

BENCHMARK(BM_Conv3x3)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

}  // namespace
