// Quantized ops, as an int8 or uint8 edge model uses them: QuantizeLinear,
// DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger,
// QLinearMatMul and QLinearConv. Products accumulate exactly in int32;
// requantizing rounds half to even and saturates to the output's range.
#include "Lowering.h"

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

// A per-axis parameter (1-D, one value per index of `axis`) shaped to
// broadcast against a tensor of `rank`; a scalar or single value as it is.
Value alongAxis(OpBuilder &b, Location loc, Value parameter, int64_t rank, int64_t axis) {
  auto type = cast<RankedTensorType>(parameter.getType());
  if (type.getRank() != 1 || type.getDimSize(0) == 1 || rank <= 1)
    return parameter;
  SmallVector<int64_t> shape(static_cast<size_t>(rank), 1);
  shape[static_cast<size_t>(axis)] = type.getDimSize(0);
  return reshape(b, loc, parameter, shape);
}

int64_t rankOf(Value value) { return cast<RankedTensorType>(value.getType()).getRank(); }

// Input `index` widened to int32 (as its signedness reads), minus the zero
// point at input `zeroIndex` when there is one, laid along `zeroAxis`.
Value centered(OpBuilder &b, ir::NodeOp node, unsigned index, unsigned zeroIndex,
               int64_t zeroAxis) {
  Location loc = node.getLoc();
  Value x = input(node, index);
  auto type = cast<RankedTensorType>(x.getType()).clone(b.getI32Type());
  Signedness xSigns = inputSignedness(node, index), zeroSigns = inputSignedness(node, zeroIndex);
  SmallVector<Value> operands{x};
  if (hasInput(node, zeroIndex))
    operands.push_back(alongAxis(b, loc, input(node, zeroIndex), type.getRank(), zeroAxis));
  return broadcastElementwise(
      b, loc, type, operands, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value wide = convertScalar(nb, l, args[0], nb.getI32Type(), xSigns);
        if (args.size() == 1)
          return wide;
        return nb
            .create<arith::SubIOp>(l, wide,
                                   convertScalar(nb, l, args[1], nb.getI32Type(), zeroSigns))
            .getResult();
      });
}

// The float value of an integer constant of `type`'s lowest or highest.
Value rangeBound(OpBuilder &b, Location loc, Type type, Signedness signedness, bool highest) {
  unsigned width = type.getIntOrFloatBitWidth();
  bool isUnsigned = signedness == Signedness::Unsigned;
  double bound = highest
                     ? (isUnsigned ? std::ldexp(1.0, width) - 1 : std::ldexp(1.0, width - 1) - 1)
                     : (isUnsigned ? 0.0 : -std::ldexp(1.0, width - 1));
  return scalarConstant(b, loc, b.getF32Type(), bound);
}

// round(value) + zero (f32), saturated to `type`'s range and converted.
Value requantize(OpBuilder &b, Location loc, Value value, Value zero, Type type,
                 Signedness signedness) {
  Value rounded = b.create<math::RoundEvenOp>(loc, value);
  if (zero)
    rounded = b.create<arith::AddFOp>(loc, rounded, zero);
  Value lowest = rangeBound(b, loc, type, signedness, false);
  Value highest = rangeBound(b, loc, type, signedness, true);
  Value saturated = clamp(b, loc, rounded, lowest, highest);
  return convertScalar(b, loc, saturated, type, Signedness::Signed, signedness);
}

// y = saturate(round(x / scale) + zero_point); x is float or int32.
FailureOr<SmallVector<Value>> lowerQuantizeLinear(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  RankedTensorType outType = resultType(node);
  int64_t rank = outType.getRank(), axis = normalizeAxis(node.intAttr("axis", 1), rank);
  SmallVector<Value> operands{input(node, 0), alongAxis(b, loc, input(node, 1), rank, axis)};
  bool hasZero = hasInput(node, 2);
  if (hasZero)
    operands.push_back(alongAxis(b, loc, input(node, 2), rank, axis));
  Signedness xSigns = inputSignedness(node, 0), zeroSigns = inputSignedness(node, 2),
             outSigns = outputSignedness(node);
  Type element = outType.getElementType();
  return SmallVector<Value>{broadcastElementwise(
      b, loc, outType, operands, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value x = convertScalar(nb, l, args[0], nb.getF32Type(), xSigns);
        Value scale = convertScalar(nb, l, args[1], nb.getF32Type());
        Value zero = hasZero ? convertScalar(nb, l, args[2], nb.getF32Type(), zeroSigns) : Value();
        return requantize(nb, l, nb.create<arith::DivFOp>(l, x, scale), zero, element, outSigns);
      })};
}

// y = (x - zero_point) * scale, the difference exact in int32.
FailureOr<SmallVector<Value>> lowerDequantizeLinear(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  RankedTensorType outType = resultType(node);
  int64_t rank = outType.getRank(), axis = normalizeAxis(node.intAttr("axis", 1), rank);
  Value difference = centered(b, node, 0, 2, axis);
  return SmallVector<Value>{broadcastElementwise(
      b, loc, outType, {difference, alongAxis(b, loc, input(node, 1), rank, axis)},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Type element = outType.getElementType();
        Value difference = convertScalar(nb, l, args[0], element);
        return nb.create<arith::MulFOp>(l, difference, convertScalar(nb, l, args[1], element));
      })};
}

// uint8 quantization over the range of x widened to hold 0: scale =
// (max - min) / 255, zero point = round(saturate(-min / scale)).
FailureOr<SmallVector<Value>> lowerDynamicQuantizeLinear(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  auto xType = cast<RankedTensorType>(x.getType());
  if (!xType.getElementType().isF32())
    return unsupported(node, "input other than float32");
  SmallVector<int64_t> everyAxis;
  for (int64_t d = 0; d < xType.getRank(); ++d)
    everyAxis.push_back(d);
  Value zero = scalarConstant(b, loc, b.getF32Type(), 0.0);
  // NaN takes no part in the range, as in ONNX Runtime. An all-zero input
  // gives scale 0: its quotients are NaN, which convert to 0.
  auto extreme = [&](bool max) {
    return reduce(b, loc, x, everyAxis, false, zero,
                  [max](OpBuilder &nb, Location l, ValueRange args) -> Value {
                    if (max)
                      return nb.create<arith::MaxNumFOp>(l, args[0], args[1]);
                    return nb.create<arith::MinNumFOp>(l, args[0], args[1]);
                  });
  };
  Value low = extreme(false), high = extreme(true);
  auto scalarType = RankedTensorType::get({}, b.getF32Type());
  Value scale = broadcastElementwise(
      b, loc, scalarType, {low, high}, [](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value range = nb.create<arith::SubFOp>(l, args[1], args[0]);
        return nb.create<arith::DivFOp>(l, range, scalarConstant(nb, l, range.getType(), 255));
      });
  RankedTensorType pointType = resultType(node, 2);
  Type u8 = pointType.getElementType();
  auto zeroPointOf = [&](OpBuilder &nb, Location l, Value least, Value step) -> Value {
    Value shifted = nb.create<arith::DivFOp>(l, nb.create<arith::NegFOp>(l, least), step);
    Value lowest = rangeBound(nb, l, u8, Signedness::Unsigned, false);
    Value highest = rangeBound(nb, l, u8, Signedness::Unsigned, true);
    return nb.create<math::RoundEvenOp>(l, clamp(nb, l, shifted, lowest, highest));
  };
  Value zeroPoint = broadcastElementwise(
      b, loc, pointType, {low, scale}, [&](OpBuilder &nb, Location l, ValueRange args) {
        return convertScalar(nb, l, zeroPointOf(nb, l, args[0], args[1]), u8, Signedness::Signed,
                             Signedness::Unsigned);
      });
  Value y =
      broadcastElementwise(b, loc, resultType(node, 0), {x, scale, low},
                           [&](OpBuilder &nb, Location l, ValueRange args) {
                             Value point = zeroPointOf(nb, l, args[2], args[1]);
                             return requantize(nb, l, nb.create<arith::DivFOp>(l, args[0], args[1]),
                                               point, u8, Signedness::Unsigned);
                           });
  return SmallVector<Value>{y, scale, zeroPoint};
}

RankedTensorType int32Like(RankedTensorType type) {
  return type.clone(IntegerType::get(type.getContext(), 32));
}

// (A - a_zero_point) x (B - b_zero_point) in int32; a's zero point may be
// per row, b's per column.
Value integerProduct(OpBuilder &b, ir::NodeOp node, unsigned aIndex, unsigned aZero,
                     unsigned bIndex, unsigned bZero, RankedTensorType outType) {
  Value lhs = centered(b, node, aIndex, aZero, rankOf(input(node, aIndex)) - 2);
  Value rhs = centered(b, node, bIndex, bZero, rankOf(input(node, bIndex)) - 1);
  return matmulOf(b, node.getLoc(), lhs, rhs, int32Like(outType));
}

FailureOr<SmallVector<Value>> lowerMatMulInteger(ir::NodeOp node, OpBuilder &b) {
  return SmallVector<Value>{integerProduct(b, node, 0, 2, 1, 3, resultType(node))};
}

// The int32 convolution of (x - x_zero_point) by (w - w_zero_point), the
// filters' zero point per output channel; zero padding is the input's
// zero point, as ONNX defines it.
FailureOr<Value> integerConvolution(OpBuilder &b, ir::NodeOp node, unsigned xIndex, unsigned xZero,
                                    unsigned wIndex, unsigned wZero, Value bias,
                                    RankedTensorType outType) {
  Value x = centered(b, node, xIndex, xZero, 1);
  Value w = centered(b, node, wIndex, wZero, 0);
  return convolveNode(node, b, x, w, bias, int32Like(outType));
}

FailureOr<SmallVector<Value>> lowerConvInteger(ir::NodeOp node, OpBuilder &b) {
  auto out = integerConvolution(b, node, 0, 2, 1, 3, Value(), resultType(node));
  if (failed(out))
    return failure();
  return SmallVector<Value>{*out};
}

// An int32 accumulator requantized: round(acc * x_scale * w_scale /
// y_scale) + y_zero_point, saturated; the scales broadcast as given.
Value requantizeProduct(OpBuilder &b, ir::NodeOp node, Value accumulator, Value xScale,
                        Value wScale, unsigned yScaleIndex) {
  RankedTensorType outType = resultType(node);
  Signedness outSigns = outputSignedness(node), zeroSigns = inputSignedness(node, yScaleIndex + 1);
  SmallVector<Value> operands{accumulator, xScale, wScale, input(node, yScaleIndex)};
  bool hasZero = hasInput(node, yScaleIndex + 1);
  if (hasZero)
    operands.push_back(input(node, yScaleIndex + 1));
  Type element = outType.getElementType();
  return broadcastElementwise(
      b, node.getLoc(), outType, operands, [&](OpBuilder &nb, Location l, ValueRange args) {
        Type f32 = nb.getF32Type();
        Value xScale = convertScalar(nb, l, args[1], f32);
        Value wScale = convertScalar(nb, l, args[2], f32);
        Value yScale = convertScalar(nb, l, args[3], f32);
        Value multiplier =
            nb.create<arith::DivFOp>(l, nb.create<arith::MulFOp>(l, xScale, wScale), yScale);
        Value sum = convertScalar(nb, l, args[0], f32);
        Value scaled = nb.create<arith::MulFOp>(l, sum, multiplier);
        Value zero = hasZero ? convertScalar(nb, l, args[4], f32, zeroSigns) : Value();
        return requantize(nb, l, scaled, zero, element, outSigns);
      });
}

// Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
// y_zero_point.
FailureOr<SmallVector<Value>> lowerQLinearMatMul(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  RankedTensorType outType = resultType(node);
  Value accumulator = integerProduct(b, node, 0, 2, 3, 5, outType);
  Value aScale = alongAxis(b, loc, input(node, 1), outType.getRank(), outType.getRank() - 2);
  Value bScale = alongAxis(b, loc, input(node, 4), outType.getRank(), outType.getRank() - 1);
  return SmallVector<Value>{requantizeProduct(b, node, accumulator, aScale, bScale, 6)};
}

// Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
// y_zero_point, and an optional int32 bias added to the accumulator.
FailureOr<SmallVector<Value>> lowerQLinearConv(ir::NodeOp node, OpBuilder &b) {
  RankedTensorType outType = resultType(node);
  auto accumulator = integerConvolution(b, node, 0, 2, 3, 5, input(node, 8), outType);
  if (failed(accumulator))
    return failure();
  Value wScale = alongAxis(b, node.getLoc(), input(node, 4), outType.getRank(), 1);
  return SmallVector<Value>{requantizeProduct(b, node, *accumulator, input(node, 1), wScale, 6)};
}

} // namespace

void registerQuantizeLowerings() {
  registerLowering("QuantizeLinear", lowerQuantizeLinear);
  registerLowering("DequantizeLinear", lowerDequantizeLinear);
  registerLowering("DynamicQuantizeLinear", lowerDynamicQuantizeLinear);
  registerLowering("MatMulInteger", lowerMatMulInteger);
  registerLowering("ConvInteger", lowerConvInteger);
  registerLowering("QLinearMatMul", lowerQLinearMatMul);
  registerLowering("QLinearConv", lowerQLinearConv);
}

} // namespace graceful::compiler::lowering
