// Internal: the ONNX -> linalg/tensor/arith/math lowering, one function per
// ONNX op type, registered in a table keyed by op type (as torch-mlir keys
// its ONNX patterns). Every tensor is statically shaped by the time this
// runs: inputs are specialised to the shapes being run before import.
#pragma once

#include "graceful/compiler/OnnxDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include <functional>
#include <optional>

namespace graceful::compiler::lowering {

using mlir::FailureOr;
using mlir::OpBuilder;
using mlir::RankedTensorType;
using mlir::SmallVector;
using mlir::Value;

// Lowers one node; on failure it has emitted an error on the node saying
// what is unsupported.
using LowerFn = std::function<FailureOr<SmallVector<Value>>(ir::NodeOp, OpBuilder &)>;

void registerLowering(llvm::StringRef opType, LowerFn lower);
const LowerFn *findLowering(llvm::StringRef opType);

void registerElementwiseLowerings();
void registerLinearLowerings();
void registerWindowLowerings();
void registerShapeLowerings();
void registerIndexingLowerings();
void registerLossLowerings();
void registerResizeLowerings();
void registerRecurrentLowerings();
void registerQuantizeLowerings();
void registerGridSampleLowerings();
void registerSpectralLowerings();
void registerDeterminantLowerings();
void registerRoiAlignLowerings();
void registerTfIdfLowerings();

// ---- helpers shared by the lowerings ---------------------------------------

RankedTensorType resultType(ir::NodeOp node, unsigned index = 0);
Value input(ir::NodeOp node, unsigned index);
bool hasInput(ir::NodeOp node, unsigned index);

// What the compiler lacks (an op, attribute, type):
// "node 'name' (Op): unsupported: what".
mlir::LogicalResult unsupported(ir::NodeOp node, const llvm::Twine &what);

// Reports a node whose operands contradict each other (a Reshape target
// that does not hold its input's elements): "node 'n' (Op): <what>".
mlir::LogicalResult invalid(ir::NodeOp node, const llvm::Twine &what);

Value emptyTensor(OpBuilder &builder, mlir::Location loc, RankedTensorType type);
// `scalar` everywhere, written into `into` when given, else into a new
// empty tensor.
Value filledTensor(OpBuilder &builder, mlir::Location loc, RankedTensorType type, Value scalar,
                   Value into = {});
Value scalarConstant(OpBuilder &builder, mlir::Location loc, mlir::Type type, double value);

// Element i of an int constant tensor (onnx.constant or arith.constant).
std::optional<SmallVector<int64_t>> constantInts(Value value);
std::optional<SmallVector<double>> constantFloats(Value value);

// A map from the output's iteration space to an input of rank `rank`
// broadcast numpy-style (right-aligned; size-1 dims read index 0).
mlir::AffineMap broadcastMap(mlir::MLIRContext *context, llvm::ArrayRef<int64_t> outputShape,
                             llvm::ArrayRef<int64_t> inputShape);

// out[i...] = body(in0[bcast(i)], in1[bcast(i)], ...), numpy broadcasting.
using ScalarBody = std::function<Value(OpBuilder &, mlir::Location, mlir::ValueRange)>;
Value broadcastElementwise(OpBuilder &builder, mlir::Location loc, RankedTensorType resultType,
                           mlir::ValueRange inputs, const ScalarBody &body);

// ---- integer signedness ------------------------------------------------------
// graceful-signless-integers makes every integer signless before lowering
// (arith knows no other); a node that had unsigned inputs or outputs keeps
// which, and the lowerings that compare, divide, extend or convert read it.
// Every other lowering refuses unsigned values (see LowerOnnx.cpp).
inline constexpr llvm::StringLiteral kUnsignedInputsAttr = "graceful.unsigned_inputs";
inline constexpr llvm::StringLiteral kUnsignedOutputsAttr = "graceful.unsigned_outputs";

enum class Signedness { Signed, Unsigned };
Signedness inputSignedness(ir::NodeOp node, unsigned index = 0);
Signedness outputSignedness(ir::NodeOp node, unsigned index = 0);
bool hasUnsignedValues(ir::NodeOp node);

// The signed predicate (slt, sle, sgt, sge) as `signedness` reads it.
mlir::arith::CmpIPredicate orderPredicate(mlir::arith::CmpIPredicate signedPredicate,
                                          Signedness signedness);

// The type's least and greatest values: -inf and inf for floats, the
// integer range of its width for integers.
Value lowestValue(OpBuilder &b, mlir::Location loc, mlir::Type type,
                  Signedness signedness = Signedness::Signed);
Value highestValue(OpBuilder &b, mlir::Location loc, mlir::Type type,
                   Signedness signedness = Signedness::Signed);

// ---- half-precision floats ---------------------------------------------------
// graceful-widen-half-floats computes float16 and bfloat16 in float32: a
// node whose outputs were halves keeps which (TypeAttrs, float32 where an
// output was none), and each such output is rounded to its half after the
// node, so every op rounds as it would in half precision.
inline constexpr llvm::StringLiteral kHalfOutputsAttr = "graceful.half_outputs";

// A float16 or bfloat16 tensor as float32, or (with `half`) a float32
// tensor as `half`, rounded to nearest even.
Value convertHalfTensor(OpBuilder &b, mlir::Location loc, Value value, mlir::Type half = {});
// x (f32) rounded to the nearest value of `half` (f16 or bf16), still f32.
Value roundToHalf(OpBuilder &b, mlir::Location loc, Value x, mlir::Type half);
// Half-precision elements as float32 (exactly); failure when the
// attribute holds no bytes.
FailureOr<mlir::ElementsAttr> widenHalfElements(mlir::ElementsAttr value);

// Arithmetic that picks the float or integer op from the type.
Value add(OpBuilder &b, mlir::Location loc, Value x, Value y);
Value sub(OpBuilder &b, mlir::Location loc, Value x, Value y);
Value mul(OpBuilder &b, mlir::Location loc, Value x, Value y);
Value maximum(OpBuilder &b, mlir::Location loc, Value x, Value y,
              Signedness signedness = Signedness::Signed);
Value minimum(OpBuilder &b, mlir::Location loc, Value x, Value y,
              Signedness signedness = Signedness::Signed);
// x as `to`; `from` and `toSignedness` say how the integers read.
Value convertScalar(OpBuilder &b, mlir::Location loc, Value x, mlir::Type to,
                    Signedness from = Signedness::Signed,
                    Signedness toSignedness = Signedness::Signed);
Value sigmoid(OpBuilder &b, mlir::Location loc, Value x);
// x clamped to [low, high]; NaN stays NaN.
Value clamp(OpBuilder &b, mlir::Location loc, Value x, Value low, Value high,
            Signedness signedness = Signedness::Signed);

// A 2-D product as a named linalg op (C = A * B, or A * B^T), which the
// graceful-linalg-to-blas pass turns into an sgemm call after bufferization.
Value namedMatmul(OpBuilder &b, mlir::Location loc, Value lhs, Value rhs, bool transposeRhs);

// ONNX MatMul: numpy matmul with broadcast batch dims; 1-D operands are
// promoted to matrices and the promoted dim dropped from the result. f32
// goes to sgemm, other element types (the integer products of quantized
// models included) to a generic loop nest.
Value matmulOf(OpBuilder &b, mlir::Location loc, Value lhs, Value rhs, RankedTensorType outType);

// A convolution of x by w (plus bias, when given) with the node's pads,
// auto_pad, strides, dilations and group, padding with zeros.
FailureOr<Value> convolveNode(ir::NodeOp node, OpBuilder &b, Value x, Value w, Value bias,
                              RankedTensorType outType);

// A reduction over `axes` (sorted, non-negative) keeping them as size 1 if
// keepDims. combine(acc, x) folds; init is the identity.
Value reduce(OpBuilder &b, mlir::Location loc, Value input, llvm::ArrayRef<int64_t> axes,
             bool keepDims, Value init, const ScalarBody &combine);

// Any static reshape (collapse to 1-D, expand to the target).
Value reshape(OpBuilder &b, mlir::Location loc, Value value, llvm::ArrayRef<int64_t> shape);

// out[i...] = in[map(i...)] for an affine map over the output's dims,
// written into `into` when given, else into a new empty tensor.
Value gatherAffine(OpBuilder &b, mlir::Location loc, Value in, RankedTensorType outType,
                   llvm::ArrayRef<mlir::AffineExpr> exprs, Value into = {});

// Pads with `padValue`: low[i] before and high[i] after dim i.
Value pad(OpBuilder &b, mlir::Location loc, Value value, llvm::ArrayRef<int64_t> low,
          llvm::ArrayRef<int64_t> high, Value padValue);

// An INTS attribute, or `rank` copies of `fallback` when it is absent
// (strides, dilations).
SmallVector<int64_t> intsOr(ir::NodeOp node, llvm::StringRef name, size_t rank, int64_t fallback);

// Softmax (or LogSoftmax) of x along `axis`, shifted by its maximum.
Value softmax(OpBuilder &b, mlir::Location loc, Value x, int64_t axis, bool logarithm);

// Loops over every index of `shape` (scf.for, outermost first) carrying
// `init`; body(ivs, acc) returns the next acc. With an empty shape the body
// runs once.
using LoopBody = std::function<Value(OpBuilder &, mlir::Location, mlir::ValueRange, Value)>;
Value loopNest(OpBuilder &b, mlir::Location loc, llvm::ArrayRef<int64_t> shape, Value init,
               const LoopBody &body);

// An scf.for over [lower, upper) (index values) carrying `inits`;
// body(i, carried) returns the next carried values. The loop's results.
using ForBody =
    std::function<SmallVector<Value>(OpBuilder &, mlir::Location, Value, mlir::ValueRange)>;
mlir::ValueRange forLoop(OpBuilder &b, mlir::Location loc, Value lower, Value upper,
                         mlir::ValueRange inits, const ForBody &body);

// Generated code that meets `condition` calls the runtime, which fails the
// run with "<node label>: `message`", the last {} (which must be in
// `message`) replaced by `value` (i64). The code goes on; the caller makes it safe to.
void failRunIf(OpBuilder &b, mlir::Location loc, ir::NodeOp node, Value condition, Value value,
               const std::string &message);

// An integer value sign-extended to i64.
Value asI64(OpBuilder &b, mlir::Location loc, Value integer);

// An index into dim `dim` (of `size`) of a node's data, read from an integer
// tensor element, counting from the end when negative (Gather, Scatter and
// their kin). One out of range fails the run (failRunIf), and the code
// reads index 0 instead: it never touches memory outside the data.
// DataDimFromStart takes no negative index (RoiAlign's batch indices);
// FlatOutput neither, and the index is a position in the whole output read
// flat (MaxUnpool's).
enum class IndexedPlace { DataDimFromEitherEnd, DataDimFromStart, FlatOutput };
Value checkedIndex(OpBuilder &b, mlir::Location loc, ir::NodeOp node, Value element, int64_t dim,
                   int64_t size, IndexedPlace place = IndexedPlace::DataDimFromEitherEnd);

// A sequence length (i64) read from an integer element, which must lie in
// [0, steps]; one outside fails the run and reads as 0.
Value checkedLength(OpBuilder &b, mlir::Location loc, ir::NodeOp node, Value element,
                    int64_t steps);

// Index 0 is no safe fallback in an empty dim: fails when one of `dims` of
// `data` is empty while `iterated` (the space indices are read over) is not.
mlir::LogicalResult checkIndexedDims(ir::NodeOp node, mlir::RankedTensorType data,
                                     llvm::ArrayRef<int64_t> dims, mlir::RankedTensorType iterated);

// Normalises a possibly negative axis against `rank`.
int64_t normalizeAxis(int64_t axis, int64_t rank);

} // namespace graceful::compiler::lowering
