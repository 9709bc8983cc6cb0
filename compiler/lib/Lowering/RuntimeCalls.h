// Internal: calls from generated code into the JIT's runtime functions
// (compiler/lib/Jit/Runtime.cpp), for the passes that replace linalg ops on
// buffers by optimized kernels.
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace graceful::compiler {

// Calls `name` with `buffers`, each cast to a memref of its rank with
// dynamic sizes, strides and offset (so one declaration serves every view),
// followed by `scalars` as i64. Declares `name` with the C interface the
// runtime implements the first time.
void callRuntime(mlir::OpBuilder &builder, mlir::ModuleOp module, mlir::Location loc,
                 llvm::StringRef name, mlir::ValueRange buffers, llvm::ArrayRef<int64_t> scalars);

// True for a memref of f32 with the given rank.
bool isF32Buffer(mlir::Value value, int64_t rank);

} // namespace graceful::compiler
