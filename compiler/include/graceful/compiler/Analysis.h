// Architecture analysis of an ONNX-level module: what an edge profile and
// `graceful inspect` read.
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <llvm/Support/Error.h>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace graceful::compiler {

// A figure too large for int64 (dims whose product overflows) is reported
// as kOverflow, which exceeds every budget.
constexpr int64_t kOverflow = INT64_MAX;

struct ModelAnalysis {
  std::map<std::string, int64_t> opCounts; // "Conv" -> 20
  // Elements of floating-point initializers of rank >= 1, the trainable
  // weights; BatchNormalization's running mean and variance are counted as
  // buffers instead, as frameworks do.
  int64_t parameters = 0;
  int64_t buffers = 0;
  int64_t weightBytes = 0; // bytes of all initializers
  // Multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul, exact for
  // the analysed shapes.
  int64_t macs = 0;
  std::map<std::string, int64_t> macsByOpType;
  // The largest total size of activations alive at once (graph inputs and
  // node outputs, from definition to last use) over the node order.
  int64_t peakActivationBytes = 0;
  std::map<std::string, int64_t> opsets; // domain ("ai.onnx" for default) -> version
  std::set<std::string> dtypes;          // element types of all values
  // Dimensions not fixed by the model, e.g. "input 'x' dim 0 (N)"; the
  // figures above take each of them as 1.
  std::vector<std::string> dynamicDimensions;
};

// Fails (naming the op) only for modules that are not at the ONNX level.
llvm::Expected<ModelAnalysis> analyzeModule(mlir::ModuleOp module);

} // namespace graceful::compiler
