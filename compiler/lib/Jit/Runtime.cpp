// Functions the generated code calls, bound into the JIT by name.
#include "Runtime.h"

#include <cblas.h>
#include <cstdint>

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

} // namespace

std::vector<std::pair<std::string, void *>> runtimeSymbols() {
  return {{"_mlir_ciface_graceful_sgemm", reinterpret_cast<void *>(&gracefulSgemm)}};
}

} // namespace graceful::compiler
