#include "Winograd.h"

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <omp.h>

namespace graceful::compiler::winograd {
namespace {

constexpr int64_t kTile = 4, kInput = kTile + 2;

// Tiles side by side along a row are transformed together, one per
// vector lane (16 floats with AVX-512).
constexpr int64_t kLanes = 16;

// The interpolation points 0, 1, -1, 2, -2 and infinity: B^T (inputs,
// d -> B^T d B), G (filters, g -> G g G^T) and A^T (products, m -> A^T m A).
constexpr float kInputTransform[kInput][kInput] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                                   {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                                   {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
constexpr double kFilterTransform[kInput][3] = {{1.0 / 4, 0, 0},
                                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                                {0, 0, 1}};
constexpr float kOutputTransform[kTile][kInput] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

// A block of tiles is transformed, multiplied and transformed back while
// its transformed inputs and products stay in cache (about this many bytes).
constexpr int64_t kBlockBytes = int64_t{3} << 20;
// Fewer tiles than this make the products too narrow for BLAS to be fast.
constexpr int64_t kMinimumTiles = 96;

// The last lane group of a row reads its 6 columns from 64-float loads
// that start up to 5 columns in: 68 floats from its start.
constexpr int64_t kReadPastRow = 8;

int64_t ceilDivide(int64_t value, int64_t divisor) { return (value + divisor - 1) / divisor; }

// How a convolution's tiles are laid out and split into blocks. Tile rows
// (a sample's 4 output rows) are numbered across samples; a block is a
// range of whole tile rows.
struct Tiling {
  int64_t tileRows, tileColumns; // per sample
  int64_t rowWidth;              // a row padded for whole lane groups and their loads
  int64_t blockRows, blockTiles;

  explicit Tiling(const Convolution &c)
      : tileRows(ceilDivide(c.outHeight, kTile)), tileColumns(ceilDivide(c.outWidth, kTile)),
        rowWidth(ceilDivide(tileColumns, kLanes) * kLanes * kTile + kReadPastRow) {
    int64_t allRows = c.samples * tileRows;
    int64_t fitting = kBlockBytes / (kPoints * (c.channels + c.outChannels) * 4);
    blockRows = ceilDivide(std::max(fitting, kMinimumTiles), tileColumns);
    // Every thread should get a block, when there are tiles enough.
    int64_t perThread = ceilDivide(allRows, int64_t{omp_get_max_threads()});
    if (perThread * tileColumns >= kMinimumTiles)
      blockRows = std::min(blockRows, perThread);
    blockRows = std::clamp<int64_t>(blockRows, 1, allRows);
    // Blocks of even sizes.
    blockRows = ceilDivide(allRows, ceilDivide(allRows, blockRows));
    blockTiles = blockRows * tileColumns;
  }
};

// Per-thread buffers of one block: kInput padded input rows, the
// transformed inputs V [36, C, tiles], the products M [36, M, tiles] and
// kTile output rows.
struct Scratch {
  std::vector<float> rows, transformed, products, outputRows;
};

Scratch &threadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// rows[i, x] = input[n, c, top + i, x - padLeft], zero outside the input.
void loadRows(const Convolution &c, const Tiling &t, int64_t n, int64_t channel, int64_t top,
              float *rows) {
  std::fill_n(rows, kInput * t.rowWidth, 0.0f);
  const int64_t *s = c.inStrides;
  int64_t first = std::min(c.padLeft, t.rowWidth);
  int64_t count = std::clamp<int64_t>(t.rowWidth - c.padLeft, 0, c.inWidth);
  for (int64_t i = 0; i < kInput; ++i) {
    int64_t y = top + i;
    if (y < 0 || y >= c.inHeight)
      continue;
    const float *from = c.input + n * s[0] + channel * s[1] + y * s[2];
    float *to = rows + i * t.rowWidth + first;
    if (s[3] == 1)
      std::copy_n(from, count, to);
    else
      for (int64_t x = 0; x < count; ++x)
        to[x] = from[x * s[3]];
  }
}

// kLanes floats, one per tile; GCC's vector extension makes each
// arithmetic on them one AVX-512 instruction (two AVX2 ones).
typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float))));

// These helpers are inlined into the clones below; the warning that a
// 64-byte vector changes their calling convention cannot apply.
#pragma GCC diagnostic ignored "-Wpsabi"
[[gnu::always_inline]] inline Lanes loadLanes(const float *from) {
  Lanes lanes;
  __builtin_memcpy(&lanes, from, sizeof lanes);
  return lanes;
}

[[gnu::always_inline]] inline void storeLanes(const Lanes &lanes, float *to) {
  __builtin_memcpy(to, &lanes, sizeof lanes);
}

// out[r] = sum_i matrix[r][i] * in[i]; zero coefficients are skipped while
// the loops unroll (a compiler may not drop a multiply by zero: NaN).
template <int64_t Rows>
[[gnu::always_inline]] inline void combine(const float (&matrix)[Rows][kInput],
                                           const Lanes (&in)[kInput], Lanes (&out)[Rows]) {
#pragma GCC unroll 6
  for (int64_t r = 0; r < Rows; ++r) {
    Lanes sum = {};
#pragma GCC unroll 6
    for (int64_t i = 0; i < kInput; ++i)
      if (matrix[r][i] != 0)
        sum += matrix[r][i] * in[i];
    out[r] = sum;
  }
}

// half[a][j] = sum_i matrix[a][i] * x[i][j] for the 6x6 lanes x that
// load(i, j) gives: the first half of a 2-D transform, column by column.
template <int64_t Rows, typename Load>
[[gnu::always_inline]] inline void transformColumns(const float (&matrix)[Rows][kInput], Load load,
                                                    Lanes (&half)[Rows][kInput]) {
  for (int64_t j = 0; j < kInput; ++j) {
    Lanes column[kInput], transformed[Rows];
    for (int64_t i = 0; i < kInput; ++i)
      column[i] = load(i, j);
    combine(matrix, column, transformed);
    for (int64_t a = 0; a < Rows; ++a)
      half[a][j] = transformed[a];
  }
}

// Lane l = from[4 * l]: every fourth float of 64, from 4 loads and 3 shuffles.
// __builtin_shufflevector takes constant indices and is both GCC's and Clang's.
[[gnu::always_inline]] inline Lanes everyFourth(const float *from) {
  auto pick = [](const Lanes &a, const Lanes &b) {
    return __builtin_shufflevector(a, b, 0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
  };
  Lanes low = pick(loadLanes(from), loadLanes(from + 16));
  Lanes high = pick(loadLanes(from + 32), loadLanes(from + 48));
  return __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

// Lanes 0..7 of a and b interleaved, and lanes 8..15.
[[gnu::always_inline]] inline Lanes interleaveLow(const Lanes &a, const Lanes &b) {
  return __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}
[[gnu::always_inline]] inline Lanes interleaveHigh(const Lanes &a, const Lanes &b) {
  return __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15,
                                 31);
}

// to[4 * l + b] = columns[b][l]: the inverse of everyFourth for 4 vectors.
[[gnu::always_inline]] inline void interleaveFour(const Lanes (&columns)[kTile], float *to) {
  // Pairs (b = 0, 2) and (1, 3), then the pairs of pairs.
  Lanes even0 = interleaveLow(columns[0], columns[2]);
  Lanes even1 = interleaveHigh(columns[0], columns[2]);
  Lanes odd0 = interleaveLow(columns[1], columns[3]);
  Lanes odd1 = interleaveHigh(columns[1], columns[3]);
  storeLanes(interleaveLow(even0, odd0), to);
  storeLanes(interleaveHigh(even0, odd0), to + 16);
  storeLanes(interleaveLow(even1, odd1), to + 32);
  storeLanes(interleaveHigh(even1, odd1), to + 48);
}

// V[p, lane] = (B^T d B)[p] for the tiles starting at columns lane * 4 of
// `rows`; the first `count` lanes are stored, point p at p * pointStride.
__attribute__((target_clones("avx512f", "avx2", "default"))) void
transformInputs(const float *rows, int64_t rowWidth, float *out, int64_t pointStride,
                int64_t count) {
  Lanes half[kInput][kInput]; // [a][j]: (B^T d)[a, j]
  transformColumns(
      kInputTransform, [&](int64_t i, int64_t j) { return everyFourth(rows + i * rowWidth + j); },
      half);
  for (int64_t a = 0; a < kInput; ++a) {
    Lanes transformed[kInput];
    combine(kInputTransform, half[a], transformed);
    for (int64_t b = 0; b < kInput; ++b) {
      float *to = out + (a * kInput + b) * pointStride;
      if (count == kLanes)
        storeLanes(transformed[b], to);
      else
        for (int64_t l = 0; l < count; ++l)
          to[l] = transformed[b][l];
    }
  }
}

// The inverse of transformInputs for products: rows[a, lane * 4 + b] =
// (A^T m A)[a, b] for the lanes' products m, point p read at p * pointStride.
__attribute__((target_clones("avx512f", "avx2", "default"))) void
transformProducts(const float *products, int64_t pointStride, float *rows, int64_t rowWidth) {
  Lanes half[kTile][kInput]; // [a][j]: (A^T m)[a, j]
  transformColumns(
      kOutputTransform,
      [&](int64_t i, int64_t j) { return loadLanes(products + (i * kInput + j) * pointStride); },
      half);
  for (int64_t a = 0; a < kTile; ++a) {
    Lanes pixels[kTile];
    combine(kOutputTransform, half[a], pixels);
    interleaveFour(pixels, rows + a * rowWidth);
  }
}

// out[x] = clamp(out[x] + row[x]) or clamp(row[x]), as the epilogue says.
void storeRow(const Convolution &c, const float *row, float *out) {
  float low = c.low, high = c.high;
  auto clamp = [&](float v) { return v < low ? low : (v > high ? high : v); };
  if (c.accumulate)
    for (int64_t x = 0; x < c.outWidth; ++x)
      out[x] = clamp(out[x] + row[x]);
  else
    for (int64_t x = 0; x < c.outWidth; ++x)
      out[x] = clamp(row[x]);
}

// Tile rows [first, last): inputs transformed, 36 products, outputs.
void convolveBlock(const Convolution &c, const Tiling &t, int64_t first, int64_t last) {
  Scratch &s = threadScratch();
  int64_t tiles = (last - first) * t.tileColumns;
  int64_t inputPoint = c.channels * t.blockTiles, productPoint = c.outChannels * t.blockTiles;
  s.rows.resize(static_cast<size_t>(kInput * t.rowWidth));
  s.transformed.resize(static_cast<size_t>(kPoints * inputPoint));
  s.products.resize(static_cast<size_t>(kPoints * productPoint + kLanes));
  s.outputRows.resize(static_cast<size_t>(kTile * t.rowWidth));
  for (int64_t channel = 0; channel < c.channels; ++channel)
    for (int64_t r = first; r < last; ++r) {
      loadRows(c, t, r / t.tileRows, channel, r % t.tileRows * kTile - c.padTop, s.rows.data());
      float *tileRow = s.transformed.data() + channel * t.blockTiles + (r - first) * t.tileColumns;
      for (int64_t x = 0; x < t.tileColumns; x += kLanes)
        transformInputs(s.rows.data() + x * kTile, t.rowWidth, tileRow + x, inputPoint,
                        std::min(kLanes, t.tileColumns - x));
    }
  int64_t pairs = c.outChannels * c.channels;
  for (int64_t p = 0; p < kPoints; ++p)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(c.outChannels),
                static_cast<int>(tiles), static_cast<int>(c.channels), 1.0f,
                c.transformed + p * pairs, static_cast<int>(c.channels),
                s.transformed.data() + p * inputPoint, static_cast<int>(t.blockTiles), 0.0f,
                s.products.data() + p * productPoint, static_cast<int>(t.blockTiles));
  for (int64_t m = 0; m < c.outChannels; ++m)
    for (int64_t r = first; r < last; ++r) {
      const float *tileRow = s.products.data() + m * t.blockTiles + (r - first) * t.tileColumns;
      for (int64_t x = 0; x < t.tileColumns; x += kLanes)
        transformProducts(tileRow + x, productPoint, s.outputRows.data() + x * kTile, t.rowWidth);
      int64_t n = r / t.tileRows, top = r % t.tileRows * kTile;
      float *plane = c.output + n * c.outSampleStride + m * c.outChannelStride;
      for (int64_t a = 0; a < kTile && top + a < c.outHeight; ++a)
        storeRow(c, s.outputRows.data() + a * t.rowWidth, plane + (top + a) * c.outWidth);
    }
}

} // namespace

std::optional<std::vector<float>> transformFilters(const float *filters, int64_t outChannels,
                                                   int64_t inChannels) {
  int64_t pairs = outChannels * inChannels;
  std::vector<float> transformed(static_cast<size_t>(kPoints * pairs));
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const float *g = filters + pair * 9;
    if (!std::all_of(g, g + 9, [](float w) { return std::fabs(w) <= kLargestMagnitude; }))
      return std::nullopt;
    double half[kInput][3];
    for (int64_t a = 0; a < kInput; ++a)
      for (int64_t j = 0; j < 3; ++j) {
        half[a][j] = 0;
        for (int64_t i = 0; i < 3; ++i)
          half[a][j] += kFilterTransform[a][i] * g[i * 3 + j];
      }
    for (int64_t a = 0; a < kInput; ++a)
      for (int64_t b = 0; b < kInput; ++b) {
        double sum = 0;
        for (int64_t j = 0; j < 3; ++j)
          sum += half[a][j] * kFilterTransform[b][j];
        transformed[static_cast<size_t>((a * kInput + b) * pairs + pair)] = static_cast<float>(sum);
      }
  }
  return transformed;
}

bool isWorthwhile(const Convolution &c) {
  return c.samples * ceilDivide(c.outHeight, kTile) * ceilDivide(c.outWidth, kTile) >=
         kMinimumTiles;
}

bool inputsAreModerate(const Convolution &c) {
  const int64_t *s = c.inStrides;
  int64_t planes = c.samples * c.channels, outliers = 0;
#pragma omp parallel for schedule(static) reduction(+ : outliers)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float *base = c.input + plane / c.channels * s[0] + plane % c.channels * s[1];
    for (int64_t y = 0; y < c.inHeight; ++y) {
      const float *row = base + y * s[2];
      for (int64_t x = 0; x < c.inWidth; ++x)
        outliers += !(std::fabs(row[x * s[3]]) <= kLargestMagnitude);
    }
  }
  return outliers == 0;
}

void convolve(const Convolution &c) {
  if (c.samples == 0 || c.outHeight == 0 || c.outWidth == 0 || c.outChannels == 0)
    return;
  Tiling tiling(c);
  int64_t allRows = c.samples * tiling.tileRows;
  int64_t blocks = ceilDivide(allRows, tiling.blockRows);
  // One block keeps BLAS's own threads (it runs one thread inside a
  // parallel region).
  if (blocks == 1)
    return convolveBlock(c, tiling, 0, allRows);
#pragma omp parallel for schedule(dynamic)
  for (int64_t b = 0; b < blocks; ++b)
    convolveBlock(c, tiling, b * tiling.blockRows, std::min(allRows, (b + 1) * tiling.blockRows));
}

} // namespace graceful::compiler::winograd
