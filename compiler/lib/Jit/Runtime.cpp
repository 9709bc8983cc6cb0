// Functions the generated code calls, bound into the JIT by name.
#include "Runtime.h"

#include <cblas.h>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace graceful::compiler {
namespace {

// A 2-D strided memref as MLIR's C interface passes it.
struct Matrix {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];

  float *data() const { return aligned + offset; }
  bool rowMajor() const { return strides[1] == 1 || sizes[1] == 1; }
};

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

// C += A * op(B), op(B) = B or B^T.
extern "C" void gracefulSgemm(Matrix *a, Matrix *b, Matrix *c, int64_t transposeB) {
  int64_t m = a->sizes[0], k = a->sizes[1], n = c->sizes[1];
  if (m == 0 || n == 0 || k == 0)
    return;
  if (a->rowMajor() && b->rowMajor() && c->rowMajor()) {
    auto leading = [](const Matrix *x) { return std::max<int64_t>(x->strides[0], x->sizes[1]); };
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a->data(),
                static_cast<int>(leading(a)), b->data(), static_cast<int>(leading(b)), 1.0f,
                c->data(), static_cast<int>(leading(c)));
    return;
  }
  // Views BLAS cannot take: plain loops.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        float rhs = transposeB ? b->data()[j * b->strides[0] + p * b->strides[1]]
                               : b->data()[p * b->strides[0] + j * b->strides[1]];
        sum += a->data()[i * a->strides[0] + p * a->strides[1]] * rhs;
      }
      c->data()[i * c->strides[0] + j * c->strides[1]] += sum;
    }
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
  int64_t samples = c->sizes[0], m = c->sizes[1], p = c->sizes[2], k = a->sizes[1];
  if (m == 0 || p == 0 || k == 0)
    return;
  bool rowMajor = (a->strides[1] == 1 || k == 1) && (b->strides[2] == 1 || p == 1) &&
                  (c->strides[2] == 1 || p == 1);
  for (int64_t n = 0; n < samples; ++n) {
    const float *bn = b->data() + n * b->strides[0];
    float *cn = c->data() + n * c->strides[0];
    if (rowMajor) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m),
                  static_cast<int>(p), static_cast<int>(k), 1.0f, a->data(),
                  static_cast<int>(std::max(a->strides[0], k)), bn,
                  static_cast<int>(std::max(b->strides[1], p)), 1.0f, cn,
                  static_cast<int>(std::max(c->strides[1], p)));
      continue;
    }
    // Views BLAS cannot take: plain loops.
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < p; ++j) {
        float sum = 0;
        for (int64_t q = 0; q < k; ++q)
          sum += a->data()[i * a->strides[0] + q * a->strides[1]] *
                 bn[q * b->strides[1] + j * b->strides[2]];
        cn[i * c->strides[1] + j * c->strides[2]] += sum;
      }
  }
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
