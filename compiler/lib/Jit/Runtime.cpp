// Functions the generated code calls, bound into the JIT by name.
#include "Runtime.h"

#include <algorithm>
#include <cblas.h>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

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

// The geometry of one depthwise plane: output size, kernel size, strides
// and dilations, and the row/column strides of input, filter and output.
struct PlaneGeometry {
  int64_t height, width, kernelHeight, kernelWidth;
  int64_t strideY, strideX, dilationY, dilationX;
  int64_t inRow, inColumn, filterRow, filterColumn, outRow, outColumn;
};

// result[y, x] += sum_{i, j} plane[y * sy + i * dy, x * sx + j * dx] * filter[i, j].
// Compiled once per instruction set (the loader picks the widest the CPU
// has); the contiguous unit-stride row is the case the vectorizer takes.
__attribute__((target_clones("avx512f", "avx2", "default"))) void
convolvePlane(const float *plane, const float *filter, float *result, const PlaneGeometry &g) {
  bool contiguous = g.inColumn == 1 && g.outColumn == 1;
  for (int64_t y = 0; y < g.height; ++y) {
    float *__restrict target = result + y * g.outRow;
    for (int64_t i = 0; i < g.kernelHeight; ++i)
      for (int64_t j = 0; j < g.kernelWidth; ++j) {
        float weight = filter[i * g.filterRow + j * g.filterColumn];
        const float *__restrict row =
            plane + (y * g.strideY + i * g.dilationY) * g.inRow + j * g.dilationX * g.inColumn;
        if (contiguous && g.strideX == 1)
          for (int64_t x = 0; x < g.width; ++x)
            target[x] += weight * row[x];
        else if (contiguous)
          for (int64_t x = 0; x < g.width; ++x)
            target[x] += weight * row[x * g.strideX];
        else
          for (int64_t x = 0; x < g.width; ++x)
            target[x * g.outColumn] += weight * row[x * g.strideX * g.inColumn];
      }
  }
}

// out[n, c, y, x] += sum_{i, j} in[n, c, y * sy + i * dy, x * sx + j * dx] * w[c, i, j]:
// linalg.depthwise_conv_2d_nchw_chw on an already padded input.
extern "C" void gracefulDepthwiseConv2d(View<4> *in, View<3> *w, View<4> *out, int64_t strideY,
                                        int64_t strideX, int64_t dilationY, int64_t dilationX) {
  const int64_t *is = in->strides, *ws = w->strides, *os = out->strides;
  PlaneGeometry geometry{out->sizes[2], out->sizes[3], w->sizes[1], w->sizes[2], strideY,
                         strideX,       dilationY,     dilationX,   is[2],       is[3],
                         ws[1],         ws[2],         os[2],       os[3]};
  for (int64_t n = 0; n < out->sizes[0]; ++n)
    for (int64_t c = 0; c < out->sizes[1]; ++c)
      convolvePlane(in->data() + n * is[0] + c * is[1], w->data() + c * ws[0],
                    out->data() + n * os[0] + c * os[1], geometry);
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

// C += A * op(B), op(B) = B or B^T: sgemm when BLAS can take the views.
void accumulateProduct(const MatrixRef &a, const MatrixRef &b, const MatrixRef &c,
                       bool transposeB) {
  int64_t m = a.rows, k = a.columns, n = c.columns;
  if (m == 0 || n == 0 || k == 0)
    return;
  if (a.rowMajor() && b.rowMajor() && c.rowMajor()) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a.data,
                a.leading(), b.data, b.leading(), 1.0f, c.data, c.leading());
    return;
  }
  // Views BLAS cannot take: plain loops.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += a.at(i, p) * (transposeB ? b.at(j, p) : b.at(p, j));
      c.data[i * c.rowStride + j * c.columnStride] += sum;
    }
}

// C += A * op(B): linalg.matmul and linalg.matmul_transpose_b.
extern "C" void gracefulSgemm(View<2> *a, View<2> *b, View<2> *c, int64_t transposeB) {
  accumulateProduct(matrixOf(*a), matrixOf(*b), matrixOf(*c), transposeB != 0);
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

// c[n] += a * b[n] for each sample n: the per-sample products of a
// convolution, one sgemm each, written straight into the NCHW output.
extern "C" void gracefulSgemmPerSample(View<2> *a, View<3> *b, View<3> *c) {
  for (int64_t n = 0; n < c->sizes[0]; ++n)
    accumulateProduct(
        matrixOf(*a),
        {b->data() + n * b->strides[0], b->sizes[1], b->sizes[2], b->strides[1], b->strides[2]},
        {c->data() + n * c->strides[0], c->sizes[1], c->sizes[2], c->strides[1], c->strides[2]},
        false);
}

} // namespace

std::vector<std::pair<std::string, void *>> runtimeSymbols() {
  return {
      {"_mlir_ciface_graceful_sgemm", reinterpret_cast<void *>(&gracefulSgemm)},
      {"_mlir_ciface_graceful_sgemm_per_sample", reinterpret_cast<void *>(&gracefulSgemmPerSample)},
      {"_mlir_ciface_graceful_depthwise_conv2d",
       reinterpret_cast<void *>(&gracefulDepthwiseConv2d)},
      {"malloc", reinterpret_cast<void *>(&gracefulMalloc)},
      {"free", reinterpret_cast<void *>(&gracefulFree)}};
}

} // namespace graceful::compiler
