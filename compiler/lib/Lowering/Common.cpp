#include "Lowering.h"
#include "RuntimeCalls.h"
#include "graceful/compiler/OnnxTypes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

#include <cmath>
#include <cstring>

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {
llvm::StringMap<LowerFn> &table() {
  static llvm::StringMap<LowerFn> lowerings;
  return lowerings;
}
} // namespace

void registerLowering(llvm::StringRef opType, LowerFn lower) { table()[opType] = std::move(lower); }

const LowerFn *findLowering(llvm::StringRef opType) {
  auto it = table().find(opType);
  return it == table().end() ? nullptr : &it->second;
}

RankedTensorType resultType(ir::NodeOp node, unsigned index) {
  return dyn_cast<RankedTensorType>(node.getResult(index).getType());
}

bool hasInput(ir::NodeOp node, unsigned index) {
  return index < node.getInputs().size() && !isa<NoneType>(node.getInputs()[index].getType());
}

Value input(ir::NodeOp node, unsigned index) {
  return hasInput(node, index) ? node.getInputs()[index] : Value();
}

LogicalResult invalid(ir::NodeOp node, const llvm::Twine &what) {
  return node.emitError() << node.label() << ": " << what;
}

LogicalResult unsupported(ir::NodeOp node, const llvm::Twine &what) {
  return invalid(node, "unsupported: " + what);
}

Value emptyTensor(OpBuilder &builder, Location loc, RankedTensorType type) {
  return builder.create<tensor::EmptyOp>(loc, type.getShape(), type.getElementType());
}

Value filledTensor(OpBuilder &builder, Location loc, RankedTensorType type, Value scalar,
                   Value into) {
  return builder.create<linalg::FillOp>(loc, scalar, into ? into : emptyTensor(builder, loc, type))
      .getResult(0);
}

Value scalarConstant(OpBuilder &builder, Location loc, Type type, double value) {
  if (auto floatType = dyn_cast<FloatType>(type))
    return builder.create<arith::ConstantOp>(loc, builder.getFloatAttr(floatType, value));
  return builder.create<arith::ConstantOp>(
      loc, builder.getIntegerAttr(type, static_cast<int64_t>(value)));
}

namespace {
std::optional<std::string> constantBytes(Value value, Type &elementType) {
  auto constant = value ? value.getDefiningOp<arith::ConstantOp>() : arith::ConstantOp();
  if (!constant)
    return std::nullopt;
  auto elements = dyn_cast<ElementsAttr>(constant.getValue());
  if (!elements)
    return std::nullopt;
  elementType = elements.getElementType();
  return rawElementBytes(elements);
}

template <typename T> T load(const char *data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return value;
}
} // namespace

std::optional<SmallVector<int64_t>> constantInts(Value value) {
  Type element;
  auto bytes = constantBytes(value, element);
  if (!bytes || !element.isInteger())
    return std::nullopt;
  // Booleans come one byte each from rawElementBytes.
  size_t width = std::max<size_t>(1, element.getIntOrFloatBitWidth() / 8);
  SmallVector<int64_t> ints;
  for (size_t at = 0; at + width <= bytes->size(); at += width) {
    if (width == 8)
      ints.push_back(load<int64_t>(bytes->data() + at));
    else if (width == 4)
      ints.push_back(load<int32_t>(bytes->data() + at));
    else if (width == 2)
      ints.push_back(load<int16_t>(bytes->data() + at));
    else
      ints.push_back(static_cast<int8_t>(bytes->data()[at]));
  }
  return ints;
}

std::optional<SmallVector<double>> constantFloats(Value value) {
  Type element;
  auto bytes = constantBytes(value, element);
  if (!bytes || !(element.isF32() || element.isF64()))
    return std::nullopt;
  size_t width = element.isF32() ? 4 : 8;
  SmallVector<double> floats;
  for (size_t at = 0; at + width <= bytes->size(); at += width)
    floats.push_back(width == 4 ? load<float>(bytes->data() + at)
                                : load<double>(bytes->data() + at));
  return floats;
}

AffineMap broadcastMap(MLIRContext *context, ArrayRef<int64_t> outputShape,
                       ArrayRef<int64_t> inputShape) {
  size_t offset = outputShape.size() - inputShape.size();
  SmallVector<AffineExpr> exprs;
  for (size_t i = 0; i < inputShape.size(); ++i) {
    bool stretched = inputShape[i] == 1 && outputShape[offset + i] != 1;
    exprs.push_back(stretched ? getAffineConstantExpr(0, context)
                              : getAffineDimExpr(static_cast<unsigned>(offset + i), context));
  }
  return AffineMap::get(static_cast<unsigned>(outputShape.size()), 0, exprs, context);
}

Value broadcastElementwise(OpBuilder &builder, Location loc, RankedTensorType resultType,
                           ValueRange inputs, const ScalarBody &body) {
  MLIRContext *context = builder.getContext();
  SmallVector<AffineMap> maps;
  for (Value in : inputs)
    maps.push_back(
        broadcastMap(context, resultType.getShape(), cast<ShapedType>(in.getType()).getShape()));
  maps.push_back(builder.getMultiDimIdentityMap(static_cast<unsigned>(resultType.getRank())));
  SmallVector<utils::IteratorType> iterators(resultType.getRank(), utils::IteratorType::parallel);
  auto generic = builder.create<linalg::GenericOp>(
      loc, TypeRange{resultType}, inputs, ValueRange{emptyTensor(builder, loc, resultType)}, maps,
      iterators, [&](OpBuilder &b, Location l, ValueRange args) {
        b.create<linalg::YieldOp>(l, body(b, l, args.drop_back()));
      });
  return generic.getResult(0);
}

Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = scalarConstant(b, loc, x.getType(), 1.0);
  Value negExp = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, x));
  return b.create<arith::DivFOp>(loc, one, b.create<arith::AddFOp>(loc, one, negExp));
}

// NaN compares false, so it falls through both selects.
Value clamp(OpBuilder &b, Location loc, Value x, Value low, Value high, Signedness signedness) {
  if (isa<FloatType>(x.getType())) {
    Value below = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, x, low);
    Value above = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x, high);
    Value upperBounded = b.create<arith::SelectOp>(loc, above, high, x);
    return b.create<arith::SelectOp>(loc, below, low, upperBounded);
  }
  return minimum(b, loc, maximum(b, loc, x, low, signedness), high, signedness);
}

Value add(OpBuilder &b, Location loc, Value x, Value y) {
  return isa<FloatType>(x.getType()) ? b.create<arith::AddFOp>(loc, x, y).getResult()
                                     : b.create<arith::AddIOp>(loc, x, y).getResult();
}
Value sub(OpBuilder &b, Location loc, Value x, Value y) {
  return isa<FloatType>(x.getType()) ? b.create<arith::SubFOp>(loc, x, y).getResult()
                                     : b.create<arith::SubIOp>(loc, x, y).getResult();
}
Value mul(OpBuilder &b, Location loc, Value x, Value y) {
  return isa<FloatType>(x.getType()) ? b.create<arith::MulFOp>(loc, x, y).getResult()
                                     : b.create<arith::MulIOp>(loc, x, y).getResult();
}
// ONNX Max/Min propagate NaN, like arith.maximumf/minimumf.
namespace {
Signedness flaggedSignedness(ir::NodeOp node, StringRef flagsName, unsigned index) {
  auto flags = node->getAttrOfType<DenseBoolArrayAttr>(flagsName);
  return flags && index < flags.size() && flags[index] ? Signedness::Unsigned : Signedness::Signed;
}
} // namespace

Signedness inputSignedness(ir::NodeOp node, unsigned index) {
  return flaggedSignedness(node, kUnsignedInputsAttr, index);
}

Signedness outputSignedness(ir::NodeOp node, unsigned index) {
  return flaggedSignedness(node, kUnsignedOutputsAttr, index);
}

bool hasUnsignedValues(ir::NodeOp node) {
  return node->hasAttr(kUnsignedInputsAttr) || node->hasAttr(kUnsignedOutputsAttr);
}

arith::CmpIPredicate orderPredicate(arith::CmpIPredicate signedPredicate, Signedness signedness) {
  if (signedness == Signedness::Signed)
    return signedPredicate;
  switch (signedPredicate) {
  case arith::CmpIPredicate::slt:
    return arith::CmpIPredicate::ult;
  case arith::CmpIPredicate::sle:
    return arith::CmpIPredicate::ule;
  case arith::CmpIPredicate::sgt:
    return arith::CmpIPredicate::ugt;
  case arith::CmpIPredicate::sge:
    return arith::CmpIPredicate::uge;
  default:
    return signedPredicate;
  }
}

namespace {
Value extremeValue(OpBuilder &b, Location loc, Type type, Signedness signedness, bool highest) {
  if (isa<FloatType>(type))
    return scalarConstant(b, loc, type, highest ? INFINITY : -INFINITY);
  unsigned width = type.getIntOrFloatBitWidth();
  // A bool orders as 0 < 1, unsigned.
  bool isUnsigned = signedness == Signedness::Unsigned || width == 1;
  llvm::APInt value =
      isUnsigned ? (highest ? llvm::APInt::getMaxValue(width) : llvm::APInt::getMinValue(width))
                 : (highest ? llvm::APInt::getSignedMaxValue(width)
                            : llvm::APInt::getSignedMinValue(width));
  return b.create<arith::ConstantOp>(loc, b.getIntegerAttr(type, value));
}
} // namespace

Value lowestValue(OpBuilder &b, Location loc, Type type, Signedness signedness) {
  return extremeValue(b, loc, type, signedness, false);
}

Value highestValue(OpBuilder &b, Location loc, Type type, Signedness signedness) {
  return extremeValue(b, loc, type, signedness, true);
}

namespace {
// The float op for floats, else the unsigned one for unsigned integers and
// bools, else the signed one.
template <typename FloatOp, typename UnsignedOp, typename SignedOp>
Value orderedOp(OpBuilder &b, Location loc, Value x, Value y, Signedness signedness) {
  if (isa<FloatType>(x.getType()))
    return b.create<FloatOp>(loc, x, y);
  if (signedness == Signedness::Unsigned || x.getType().isInteger(1))
    return b.create<UnsignedOp>(loc, x, y);
  return b.create<SignedOp>(loc, x, y);
}
} // namespace

Value maximum(OpBuilder &b, Location loc, Value x, Value y, Signedness signedness) {
  return orderedOp<arith::MaximumFOp, arith::MaxUIOp, arith::MaxSIOp>(b, loc, x, y, signedness);
}

Value minimum(OpBuilder &b, Location loc, Value x, Value y, Signedness signedness) {
  return orderedOp<arith::MinimumFOp, arith::MinUIOp, arith::MinSIOp>(b, loc, x, y, signedness);
}

namespace {
// A float as an integer type, truncated toward zero. ONNX leaves NaN and
// values beyond the type's range undefined, and LLVM's conversion makes
// them poison: here they saturate to the type's limits and NaN gives 0.
Value saturatingToInteger(OpBuilder &b, Location loc, Value x, Type to, Signedness signedness) {
  Type from = x.getType();
  unsigned width = to.getIntOrFloatBitWidth();
  bool isUnsigned = signedness == Signedness::Unsigned;
  // Both limits are powers of two, exact in every float type lowered code has.
  double low = isUnsigned ? 0.0 : -std::ldexp(1.0, static_cast<int>(width) - 1);
  double beyond = std::ldexp(1.0, static_cast<int>(width) - (isUnsigned ? 0 : 1));
  Value lowLimit = scalarConstant(b, loc, from, low);
  Value highLimit = scalarConstant(b, loc, from, beyond);
  Value tooLow = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, x, lowLimit);
  Value tooHigh = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGE, x, highLimit);
  Value outside =
      b.create<arith::OrIOp>(loc, b.create<arith::OrIOp>(loc, tooLow, tooHigh),
                             b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNO, x, x));
  Value inside = b.create<arith::SelectOp>(loc, outside, scalarConstant(b, loc, from, 0.0), x);
  Value converted = isUnsigned ? b.create<arith::FPToUIOp>(loc, to, inside).getResult()
                               : b.create<arith::FPToSIOp>(loc, to, inside).getResult();
  Value lowest = lowestValue(b, loc, to, signedness);
  Value highest = highestValue(b, loc, to, signedness);
  Value saturated = b.create<arith::SelectOp>(loc, tooLow, lowest, converted);
  return b.create<arith::SelectOp>(loc, tooHigh, highest, saturated);
}
} // namespace

Value convertScalar(OpBuilder &b, Location loc, Value x, Type to, Signedness from,
                    Signedness toSignedness) {
  Type fromType = x.getType();
  if (fromType == to)
    return x;
  // A bool reads as 0 or 1: unsigned.
  bool fromUnsigned = from == Signedness::Unsigned || fromType.isInteger(1);
  bool fromFloat = isa<FloatType>(fromType), toFloat = isa<FloatType>(to);
  if (fromFloat && toFloat)
    return fromType.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
               ? b.create<arith::ExtFOp>(loc, to, x).getResult()
               : b.create<arith::TruncFOp>(loc, to, x).getResult();
  if (fromFloat) {
    if (to.isInteger(1))
      return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNE, x,
                                     scalarConstant(b, loc, fromType, 0.0));
    return saturatingToInteger(b, loc, x, to, toSignedness);
  }
  if (toFloat)
    return fromUnsigned ? b.create<arith::UIToFPOp>(loc, to, x).getResult()
                        : b.create<arith::SIToFPOp>(loc, to, x).getResult();
  if (to.isInteger(1))
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, x,
                                   scalarConstant(b, loc, fromType, 0));
  unsigned fromWidth = fromType.getIntOrFloatBitWidth(), toWidth = to.getIntOrFloatBitWidth();
  if (fromWidth == toWidth)
    return x;
  if (fromWidth < toWidth)
    return fromUnsigned ? b.create<arith::ExtUIOp>(loc, to, x).getResult()
                        : b.create<arith::ExtSIOp>(loc, to, x).getResult();
  return b.create<arith::TruncIOp>(loc, to, x);
}

Value reduce(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> axes, bool keepDims,
             Value init, const ScalarBody &combine) {
  auto inputType = cast<RankedTensorType>(input.getType());
  int64_t rank = inputType.getRank();
  SmallVector<int64_t> reducedShape, keptShape;
  SmallVector<AffineExpr> outputExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    bool reduced = llvm::is_contained(axes, d);
    iterators.push_back(reduced ? utils::IteratorType::reduction : utils::IteratorType::parallel);
    keptShape.push_back(reduced ? 1 : inputType.getDimSize(d));
    if (!reduced) {
      reducedShape.push_back(inputType.getDimSize(d));
      outputExprs.push_back(b.getAffineDimExpr(static_cast<unsigned>(d)));
    }
  }
  auto reducedType = RankedTensorType::get(reducedShape, inputType.getElementType());
  SmallVector<AffineMap> maps{
      b.getMultiDimIdentityMap(static_cast<unsigned>(rank)),
      AffineMap::get(static_cast<unsigned>(rank), 0, outputExprs, b.getContext())};
  Value result = b.create<linalg::GenericOp>(
                      loc, TypeRange{reducedType}, ValueRange{input},
                      ValueRange{filledTensor(b, loc, reducedType, init)}, maps, iterators,
                      [&](OpBuilder &nb, Location l, ValueRange args) {
                        nb.create<linalg::YieldOp>(l, combine(nb, l, ValueRange{args[1], args[0]}));
                      })
                     .getResult(0);
  if (!keepDims)
    return result;
  auto keptType = RankedTensorType::get(keptShape, inputType.getElementType());
  SmallVector<ReassociationIndices> groups;
  // Each kept dim takes the reduced size-1 dims before it (and trailing ones
  // join the last group).
  ReassociationIndices current;
  for (int64_t d = 0; d < rank; ++d) {
    current.push_back(d);
    if (!llvm::is_contained(axes, d)) {
      groups.push_back(current);
      current.clear();
    }
  }
  if (!current.empty()) {
    if (groups.empty())
      groups.push_back({});
    groups.back().append(current.begin(), current.end());
  }
  if (reducedShape.empty())
    groups.clear();
  return b.create<tensor::ExpandShapeOp>(loc, keptType, result, groups);
}

Value reshape(OpBuilder &b, Location loc, Value value, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getShape() == shape)
    return value;
  Type element = type.getElementType();
  Value flat = value;
  int64_t count = type.getNumElements();
  if (type.getRank() != 1) {
    SmallVector<ReassociationIndices> all;
    if (type.getRank() > 0) {
      all.emplace_back();
      for (int64_t d = 0; d < type.getRank(); ++d)
        all.back().push_back(d);
    }
    auto flatType = RankedTensorType::get({count}, element);
    flat = type.getRank() == 0
               ? b.create<tensor::ExpandShapeOp>(loc, flatType, value, all).getResult()
               : b.create<tensor::CollapseShapeOp>(loc, flatType, value, all).getResult();
  }
  if (shape.size() == 1)
    return flat;
  auto target = RankedTensorType::get(shape, element);
  SmallVector<ReassociationIndices> all;
  if (!shape.empty()) {
    all.emplace_back();
    for (size_t d = 0; d < shape.size(); ++d)
      all.back().push_back(static_cast<int64_t>(d));
  }
  if (shape.empty())
    return b.create<tensor::CollapseShapeOp>(loc, target, flat, all);
  return b.create<tensor::ExpandShapeOp>(loc, target, flat, all);
}

Value gatherAffine(OpBuilder &b, Location loc, Value in, RankedTensorType outType,
                   ArrayRef<AffineExpr> exprs, Value into) {
  unsigned rank = static_cast<unsigned>(outType.getRank());
  SmallVector<AffineMap> maps{AffineMap::get(rank, 0, exprs, b.getContext()),
                              b.getMultiDimIdentityMap(rank)};
  return b
      .create<linalg::GenericOp>(
          loc, TypeRange{outType}, ValueRange{in},
          ValueRange{into ? into : emptyTensor(b, loc, outType)}, maps,
          SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
          [](OpBuilder &nb, Location l, ValueRange args) {
            nb.create<linalg::YieldOp>(l, args[0]);
          })
      .getResult(0);
}

Value pad(OpBuilder &b, Location loc, Value value, ArrayRef<int64_t> low, ArrayRef<int64_t> high,
          Value padValue) {
  if (llvm::all_of(low, [](int64_t p) { return p == 0; }) &&
      llvm::all_of(high, [](int64_t p) { return p == 0; }))
    return value;
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < type.getRank(); ++d)
    shape.push_back(type.getDimSize(d) + low[d] + high[d]);
  auto padded = RankedTensorType::get(shape, type.getElementType());
  SmallVector<OpFoldResult> lowAttrs, highAttrs;
  for (int64_t p : low)
    lowAttrs.push_back(b.getIndexAttr(p));
  for (int64_t p : high)
    highAttrs.push_back(b.getIndexAttr(p));
  return b.create<tensor::PadOp>(loc, padded, value, lowAttrs, highAttrs, padValue);
}

SmallVector<int64_t> intsOr(ir::NodeOp node, StringRef name, size_t rank, int64_t fallback) {
  SmallVector<int64_t> values = node.intsAttr(name);
  if (values.empty())
    values.assign(rank, fallback);
  return values;
}

Value loopNest(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Value init,
               const LoopBody &body) {
  SmallVector<Value> lower, upper, steps;
  for (int64_t size : shape) {
    lower.push_back(b.create<arith::ConstantIndexOp>(loc, 0));
    upper.push_back(b.create<arith::ConstantIndexOp>(loc, size));
    steps.push_back(b.create<arith::ConstantIndexOp>(loc, 1));
  }
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lower, upper, steps, ValueRange{init},
      [&](OpBuilder &nb, Location l, ValueRange ivs, ValueRange acc) -> scf::ValueVector {
        return {body(nb, l, ivs, acc[0])};
      });
  return nest.results[0];
}

ValueRange forLoop(OpBuilder &b, Location loc, Value lower, Value upper, ValueRange inits,
                   const ForBody &body) {
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  return b
      .create<scf::ForOp>(loc, lower, upper, one, inits,
                          [&](OpBuilder &nb, Location l, Value i, ValueRange carried) {
                            nb.create<scf::YieldOp>(l, body(nb, l, i, carried));
                          })
      .getResults();
}

namespace {

// `text` as a constant i8 buffer, one global per distinct text.
Value textBuffer(OpBuilder &b, Location loc, ModuleOp module, const std::string &text) {
  std::string symbol = "graceful.text." + text;
  auto type = MemRefType::get({static_cast<int64_t>(text.size())}, b.getI8Type());
  if (!module.lookupSymbol(symbol)) {
    auto global = OpBuilder::atBlockBegin(module.getBody());
    std::vector<int8_t> bytes(text.begin(), text.end());
    global.create<memref::GlobalOp>(
        loc, symbol, global.getStringAttr("private"), type,
        DenseIntElementsAttr::get(RankedTensorType::get(type.getShape(), b.getI8Type()),
                                  llvm::ArrayRef(bytes)),
        /*constant=*/true, /*alignment=*/IntegerAttr());
  }
  return b.create<memref::GetGlobalOp>(loc, type, symbol);
}

Value i64Constant(OpBuilder &b, Location loc, int64_t value) {
  return b.create<arith::ConstantIntOp>(loc, value, 64);
}

Value isBelow(OpBuilder &b, Location loc, Value value, Value bound) {
  return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, value, bound);
}

} // namespace

void failRunIf(OpBuilder &b, Location loc, ir::NodeOp node, Value condition, Value value,
               const std::string &message) {
  b.create<scf::IfOp>(loc, condition, [&](OpBuilder &then, Location at) {
    auto module = node->getParentOfType<ModuleOp>();
    Value text =
        then.create<memref::CastOp>(at, MemRefType::get({ShapedType::kDynamic}, then.getI8Type()),
                                    textBuffer(then, at, module, node.label() + ": " + message));
    callRuntime(then, module, at, "graceful_fail_run", ValueRange{text, value});
    then.create<scf::YieldOp>(at);
  });
}

Value asI64(OpBuilder &b, Location loc, Value integer) {
  if (integer.getType().isInteger(64))
    return integer;
  return b.create<arith::ExtSIOp>(loc, b.getI64Type(), integer);
}

Value checkedIndex(OpBuilder &b, Location loc, ir::NodeOp node, Value element, int64_t dim,
                   int64_t size, IndexedPlace place) {
  Value raw = asI64(b, loc, element);
  Value zero = i64Constant(b, loc, 0), sizeValue = i64Constant(b, loc, size);
  Value index = raw;
  if (place == IndexedPlace::DataDimFromEitherEnd) {
    Value negative = isBelow(b, loc, raw, zero);
    Value wrapped = b.create<arith::AddIOp>(loc, raw, sizeValue);
    index = b.create<arith::SelectOp>(loc, negative, wrapped, raw);
  }
  Value below = isBelow(b, loc, index, zero);
  Value above = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sge, index, sizeValue);
  Value outside = b.create<arith::OrIOp>(loc, below, above);
  std::string valid =
      place == IndexedPlace::FlatOutput
          ? "the output, of " + std::to_string(size) + " elements"
          : "dim " + std::to_string(dim) + " of the data, of size " + std::to_string(size);
  valid += " (valid: " + std::to_string(place == IndexedPlace::DataDimFromEitherEnd ? -size : 0) +
           " to " + std::to_string(size - 1) + ")";
  failRunIf(b, loc, node, outside, raw, "index {} is out of range for " + valid);
  Value safe = b.create<arith::SelectOp>(loc, outside, zero, index);
  return b.create<arith::IndexCastOp>(loc, b.getIndexType(), safe);
}

Value checkedLength(OpBuilder &b, Location loc, ir::NodeOp node, Value element, int64_t steps) {
  Value raw = asI64(b, loc, element);
  Value zero = i64Constant(b, loc, 0);
  Value negative = isBelow(b, loc, raw, zero);
  Value past =
      b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sgt, raw, i64Constant(b, loc, steps));
  Value outside = b.create<arith::OrIOp>(loc, negative, past);
  failRunIf(b, loc, node, outside, raw,
            "sequence length {} is out of range for " + std::to_string(steps) +
                " steps (valid: 0 to " + std::to_string(steps) + ")");
  return b.create<arith::SelectOp>(loc, outside, zero, raw);
}

LogicalResult checkIndexedDims(ir::NodeOp node, RankedTensorType data, llvm::ArrayRef<int64_t> dims,
                               RankedTensorType iterated) {
  if (iterated.getNumElements() == 0)
    return success();
  for (int64_t dim : dims)
    if (data.getDimSize(dim) == 0)
      return invalid(node, "indexes dim " + llvm::Twine(dim) + " of the data, which is empty");
  return success();
}

int64_t normalizeAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

} // namespace graceful::compiler::lowering
