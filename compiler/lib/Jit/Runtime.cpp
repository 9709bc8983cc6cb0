// Functions the generated code calls, bound into the JIT by name.
#include "Runtime.h"

#include "Winograd.h"

#include <algorithm>
#include <cblas.h>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace graceful::compiler {
namespace {

// A strided memref of any rank as MLIR's C interface passes it.
template <int Rank> struct View {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];

  float *data() const { return aligned + offset; }
};

constexpr float kInfinity = std::numeric_limits<float>::infinity();

// The clamp a kernel applies to its results before storing them, fused
// from a Clip or Relu that followed it: below `low` becomes `low`, above
// `high` becomes `high`, and NaN stays NaN, as in those ops' loops.
struct Clamp {
  float low, high;

  bool active() const { return low > -kInfinity || high < kInfinity; }
  float operator()(float value) const { return value < low ? low : (value > high ? high : value); }
};

// Clamps `count` contiguous floats. The clamp is a copy, so stores to
// `values` cannot change its bounds and the loop vectorizes.
[[gnu::always_inline]] inline void clampRow(float *__restrict values, int64_t count, Clamp clamp) {
  for (int64_t i = 0; i < count; ++i)
    values[i] = clamp(values[i]);
}

// Output rows are computed in blocks of this many columns, one vector
// register of floats with AVX-512; the last block runs past the row's end
// into scratch space.
constexpr int64_t kBlock = 16;

// clampRow on whole blocks of kBlock, which vectorize without a scalar tail.
[[gnu::always_inline]] inline void clampBlocks(float *__restrict values, int64_t blocks,
                                               Clamp clamp) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t k = 0; k < kBlock; ++k)
      values[b * kBlock + k] = clamp(values[b * kBlock + k]);
}

// One depthwise plane: out[y, x] (+)= sum_{i, j} w[i, j] * in[y * sy + i * dy - top,
// x * sx + j * dx - left], reading zeros outside the input (its padding);
// the sums are added to out when `accumulate`, else written over it.
struct PlaneGeometry {
  int64_t outHeight, outWidth, inHeight, inWidth;
  int64_t kernelHeight, kernelWidth, strideY, strideX, dilationY, dilationX, padTop, padLeft;
  int64_t inRow, inColumn, filterRow, filterColumn, outRow, outColumn;
  bool accumulate;
  Clamp clamp;
};

int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// to[x] = from[x * stride] for x < count, and its inverse; contiguous rows
// are plain copies.
void gather(const float *from, int64_t stride, float *to, int64_t count) {
  if (stride == 1)
    std::copy_n(from, count, to);
  else
    for (int64_t x = 0; x < count; ++x)
      to[x] = from[x * stride];
}

void scatter(const float *from, float *to, int64_t stride, int64_t count) {
  if (stride == 1)
    std::copy_n(from, count, to);
  else
    for (int64_t x = 0; x < count; ++x)
      to[x * stride] = from[x];
}

// Per-thread scratch: the plane with its padding made explicit (rows long
// enough for the last block), one output row, and a plane's filter taps
// (their weights and where each reads for the current row).
struct PlaneScratch {
  std::vector<float> padded, row, weight;
  std::vector<const float *> at;
  int64_t paddedWidth = 0;

  void load(const float *plane, const PlaneGeometry &g) {
    int64_t blocks = roundUp(g.outWidth, kBlock);
    paddedWidth = (blocks - 1) * g.strideX + (g.kernelWidth - 1) * g.dilationX + 1;
    int64_t paddedHeight = (g.outHeight - 1) * g.strideY + (g.kernelHeight - 1) * g.dilationY + 1;
    padded.assign(static_cast<size_t>(paddedWidth * paddedHeight), 0.0f);
    row.resize(static_cast<size_t>(blocks));
    weight.resize(static_cast<size_t>(g.kernelHeight * g.kernelWidth));
    at.resize(weight.size());
    for (int64_t r = 0; r < paddedHeight; ++r) {
      int64_t source = r - g.padTop;
      if (source < 0 || source >= g.inHeight)
        continue;
      float *target = padded.data() + r * paddedWidth + g.padLeft;
      const float *from = plane + source * g.inRow;
      gather(from, g.inColumn, target, std::clamp<int64_t>(paddedWidth - g.padLeft, 0, g.inWidth));
    }
  }
};

// row[x] += sum_t weight[t] * at[t][x * Stride] for x in [0, blocks * kBlock):
// each block's sums stay in registers across the taps. With Taps and
// Stride fixed the block unrolls into vector instructions.
template <int64_t Taps, int64_t Stride>
[[gnu::always_inline]] inline void sumBlocks(const float *const *at, const float *weight,
                                             float *__restrict row, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b) {
    float sum[kBlock];
    for (int64_t k = 0; k < kBlock; ++k)
      sum[k] = row[b * kBlock + k];
#pragma GCC unroll 32
    for (int64_t t = 0; t < Taps; ++t)
      for (int64_t k = 0; k < kBlock; ++k)
        sum[k] += weight[t] * at[t][(b * kBlock + k) * Stride];
    for (int64_t k = 0; k < kBlock; ++k)
      row[b * kBlock + k] = sum[k];
  }
}

// Any other kernel size or stride: tap by tap.
void sumBlocksAnyTaps(const float *const *at, const float *weight, float *row, int64_t taps,
                      int64_t stride, int64_t columns) {
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t x = 0; x < columns; ++x)
      row[x] += weight[t] * at[t][x * stride];
}

// Compiled once per instruction set (the loader picks the widest the CPU
// has). 3x3 and 5x5 kernels at strides 1 and 2 (MobileNet, EfficientNet)
// get their own unrolled loops.
__attribute__((target_clones("avx512f", "avx2", "default"))) void
convolvePlane(PlaneScratch &scratch, const float *filter, const float *bias, float *result,
              const PlaneGeometry &g) {
  int64_t taps = g.kernelHeight * g.kernelWidth, blocks = roundUp(g.outWidth, kBlock) / kBlock;
  const float *padded = scratch.padded.data();
  float *row = scratch.row.data(), *weight = scratch.weight.data();
  const float **at = scratch.at.data();
  int64_t paddedWidth = scratch.paddedWidth;
  for (int64_t i = 0, t = 0; i < g.kernelHeight; ++i)
    for (int64_t j = 0; j < g.kernelWidth; ++j, ++t)
      weight[t] = filter[i * g.filterRow + j * g.filterColumn];
  for (int64_t y = 0; y < g.outHeight; ++y) {
    for (int64_t i = 0, t = 0; i < g.kernelHeight; ++i)
      for (int64_t j = 0; j < g.kernelWidth; ++j, ++t)
        at[t] = padded + (y * g.strideY + i * g.dilationY) * paddedWidth + j * g.dilationX;
    float *out = result + y * g.outRow;
    if (g.accumulate) {
      gather(out, g.outColumn, row, g.outWidth);
      if (bias)
        for (int64_t x = 0; x < g.outWidth; ++x)
          row[x] += *bias;
    } else {
      std::fill_n(row, g.outWidth, bias ? *bias : 0.0f);
    }
    if (taps == 9 && g.strideX == 1)
      sumBlocks<9, 1>(at, weight, row, blocks);
    else if (taps == 9 && g.strideX == 2)
      sumBlocks<9, 2>(at, weight, row, blocks);
    else if (taps == 25 && g.strideX == 1)
      sumBlocks<25, 1>(at, weight, row, blocks);
    else if (taps == 25 && g.strideX == 2)
      sumBlocks<25, 2>(at, weight, row, blocks);
    else
      sumBlocksAnyTaps(at, weight, row, taps, g.strideX, g.outWidth);
    if (g.clamp.active())
      clampBlocks(row, blocks, g.clamp);
    scatter(row, out, g.outColumn, g.outWidth);
  }
}

// out[n, c, y, x] (+)= bias[c] + sum_{i, j} in[n, c, y * sy + i * dy - top, x * sx + j * dx -
// left] * w[c, i, j] (linalg.depthwise_conv_2d_nchw_chw with the input's zero padding folded
// in, and its zero initial value when `accumulate` is 0; no bias when `bias` is null),
// clamped to [low, high]. Planes are independent and split across threads. Each plane is
// copied to scratch before its output is written, so `out` may be `in` itself when both have
// the same shape and strides.
void depthwiseConv2d(View<4> *in, View<3> *w, const View<1> *bias, View<4> *out,
                     const int64_t (&flags)[7], float low, float high) {
  auto [strideY, strideX, dilationY, dilationX, padTop, padLeft, accumulate] = flags;
  const int64_t *is = in->strides, *ws = w->strides, *os = out->strides;
  PlaneGeometry geometry{out->sizes[2], out->sizes[3], in->sizes[2],    in->sizes[3],
                         w->sizes[1],   w->sizes[2],   strideY,         strideX,
                         dilationY,     dilationX,     padTop,          padLeft,
                         is[2],         is[3],         ws[1],           ws[2],
                         os[2],         os[3],         accumulate != 0, Clamp{low, high}};
  int64_t channels = out->sizes[1], planes = out->sizes[0] * channels;
  if (geometry.outHeight <= 0 || geometry.outWidth <= 0)
    return;
#pragma omp parallel
  {
    PlaneScratch scratch;
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      int64_t n = p / channels, c = p % channels;
      scratch.load(in->data() + n * is[0] + c * is[1], geometry);
      convolvePlane(scratch, w->data() + c * ws[0],
                    bias ? bias->data() + c * bias->strides[0] : nullptr,
                    out->data() + n * os[0] + c * os[1], geometry);
    }
  }
}

extern "C" void gracefulDepthwiseConv2d(View<4> *in, View<3> *w, View<4> *out, int64_t strideY,
                                        int64_t strideX, int64_t dilationY, int64_t dilationX,
                                        int64_t padTop, int64_t padLeft, int64_t accumulate,
                                        float low, float high) {
  depthwiseConv2d(in, w, nullptr, out,
                  {strideY, strideX, dilationY, dilationX, padTop, padLeft, accumulate}, low, high);
}

extern "C" void gracefulDepthwiseConv2dBias(View<4> *in, View<3> *w, View<1> *bias, View<4> *out,
                                            int64_t strideY, int64_t strideX, int64_t dilationY,
                                            int64_t dilationX, int64_t padTop, int64_t padLeft,
                                            int64_t accumulate, float low, float high) {
  depthwiseConv2d(in, w, bias, out,
                  {strideY, strideX, dilationY, dilationX, padTop, padLeft, accumulate}, low, high);
}

// A strided matrix: what one product reads or accumulates into.
struct MatrixRef {
  float *data;
  int64_t rows, columns, rowStride, columnStride;

  bool rowMajor() const { return columnStride == 1 || columns == 1; }
  int leading() const { return static_cast<int>(std::max(rowStride, columns)); }
  float at(int64_t row, int64_t column) const {
    return data[row * rowStride + column * columnStride];
  }
};

MatrixRef matrixOf(const View<2> &view) {
  return {view.data(), view.sizes[0], view.sizes[1], view.strides[0], view.strides[1]};
}

// Sample n of a [N, rows, columns] view.
MatrixRef sampleOf(const View<3> &view, int64_t n) {
  return {view.data() + n * view.strides[0], view.sizes[1], view.sizes[2], view.strides[1],
          view.strides[2]};
}

// Clamps C in place, rows split across threads.
void clampMatrix(const MatrixRef &c, Clamp clamp) {
  if (!clamp.active())
    return;
#pragma omp parallel for schedule(static) if (c.rows * c.columns > (int64_t{1} << 14))
  for (int64_t i = 0; i < c.rows; ++i) {
    float *row = c.data + i * c.rowStride;
    if (c.columnStride == 1)
      clampRow(row, c.columns, clamp);
    else
      for (int64_t j = 0; j < c.columns; ++j)
        row[j * c.columnStride] = clamp(row[j * c.columnStride]);
  }
}

// C (+)= A * op(B), op(B) = B or B^T: sgemm when BLAS can take the views.
// The product is added to C when `accumulate`, else written over it; then
// C is clamped.
void product(const MatrixRef &a, const MatrixRef &b, const MatrixRef &c, bool transposeB,
             bool accumulate, Clamp clamp) {
  int64_t m = a.rows, k = a.columns, n = c.columns;
  if (m == 0 || n == 0)
    return;
  if (k > 0 && a.rowMajor() && b.rowMajor() && c.rowMajor()) {
    // OpenBLAS clears C for beta = 0 in a strided loop much slower than
    // clearing it here while it is about to be written anyway.
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i)
        std::fill_n(c.data + i * c.leading(), n, 0.0f);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a.data,
                a.leading(), b.data, b.leading(), 1.0f, c.data, c.leading());
    clampMatrix(c, clamp);
    return;
  }
  // Views BLAS cannot take, and empty sums: plain loops.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += a.at(i, p) * (transposeB ? b.at(j, p) : b.at(p, j));
      float &target = c.data[i * c.rowStride + j * c.columnStride];
      target = clamp(accumulate ? target + sum : sum);
    }
}

// C (+)= A * op(B), clamped to [low, high]: linalg.matmul and
// linalg.matmul_transpose_b.
extern "C" void gracefulSgemm(View<2> *a, View<2> *b, View<2> *c, int64_t transposeB,
                              int64_t accumulate, float low, float high) {
  product(matrixOf(*a), matrixOf(*b), matrixOf(*c), transposeB != 0, accumulate != 0,
          Clamp{low, high});
}

// Generated code allocates every intermediate buffer afresh on each run;
// from libc, large ones arrive as new zeroed pages and page faults. Freed
// buffers are kept here by size instead (up to kPoolLimit bytes idle), and
// the next run, which asks for the same sizes, gets them back.
class BufferPool {
public:
  void *allocate(size_t bytes) {
    if (bytes < kPooledSize)
      return std::malloc(bytes);
    std::lock_guard lock(mutex_);
    if (auto it = idle_.find(bytes); it != idle_.end()) {
      void *buffer = it->second;
      idle_.erase(it);
      idleBytes_ -= bytes;
      return buffer;
    }
    void *buffer = std::malloc(bytes);
    if (buffer)
      sizes_[buffer] = bytes;
    return buffer;
  }

  void release(void *buffer) {
    if (!buffer)
      return;
    std::lock_guard lock(mutex_);
    auto it = sizes_.find(buffer);
    if (it == sizes_.end()) {
      std::free(buffer);
      return;
    }
    if (idleBytes_ + it->second > kPoolLimit) {
      sizes_.erase(it);
      std::free(buffer);
      return;
    }
    idle_.emplace(it->second, buffer);
    idleBytes_ += it->second;
  }

private:
  static constexpr size_t kPooledSize = size_t{64} << 10;
  static constexpr size_t kPoolLimit = size_t{1} << 30;
  std::mutex mutex_;
  std::unordered_multimap<size_t, void *> idle_;
  std::unordered_map<void *, size_t> sizes_; // every pooled buffer, idle or in use
  size_t idleBytes_ = 0;
};

BufferPool &bufferPool() {
  static BufferPool *pool = new BufferPool; // outlives every compiled model
  return *pool;
}

extern "C" void *gracefulMalloc(size_t bytes) { return bufferPool().allocate(bytes); }
extern "C" void gracefulFree(void *buffer) { bufferPool().release(buffer); }

// c[n] (+)= a * b[n] for each sample n, clamped to [low, high]: the
// per-sample products of a convolution, one sgemm each, written straight
// into the NCHW output. Samples go to threads whole, each sgemm running on
// one (OpenBLAS does not fork inside a parallel region): late layers' small
// products then run side by side instead of splitting into slivers. A
// single sample keeps BLAS's own threads.
extern "C" void gracefulSgemmPerSample(View<2> *a, View<3> *b, View<3> *c, int64_t accumulate,
                                       float low, float high) {
  auto sample = [&](int64_t n) {
    product(matrixOf(*a), sampleOf(*b, n), sampleOf(*c, n), false, accumulate != 0,
            Clamp{low, high});
  };
  int64_t samples = c->sizes[0];
  if (samples == 1) {
    sample(0);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < samples; ++n)
    sample(n);
}

// A convolution's sizes: the input [C, H, W] of one sample, the filters'
// KH x KW taps and the output's OH x OW pixels.
struct ConvGeometry {
  int64_t channels, inHeight, inWidth, kernelHeight, kernelWidth, outHeight, outWidth;
  int64_t strideY, strideX, dilationY, dilationX, padTop, padLeft;
  int64_t inChannel, inRow, inColumn; // the input's strides

  int64_t patchRows() const { return channels * kernelHeight * kernelWidth; }
  int64_t pixels() const { return outHeight * outWidth; }
};

// Rows [first, last) of one sample's patch matrix, [C*KH*KW, OH*OW] row
// major with rows `rowStride` apart: patches[(c, i, j), (y, x)] =
// in[c, y*sy + i*dy - top, x*sx + j*dx - left], zero outside the input.
void gatherPatches(const float *in, const ConvGeometry &g, float *patches, int64_t first,
                   int64_t last, int64_t rowStride) {
  for (int64_t r = first; r < last; ++r) {
    int64_t c = r / (g.kernelHeight * g.kernelWidth), i = r / g.kernelWidth % g.kernelHeight,
            j = r % g.kernelWidth;
    // Output column x reads input column x * sx + shift; [begin, end) are inside.
    int64_t shift = j * g.dilationX - g.padLeft;
    int64_t begin = std::min(shift >= 0 ? 0 : (-shift + g.strideX - 1) / g.strideX, g.outWidth);
    int64_t end = g.inWidth - 1 - shift < 0 ? 0 : (g.inWidth - 1 - shift) / g.strideX + 1;
    end = std::clamp(end, begin, g.outWidth);
    float *out = patches + r * rowStride;
    for (int64_t y = 0; y < g.outHeight; ++y, out += g.outWidth) {
      int64_t row = y * g.strideY + i * g.dilationY - g.padTop;
      if (row < 0 || row >= g.inHeight) {
        std::fill_n(out, g.outWidth, 0.0f);
        continue;
      }
      std::fill_n(out, begin, 0.0f);
      gather(in + c * g.inChannel + row * g.inRow + (begin * g.strideX + shift) * g.inColumn,
             g.inColumn * g.strideX, out + begin, end - begin);
      std::fill_n(out + end, g.outWidth - end, 0.0f);
    }
  }
}

// Each thread's patch matrix, kept between calls: a convolution's patches
// are as large as its input times the taps, too large to allocate per call.
float *patchScratch(int64_t floats) {
  thread_local std::vector<float> scratch;
  if (static_cast<int64_t>(scratch.size()) < floats)
    scratch.resize(static_cast<size_t>(floats));
  return scratch.data();
}

// Late layers have so few pixels per sample that one product per sample is
// too narrow for BLAS (it repacks the filters for each): below this many,
// all samples' patches go side by side into one product.
constexpr int64_t kNarrowPixels = 256;

// gracefulConv2d for several samples of few pixels: patches [K, N*P], one
// product over BLAS's threads into scratch [M, N*P], then each sample's
// columns added or written into out[n], clamped.
void convolveSamplesTogether(const View<2> &filters, const float *in, int64_t inSampleStride,
                             const ConvGeometry &g, int64_t samples, const View<3> &out,
                             bool accumulate, Clamp clamp) {
  int64_t rows = g.patchRows(), pixels = g.pixels(), columns = samples * pixels;
  int64_t outChannels = out.sizes[1];
  float *patches = patchScratch(rows * columns);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t n = 0; n < samples; ++n)
      gatherPatches(in + n * inSampleStride, g, patches + n * pixels, r, r + 1, columns);
  // Thread-local, so read through a pointer taken here: the threads below
  // would each see their own.
  thread_local std::vector<float> scratch;
  scratch.resize(static_cast<size_t>(outChannels * columns));
  float *products = scratch.data();
  product(matrixOf(filters), {patches, rows, columns, columns, 1},
          {products, outChannels, columns, columns, 1}, false, false, Clamp{-kInfinity, kInfinity});
#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < outChannels; ++m)
    for (int64_t n = 0; n < samples; ++n) {
      const float *from = products + m * columns + n * pixels;
      float *to = out.data() + n * out.strides[0] + m * out.strides[1];
      for (int64_t p = 0; p < pixels; ++p) {
        float &target = to[p * out.strides[2]];
        target = clamp(accumulate ? target + from[p] : from[p]);
      }
    }
}

// out[n, m, p] (+)= sum_k filters[m, k] * patches_n[k, p], clamped to [low, high]: a
// convolution over `in` (its zero padding folded in as top/left offsets), one sample's
// patches gathered at a time into per-thread scratch while they fit in cache, then one sgemm.
// Samples go to threads whole, as in gracefulSgemmPerSample; a single sample gathers its
// rows in parallel and keeps BLAS's threads, and so do samples of few pixels, multiplied
// together (convolveSamplesTogether).
extern "C" void gracefulConv2d(View<2> *filters, View<4> *in, View<3> *out, int64_t kernelHeight,
                               int64_t kernelWidth, int64_t outWidth, int64_t strideY,
                               int64_t strideX, int64_t dilationY, int64_t dilationX,
                               int64_t padTop, int64_t padLeft, int64_t accumulate, float low,
                               float high) {
  const int64_t *is = in->strides;
  ConvGeometry g{in->sizes[1], in->sizes[2], in->sizes[3],
                 kernelHeight, kernelWidth,  out->sizes[2] / std::max<int64_t>(outWidth, 1),
                 outWidth,     strideY,      strideX,
                 dilationY,    dilationX,    padTop,
                 padLeft,      is[1],        is[2],
                 is[3]};
  int64_t samples = out->sizes[0], rows = g.patchRows(), pixels = g.pixels();
  if (pixels == 0)
    return;
  auto multiply = [&](int64_t n, float *patches) {
    product(matrixOf(*filters), {patches, rows, pixels, pixels, 1}, sampleOf(*out, n), false,
            accumulate != 0, Clamp{low, high});
  };
  if (samples == 1) {
    float *patches = patchScratch(rows * pixels);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      gatherPatches(in->data(), g, patches, r, r + 1, pixels);
    multiply(0, patches);
    return;
  }
  if (pixels < kNarrowPixels)
    return convolveSamplesTogether(*filters, in->data(), is[0], g, samples, *out, accumulate != 0,
                                   Clamp{low, high});
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < samples; ++n) {
    float *patches = patchScratch(rows * pixels);
    gatherPatches(in->data() + n * is[0], g, patches, 0, rows, pixels);
    multiply(n, patches);
  }
}

// gracefulConv2d for a 3x3 kernel at stride and dilation 1, by Winograd's
// F(4x4, 3x3) on `transformed` (the filters' transform, made when the model
// was compiled), unless the batch has too few tiles for it to be faster, an
// input is too large or not finite for the transform to keep the direct
// sum's value (winograd::kLargestMagnitude), or the views are not laid out
// as it needs: then directly with `filters`.
extern "C" void gracefulWinogradConv2d(View<2> *filters, View<3> *transformed, View<4> *in,
                                       View<3> *out, int64_t outWidth, int64_t padTop,
                                       int64_t padLeft, int64_t accumulate, float low, float high) {
  int64_t channels = in->sizes[1], outChannels = out->sizes[1];
  const int64_t *ts = transformed->strides;
  bool contiguous = ts[2] == 1 && ts[1] == channels && ts[0] == channels * outChannels &&
                    transformed->sizes[0] == winograd::kPoints && out->strides[2] == 1;
  winograd::Convolution convolution{
      transformed->data(),
      in->data(),
      {in->strides[0], in->strides[1], in->strides[2], in->strides[3]},
      out->data(),
      out->strides[0],
      out->strides[1],
      out->sizes[0],
      channels,
      outChannels,
      in->sizes[2],
      in->sizes[3],
      out->sizes[2] / std::max<int64_t>(outWidth, 1),
      outWidth,
      padTop,
      padLeft,
      accumulate != 0,
      low,
      high};
  if (contiguous && winograd::isWorthwhile(convolution) && winograd::inputsAreModerate(convolution))
    return winograd::convolve(convolution);
  gracefulConv2d(filters, in, out, 3, 3, outWidth, 1, 1, 1, 1, padTop, padLeft, accumulate, low,
                 high);
}

// A memref<?xi8> as MLIR's C interface passes it.
struct Bytes {
  const char *allocated;
  const char *aligned;
  int64_t offset, size, stride;
};

thread_local std::optional<std::string> runFault;

// Called by generated code that met a value it cannot go on with (an index
// out of range); the code goes on safely and the run fails afterwards with
// `message`, its last {} replaced by `value` (the message starts with the
// node's label, whose name may hold a {} of its own). Only the first fault
// of a run is kept: one bad value typically makes many.
extern "C" void gracefulFailRun(Bytes *message, int64_t value) {
  if (runFault)
    return;
  std::string text(message->aligned + message->offset, static_cast<size_t>(message->size));
  if (size_t at = text.rfind("{}"); at != std::string::npos)
    text.replace(at, 2, std::to_string(value));
  runFault = std::move(text);
}

} // namespace

std::optional<std::string> takeRunFault() { return std::exchange(runFault, std::nullopt); }

std::vector<std::pair<std::string, void *>> runtimeSymbols() {
  return {
      {"_mlir_ciface_graceful_sgemm", reinterpret_cast<void *>(&gracefulSgemm)},
      {"_mlir_ciface_graceful_sgemm_per_sample", reinterpret_cast<void *>(&gracefulSgemmPerSample)},
      {"_mlir_ciface_graceful_conv2d", reinterpret_cast<void *>(&gracefulConv2d)},
      {"_mlir_ciface_graceful_winograd_conv2d", reinterpret_cast<void *>(&gracefulWinogradConv2d)},
      {"_mlir_ciface_graceful_depthwise_conv2d",
       reinterpret_cast<void *>(&gracefulDepthwiseConv2d)},
      {"_mlir_ciface_graceful_depthwise_conv2d_bias",
       reinterpret_cast<void *>(&gracefulDepthwiseConv2dBias)},
      {"_mlir_ciface_graceful_fail_run", reinterpret_cast<void *>(&gracefulFailRun)},
      {"malloc", reinterpret_cast<void *>(&gracefulMalloc)},
      {"free", reinterpret_cast<void *>(&gracefulFree)}};
}

} // namespace graceful::compiler
