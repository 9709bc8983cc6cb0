// Passes on the ONNX-level dialect (declared in Passes.td).
#pragma once

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace graceful::compiler {

#define GEN_PASS_DECL
#include "graceful/compiler/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "graceful/compiler/Passes.h.inc"

} // namespace graceful::compiler
