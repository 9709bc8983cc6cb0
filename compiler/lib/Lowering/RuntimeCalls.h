// Internal: calls from generated code into the JIT's runtime functions
// (compiler/lib/Jit/Runtime.cpp), for the passes that replace linalg ops on
// buffers by optimized kernels.
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <limits>
#include <optional>

namespace graceful::compiler {

// Calls `name` with `buffers`, each cast to a memref of its rank with
// dynamic sizes, strides and offset (so one declaration serves every view),
// followed by `scalars` as i64 and `reals` as f32. Declares `name` with the
// C interface the runtime implements the first time.
void callRuntime(mlir::OpBuilder &builder, mlir::ModuleOp module, mlir::Location loc,
                 llvm::StringRef name, mlir::ValueRange buffers, llvm::ArrayRef<int64_t> scalars,
                 llvm::ArrayRef<float> reals = {});
// Calls `name` with `operands` as they are (their types declare it).
void callRuntime(mlir::OpBuilder &builder, mlir::ModuleOp module, mlir::Location loc,
                 llvm::StringRef name, mlir::ValueRange operands);

// True for a memref of f32 with the given rank.
bool isF32Buffer(mlir::Value value, int64_t rank);

// The buffer a view (subview, cast, reshape) reads from.
mlir::Value rootBuffer(mlir::Value value);

// True for linalg.fill with 0.0 of `buffer`, or a linalg.map or
// linalg.generic of no inputs yielding 0.0 into it (how bufferization
// writes zero padding and zero-bias initial values).
bool zeroFills(mlir::Operation *op, mlir::Value buffer);

// The first op after `op` in its block, and the last one before it, that
// uses a view of `root` other than to make another view (views only name a
// buffer; they neither read nor write it).
mlir::Operation *nextUseOf(mlir::Operation *op, mlir::Value root);
mlir::Operation *lastUseBefore(mlir::Operation *op, mlir::Value root);

// True when `op` (or an op nested in it) may write, free or pass on any
// view of `root`; reading it is fine.
bool mayChange(mlir::Operation *op, mlir::Value root);
// The same for the ops strictly between `first` and `last` (one block).
bool mayChangeBetween(mlir::Operation *first, mlir::Operation *last, mlir::Value root);

// True when `op` writes all of `buffer` without reading it (nor a view of it).
bool overwrites(mlir::linalg::GenericOp op, mlir::Value buffer);

// Kernels that accumulate into their output can overwrite it instead when
// it holds zeros. If the last op before `op` that touches `output`'s root
// buffer zero-fills that whole buffer, and `output` covers all of it, the
// fill is erased and the result is true: the kernel must then write its
// result rather than add it.
bool eraseZeroFillBefore(mlir::Operation *op, mlir::Value output);

// A per-channel bias the kernel can start from itself: when the last op
// before `op` that touches `output`'s root buffer writes all of it with
// bias[c] at [n, c, ...] (how a Conv's bias input lowers) and `output` is
// that whole buffer (not a view of it), the op is erased and the rank-1 bias returned. The
// kernel then writes bias + its result: its output no longer needs to hold
// a base before it runs, so it may write over its own input.
std::optional<mlir::Value> eraseChannelBiasBefore(mlir::Operation *op, mlir::Value output);

// A bufferized tensor.pad with zeros: an alloc that is zero-filled,
// receives a copy of `source` in one subview at [0, 0, top, left], and is
// read by one op. A kernel can read `source` instead and treat the border
// as zeros; `padOps` (uses first) are then erased.
struct ZeroPadding {
  mlir::Value source;
  int64_t top = 0, left = 0;
  llvm::SmallVector<mlir::Operation *> padOps;
};

// The zero padding `padded` is, when `consumer` alone reads it and `source`
// does not change before `kernel` (the call replacing `consumer`, or an op
// after it) reads it, nor is it `kernelOutput`'s buffer.
std::optional<ZeroPadding> zeroPaddingOf(mlir::Value padded, mlir::Operation *consumer,
                                         mlir::Operation *kernel, mlir::Value kernelOutput);

// What a kernel does with its result, taken over from the elementwise ops
// that followed it: result = clamp(base + kernel(inputs), low, high), where
// base is `output`'s content when `accumulate`, else zero.
struct Epilogue {
  mlir::Value output;
  bool accumulate = false;
  float low = -std::numeric_limits<float>::infinity();
  float high = std::numeric_limits<float>::infinity();
};

// Fuses into `kernel` (a linalg op on buffers about to become a runtime
// call writing `epilogue.output`) the elementwise ops after it that only
// consume its result: a residual Add of another buffer, which becomes the
// base, then a Clip or Relu, which becomes the clamp. The kernel then writes
// where those ops wrote; they are erased, and the kernel's own buffer is
// left dead for canonicalization. `inputs` are the buffers the kernel reads;
// with `mayWriteInput` it can also write its result into an input of the
// output's type (it reads each part of it before writing that part).
Epilogue fuseEpilogue(mlir::OpBuilder &builder, mlir::Operation *kernel, mlir::ValueRange inputs,
                      Epilogue epilogue, bool mayWriteInput = false);

// How `kernel` starts on `output`: from zeros when the fill before it
// could be erased (eraseZeroFillBefore), else adding to what it holds.
Epilogue startingEpilogue(mlir::Operation *kernel, mlir::Value output);

// Replaces `kernel` by a call to the runtime's `name` on `inputs` and
// `start.output`, with what fuseEpilogue takes over: the call's scalars are
// `flags`, then whether it adds to its output, then the clamp's bounds.
void callKernel(mlir::OpBuilder &builder, mlir::ModuleOp module, mlir::Operation *kernel,
                llvm::StringRef name, mlir::ValueRange inputs, Epilogue start,
                llvm::SmallVector<int64_t> flags, bool mayWriteInput = false);

} // namespace graceful::compiler
