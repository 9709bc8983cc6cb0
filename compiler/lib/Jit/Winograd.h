// Internal: 3x3 stride-1 convolutions by Winograd's minimal filtering,
// F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016). Each 4x4 block of output pixels ("tile") is computed
// from the 6x6 input pixels under it in 36 products per channel pair
// instead of 144: the filters and each tile's inputs are transformed, the
// 36 transformed positions become 36 matrix products over all tiles, and
// an inverse transform gives the pixels.
//
// graceful-linalg-to-blas transforms a convolution's constant filters when
// it compiles the model; the runtime transforms inputs and outputs.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace graceful::compiler::winograd {

// Transformed positions per channel pair (6 x 6).
constexpr int64_t kPoints = 36;

// The transform adds and scales values before it multiplies them, so a
// value near float's range could overflow where the direct sum does not,
// and an infinity would become NaN (inf - inf). Filters and inputs whose
// magnitudes stay below this bound (finite by definition) cannot: the
// largest intermediate is under 1e6 * channels * |input| * |filter|.
// Other convolutions take the direct path.
constexpr float kLargestMagnitude = 1e12f;

// U[p, m, c] = (G f[m, c] G^T)[p] for filters f, [outChannels,
// inChannels * 9] row major; nullopt when a weight is beyond
// kLargestMagnitude or not finite.
std::optional<std::vector<float>> transformFilters(const float *filters, int64_t outChannels,
                                                   int64_t inChannels);

// out[n, m, y, x] (+)= sum_{c, i, j} f[m, c, i, j] * in[n, c, y + i - padTop, x + j - padLeft],
// reading zeros outside the input, then clamped to [low, high].
struct Convolution {
  const float *transformed; // transformFilters' U, contiguous
  const float *input;
  int64_t inStrides[4]; // of input [N, C, H, W]
  float *output;        // [N, M, outHeight * outWidth], pixels contiguous
  int64_t outSampleStride, outChannelStride;
  int64_t samples, channels, outChannels, inHeight, inWidth, outHeight, outWidth;
  int64_t padTop, padLeft;
  bool accumulate;
  float low, high;
};

// True when the convolution has tiles enough (samples x tiles per sample)
// for the transforms to pay: with fewer, the 36 products are too narrow and
// BLAS spends its time repacking the transformed filters (ResNet-18 at
// batch 1: 23.2 ms with every 3x3 layer by Winograd, 20.3 ms with this).
bool isWorthwhile(const Convolution &convolution);

// True when every input value is finite and within kLargestMagnitude.
bool inputsAreModerate(const Convolution &convolution);

// Requires inputsAreModerate; splits the tiles across OpenMP threads.
void convolve(const Convolution &convolution);

} // namespace graceful::compiler::winograd
