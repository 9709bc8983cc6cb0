// Elementwise ONNX ops: arithmetic with numpy broadcasting, comparisons,
// logic, activations, Cast, Where, Clip.
#include "Lowering.h"

#include <cmath>

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

// A node whose result is body(inputs...) element by element, the body
// made for the node (its attributes, its integers' signedness).
LowerFn pointwiseFor(std::function<ScalarBody(ir::NodeOp)> bodyFor) {
  return [bodyFor](ir::NodeOp node, OpBuilder &b) -> FailureOr<SmallVector<Value>> {
    RankedTensorType type = resultType(node);
    SmallVector<Value> inputs;
    for (unsigned i = 0; i < node.getInputs().size(); ++i)
      if (hasInput(node, i))
        inputs.push_back(input(node, i));
    return SmallVector<Value>{broadcastElementwise(b, node.getLoc(), type, inputs, bodyFor(node))};
  };
}

LowerFn pointwise(ScalarBody body) {
  return pointwiseFor([body](ir::NodeOp) { return body; });
}

using Combine = std::function<Value(OpBuilder &, Location, Value, Value)>;

// A variadic fold (Sum, Max, Min, Mean's sum) over all inputs.
ScalarBody fold(Combine combine) {
  return [combine](OpBuilder &b, Location loc, ValueRange args) {
    Value acc = args[0];
    for (Value x : args.drop_front())
      acc = combine(b, loc, acc, x);
    return acc;
  };
}

Value constantLike(OpBuilder &b, Location loc, Value like, double value) {
  return scalarConstant(b, loc, like.getType(), value);
}

template <typename FloatOp> ScalarBody unaryFloat() {
  return [](OpBuilder &b, Location loc, ValueRange args) -> Value {
    return b.create<FloatOp>(loc, args[0]);
  };
}

Value select(OpBuilder &b, Location loc, Value condition, Value x, Value y) {
  return b.create<arith::SelectOp>(loc, condition, x, y);
}

Value isPositive(OpBuilder &b, Location loc, Value x) {
  return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x, constantLike(b, loc, x, 0.0));
}

// intPredicate is the signed one; unsigned inputs compare unsigned.
LowerFn compare(arith::CmpFPredicate floatPredicate, arith::CmpIPredicate intPredicate) {
  return pointwiseFor([=](ir::NodeOp node) -> ScalarBody {
    arith::CmpIPredicate predicate = orderPredicate(intPredicate, inputSignedness(node));
    return [=](OpBuilder &nb, Location loc, ValueRange args) -> Value {
      if (isa<FloatType>(args[0].getType()))
        return nb.create<arith::CmpFOp>(loc, floatPredicate, args[0], args[1]);
      return nb.create<arith::CmpIOp>(loc, predicate, args[0], args[1]);
    };
  });
}

// Max or Min over all inputs, as their integers read.
LowerFn extremum(bool max) {
  return pointwiseFor([max](ir::NodeOp node) -> ScalarBody {
    Signedness signedness = inputSignedness(node);
    return fold([=](OpBuilder &b, Location loc, Value x, Value y) {
      return max ? maximum(b, loc, x, y, signedness) : minimum(b, loc, x, y, signedness);
    });
  });
}

// An activation with float attributes read once per node.
using ActivationBody = std::function<Value(OpBuilder &, Location, Value, ir::NodeOp)>;
LowerFn activation(ActivationBody body) {
  return [body](ir::NodeOp node, OpBuilder &b) -> FailureOr<SmallVector<Value>> {
    if (!isa<FloatType>(resultType(node).getElementType()))
      return unsupported(node, "non-floating-point input");
    return SmallVector<Value>{
        broadcastElementwise(b, node.getLoc(), resultType(node), {input(node, 0)},
                             [&](OpBuilder &nb, Location loc, ValueRange args) {
                               return body(nb, loc, args[0], node);
                             })};
  };
}

Value attrConstant(OpBuilder &b, Location loc, Value like, ir::NodeOp node, StringRef name,
                   double fallback) {
  return constantLike(b, loc, like, node.floatAttr(name, static_cast<float>(fallback)));
}

// Clip's bounds are optional inputs (opset 11+) or attributes (before).
FailureOr<SmallVector<Value>> lowerClip(ir::NodeOp node, OpBuilder &b) {
  RankedTensorType type = resultType(node);
  Type element = type.getElementType();
  Signedness signedness = inputSignedness(node);
  SmallVector<Value> operands{input(node, 0)};
  bool hasLow = hasInput(node, 1), hasHigh = hasInput(node, 2);
  if (hasLow)
    operands.push_back(input(node, 1));
  if (hasHigh)
    operands.push_back(input(node, 2));
  // Before opset 11 the bounds are float attributes, of float inputs only;
  // unbounded means the type's own range (an int8 clip must not see INT64_MIN).
  auto bound = [&](OpBuilder &nb, Location loc, StringRef name, bool highest) -> Value {
    if (auto given = dyn_cast_or_null<FloatAttr>(node.attr(name)))
      return scalarConstant(nb, loc, element, given.getValueAsDouble());
    return highest ? highestValue(nb, loc, element, signedness)
                   : lowestValue(nb, loc, element, signedness);
  };
  return SmallVector<Value>{broadcastElementwise(
      b, node.getLoc(), type, operands, [&](OpBuilder &nb, Location loc, ValueRange args) {
        Value low = hasLow ? args[1] : bound(nb, loc, "min", false);
        Value high = hasHigh ? args[hasLow ? 2 : 1] : bound(nb, loc, "max", true);
        return clamp(nb, loc, args[0], low, high, signedness);
      })};
}

FailureOr<SmallVector<Value>> lowerDiv(ir::NodeOp node, OpBuilder &b) {
  bool isUnsigned = inputSignedness(node) == Signedness::Unsigned;
  return pointwise([isUnsigned](OpBuilder &nb, Location loc, ValueRange args) -> Value {
    if (isa<FloatType>(args[0].getType()))
      return nb.create<arith::DivFOp>(loc, args[0], args[1]);
    if (isUnsigned)
      return nb.create<arith::DivUIOp>(loc, args[0], args[1]);
    return nb.create<arith::DivSIOp>(loc, args[0], args[1]);
  })(node, b);
}

FailureOr<SmallVector<Value>> lowerMean(ir::NodeOp node, OpBuilder &b) {
  double count = static_cast<double>(node.getInputs().size());
  return pointwise([count](OpBuilder &nb, Location loc, ValueRange args) -> Value {
    Value sum = fold(add)(nb, loc, args);
    return nb.create<arith::DivFOp>(loc, sum, scalarConstant(nb, loc, sum.getType(), count));
  })(node, b);
}

// Cast and CastLike (whose second input only gives the type, which the
// result already has).
FailureOr<SmallVector<Value>> lowerCast(ir::NodeOp node, OpBuilder &b) {
  Type to = resultType(node).getElementType();
  Signedness from = inputSignedness(node), toSignedness = outputSignedness(node);
  return SmallVector<Value>{
      broadcastElementwise(b, node.getLoc(), resultType(node), {input(node, 0)},
                           [=](OpBuilder &nb, Location loc, ValueRange args) {
                             return convertScalar(nb, loc, args[0], to, from, toSignedness);
                           })};
}

// Shifts of unsigned integers; a shift by the width or more leaves 0, as
// NumPy's does (LLVM's would be poison).
FailureOr<SmallVector<Value>> lowerBitShift(ir::NodeOp node, OpBuilder &b) {
  auto direction = dyn_cast_or_null<StringAttr>(node.attr("direction"));
  if (!direction || (direction.getValue() != "LEFT" && direction.getValue() != "RIGHT"))
    return invalid(node, "direction must be \"LEFT\" or \"RIGHT\"");
  if (inputSignedness(node) != Signedness::Unsigned)
    return invalid(node, "BitShift takes unsigned integers");
  bool left = direction.getValue() == "LEFT";
  return pointwise([left](OpBuilder &nb, Location loc, ValueRange args) -> Value {
    Value x = args[0], amount = args[1];
    unsigned width = x.getType().getIntOrFloatBitWidth();
    Value shifted = left ? nb.create<arith::ShLIOp>(loc, x, amount).getResult()
                         : nb.create<arith::ShRUIOp>(loc, x, amount).getResult();
    Value tooFar = nb.create<arith::CmpIOp>(loc, arith::CmpIPredicate::uge, amount,
                                            scalarConstant(nb, loc, x.getType(), width));
    return select(nb, loc, tooFar, scalarConstant(nb, loc, x.getType(), 0), shifted);
  })(node, b);
}

// The result has the base's type. An integer base raised to an integer
// power multiplies exactly (math.ipowi, wrapping as integers do); to a
// float power it is computed in double and truncated, as NumPy does.
FailureOr<SmallVector<Value>> lowerPow(ir::NodeOp node, OpBuilder &b) {
  Type element = resultType(node).getElementType();
  Signedness baseSigns = inputSignedness(node, 0), exponentSigns = inputSignedness(node, 1);
  return pointwise([=](OpBuilder &nb, Location loc, ValueRange args) -> Value {
    Value base = args[0], exponent = args[1];
    if (isa<FloatType>(element))
      return nb.create<math::PowFOp>(loc, base,
                                     convertScalar(nb, loc, exponent, element, exponentSigns));
    if (!isa<FloatType>(exponent.getType()))
      return nb.create<math::IPowIOp>(
          loc, base, convertScalar(nb, loc, exponent, element, exponentSigns, baseSigns));
    Type f64 = nb.getF64Type();
    Value power = nb.create<math::PowFOp>(loc, convertScalar(nb, loc, base, f64, baseSigns),
                                          convertScalar(nb, loc, exponent, f64));
    return convertScalar(nb, loc, power, element, Signedness::Signed, baseSigns);
  })(node, b);
}

// Models from opset 6 and before give a per-channel slope as [C]; newer
// opsets broadcast numpy-style, so [C] then means the last axis. The
// version converter keeps [C]: when it cannot broadcast, it is per channel.
FailureOr<SmallVector<Value>> lowerPRelu(ir::NodeOp node, OpBuilder &b) {
  Value x = input(node, 0), slope = input(node, 1);
  auto xType = cast<RankedTensorType>(x.getType());
  auto slopeType = cast<RankedTensorType>(slope.getType());
  if (slopeType.getRank() == 1 && xType.getRank() > 2 && slopeType.getDimSize(0) != 1 &&
      slopeType.getDimSize(0) != xType.getShape().back() &&
      slopeType.getDimSize(0) == xType.getDimSize(1)) {
    SmallVector<int64_t> shape{slopeType.getDimSize(0)};
    shape.append(static_cast<size_t>(xType.getRank() - 2), 1);
    slope = reshape(b, node.getLoc(), slope, shape);
  }
  return SmallVector<Value>{
      broadcastElementwise(b, node.getLoc(), resultType(node), {x, slope},
                           [](OpBuilder &nb, Location loc, ValueRange args) {
                             return select(nb, loc, isPositive(nb, loc, args[0]), args[0],
                                           nb.create<arith::MulFOp>(loc, args[1], args[0]));
                           })};
}

// -1, 0 or 1 by the sign of x (zero and NaN are neither above nor below
// zero: they stay as they are).
Value sign(OpBuilder &b, Location loc, ValueRange args, Signedness signedness) {
  Value x = args[0];
  Value zero = constantLike(b, loc, x, 0.0), one = constantLike(b, loc, x, 1.0),
        minusOne = constantLike(b, loc, x, -1.0);
  bool isFloat = isa<FloatType>(x.getType());
  Value positive =
      isFloat ? b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x, zero).getResult()
              : b.create<arith::CmpIOp>(loc, orderPredicate(arith::CmpIPredicate::sgt, signedness),
                                        x, zero)
                    .getResult();
  Value negative =
      isFloat ? b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, x, zero).getResult()
              : b.create<arith::CmpIOp>(loc, orderPredicate(arith::CmpIPredicate::slt, signedness),
                                        x, zero)
                    .getResult();
  return select(b, loc, negative, minusOne, select(b, loc, positive, one, x));
}

FailureOr<SmallVector<Value>> lowerIsInf(ir::NodeOp node, OpBuilder &b) {
  bool positive = node.intAttr("detect_positive", 1) != 0;
  bool negative = node.intAttr("detect_negative", 1) != 0;
  return pointwise([=](OpBuilder &nb, Location loc, ValueRange args) -> Value {
    Value x = args[0];
    Value isPlus = nb.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ, x,
                                            constantLike(nb, loc, x, INFINITY));
    Value isMinus = nb.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ, x,
                                             constantLike(nb, loc, x, -INFINITY));
    Value none = scalarConstant(nb, loc, nb.getI1Type(), 0);
    return nb.create<arith::OrIOp>(loc, positive ? isPlus : none, negative ? isMinus : none);
  })(node, b);
}

// Mod: with fmod = 1 the remainder takes the dividend's sign (C's fmod);
// with fmod = 0 (integers only) the divisor's, as Python's % does.
FailureOr<SmallVector<Value>> lowerMod(ir::NodeOp node, OpBuilder &b) {
  bool fmod = node.intAttr("fmod", 0) != 0;
  bool isFloat = isa<FloatType>(resultType(node).getElementType());
  if (isFloat && !fmod)
    return invalid(node, "a floating-point Mod needs fmod = 1");
  bool isUnsigned = inputSignedness(node) == Signedness::Unsigned;
  return pointwise([fmod, isUnsigned](OpBuilder &nb, Location loc, ValueRange args) -> Value {
    Value x = args[0], y = args[1];
    if (isa<FloatType>(x.getType()))
      return nb.create<arith::RemFOp>(loc, x, y);
    if (isUnsigned)
      return nb.create<arith::RemUIOp>(loc, x, y);
    Value remainder = nb.create<arith::RemSIOp>(loc, x, y);
    if (fmod)
      return remainder;
    Value zero = constantLike(nb, loc, x, 0.0);
    Value nonZero = nb.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, remainder, zero);
    Value remainderNegative =
        nb.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, remainder, zero);
    Value divisorNegative = nb.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, y, zero);
    Value signsDiffer = nb.create<arith::XOrIOp>(loc, remainderNegative, divisorNegative);
    Value adjust = nb.create<arith::AndIOp>(loc, nonZero, signsDiffer);
    return select(nb, loc, adjust, nb.create<arith::AddIOp>(loc, remainder, y), remainder);
  })(node, b);
}

void registerArithmetic() {
  registerLowering("Mod", lowerMod);
  registerLowering("Add", pointwise(fold(add)));
  registerLowering("Sum", pointwise(fold(add)));
  registerLowering("Sub", pointwise(fold(sub)));
  registerLowering("Mul", pointwise(fold(mul)));
  registerLowering("Max", extremum(true));
  registerLowering("Min", extremum(false));
  registerLowering("Div", lowerDiv);
  registerLowering("Mean", lowerMean);
  registerLowering("Pow", lowerPow);
  registerLowering("Cast", lowerCast);
  registerLowering("CastLike", lowerCast);
  registerLowering("BitShift", lowerBitShift);
  registerLowering("Clip", lowerClip);
  registerLowering("Where", pointwise([](OpBuilder &b, Location loc, ValueRange args) {
                     return select(b, loc, args[0], args[1], args[2]);
                   }));
  registerLowering("Equal", compare(arith::CmpFPredicate::OEQ, arith::CmpIPredicate::eq));
  registerLowering("Less", compare(arith::CmpFPredicate::OLT, arith::CmpIPredicate::slt));
  registerLowering("LessOrEqual", compare(arith::CmpFPredicate::OLE, arith::CmpIPredicate::sle));
  registerLowering("Greater", compare(arith::CmpFPredicate::OGT, arith::CmpIPredicate::sgt));
  registerLowering("GreaterOrEqual", compare(arith::CmpFPredicate::OGE, arith::CmpIPredicate::sge));
  registerLowering("And", pointwise([](OpBuilder &b, Location loc, ValueRange args) -> Value {
                     return b.create<arith::AndIOp>(loc, args[0], args[1]);
                   }));
  registerLowering("Or", pointwise([](OpBuilder &b, Location loc, ValueRange args) -> Value {
                     return b.create<arith::OrIOp>(loc, args[0], args[1]);
                   }));
  registerLowering("Xor", pointwise([](OpBuilder &b, Location loc, ValueRange args) -> Value {
                     return b.create<arith::XOrIOp>(loc, args[0], args[1]);
                   }));
  registerLowering("Not", pointwise([](OpBuilder &b, Location loc, ValueRange args) -> Value {
                     return b.create<arith::XOrIOp>(loc, args[0],
                                                    scalarConstant(b, loc, args[0].getType(), 1));
                   }));
}

void registerUnary() {
  registerLowering("Identity", [](ir::NodeOp node, OpBuilder &) -> FailureOr<SmallVector<Value>> {
    return SmallVector<Value>{input(node, 0)};
  });
  registerLowering("Neg", pointwise([](OpBuilder &b, Location loc, ValueRange args) -> Value {
                     if (isa<FloatType>(args[0].getType()))
                       return b.create<arith::NegFOp>(loc, args[0]);
                     return b.create<arith::SubIOp>(
                         loc, scalarConstant(b, loc, args[0].getType(), 0), args[0]);
                   }));
  registerLowering("Abs", pointwiseFor([](ir::NodeOp node) -> ScalarBody {
                     bool isUnsigned = inputSignedness(node) == Signedness::Unsigned;
                     return [isUnsigned](OpBuilder &b, Location loc, ValueRange args) -> Value {
                       if (isa<FloatType>(args[0].getType()))
                         return b.create<math::AbsFOp>(loc, args[0]);
                       if (isUnsigned)
                         return args[0];
                       return b.create<math::AbsIOp>(loc, args[0]);
                     };
                   }));
  registerLowering("Exp", pointwise(unaryFloat<math::ExpOp>()));
  registerLowering("Log", pointwise(unaryFloat<math::LogOp>()));
  registerLowering("Sqrt", pointwise(unaryFloat<math::SqrtOp>()));
  registerLowering("Tanh", pointwise(unaryFloat<math::TanhOp>()));
  registerLowering("Erf", pointwise(unaryFloat<math::ErfOp>()));
  registerLowering("Sin", pointwise(unaryFloat<math::SinOp>()));
  registerLowering("Cos", pointwise(unaryFloat<math::CosOp>()));
  registerLowering("Tan", pointwise(unaryFloat<math::TanOp>()));
  registerLowering("Asin", pointwise(unaryFloat<math::AsinOp>()));
  registerLowering("Acos", pointwise(unaryFloat<math::AcosOp>()));
  registerLowering("Atan", pointwise(unaryFloat<math::AtanOp>()));
  registerLowering("Sinh", pointwise(unaryFloat<math::SinhOp>()));
  registerLowering("Cosh", pointwise(unaryFloat<math::CoshOp>()));
  registerLowering("Asinh", pointwise(unaryFloat<math::AsinhOp>()));
  registerLowering("Acosh", pointwise(unaryFloat<math::AcoshOp>()));
  registerLowering("Atanh", pointwise(unaryFloat<math::AtanhOp>()));
  // ONNX rounds halves to even, as numpy.round does.
  registerLowering("Round", pointwise(unaryFloat<math::RoundEvenOp>()));
  registerLowering("Sign", pointwiseFor([](ir::NodeOp node) -> ScalarBody {
                     Signedness signedness = inputSignedness(node);
                     return [signedness](OpBuilder &b, Location loc, ValueRange args) {
                       return sign(b, loc, args, signedness);
                     };
                   }));
  registerLowering("IsNaN", pointwise([](OpBuilder &b, Location loc, ValueRange args) -> Value {
                     return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNO, args[0],
                                                    args[0]);
                   }));
  registerLowering("IsInf", lowerIsInf);
  registerLowering("Floor", pointwise(unaryFloat<math::FloorOp>()));
  registerLowering("Ceil", pointwise(unaryFloat<math::CeilOp>()));
  registerLowering(
      "Reciprocal", pointwise([](OpBuilder &b, Location loc, ValueRange args) -> Value {
        return b.create<arith::DivFOp>(loc, constantLike(b, loc, args[0], 1.0), args[0]);
      }));
}

void registerActivations() {
  // Written as a clamp from below, so NaN stays NaN (the gates then report
  // it) and the kernels' fused clamp takes it over.
  registerLowering("Relu", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp) {
                     Value zero = constantLike(b, loc, x, 0.0);
                     Value below = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, x, zero);
                     return select(b, loc, below, zero, x);
                   }));
  registerLowering("LeakyRelu", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp n) {
                     Value alpha = attrConstant(b, loc, x, n, "alpha", 0.01);
                     return select(b, loc, isPositive(b, loc, x), x,
                                   b.create<arith::MulFOp>(loc, alpha, x));
                   }));
  registerLowering("Sigmoid", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp) {
                     return sigmoid(b, loc, x);
                   }));
  registerLowering("Elu", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp n) {
                     Value alpha = attrConstant(b, loc, x, n, "alpha", 1.0);
                     Value negative = b.create<arith::MulFOp>(
                         loc, alpha,
                         b.create<arith::SubFOp>(loc, b.create<math::ExpOp>(loc, x),
                                                 constantLike(b, loc, x, 1.0)));
                     return select(b, loc, isPositive(b, loc, x), x, negative);
                   }));
  registerLowering("Selu", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp n) {
                     Value alpha = attrConstant(b, loc, x, n, "alpha", 1.67326319217681884765625);
                     Value gamma = attrConstant(b, loc, x, n, "gamma", 1.05070102214813232421875);
                     Value negative = b.create<arith::MulFOp>(
                         loc, alpha,
                         b.create<arith::SubFOp>(loc, b.create<math::ExpOp>(loc, x),
                                                 constantLike(b, loc, x, 1.0)));
                     return b.create<arith::MulFOp>(
                         loc, gamma, select(b, loc, isPositive(b, loc, x), x, negative));
                   }));
  registerLowering("Softplus", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp) {
                     return b.create<math::Log1pOp>(loc, b.create<math::ExpOp>(loc, x));
                   }));
  registerLowering("Softsign", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp) {
                     Value one = constantLike(b, loc, x, 1.0);
                     return b.create<arith::DivFOp>(
                         loc, x, b.create<arith::AddFOp>(loc, one, b.create<math::AbsFOp>(loc, x)));
                   }));
  registerLowering(
      "HardSigmoid", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp n) {
        Value alpha = attrConstant(b, loc, x, n, "alpha", 0.2);
        Value beta = attrConstant(b, loc, x, n, "beta", 0.5);
        Value linear = b.create<arith::AddFOp>(loc, b.create<arith::MulFOp>(loc, alpha, x), beta);
        return clamp(b, loc, linear, constantLike(b, loc, x, 0.0), constantLike(b, loc, x, 1.0));
      }));
  registerLowering("HardSwish", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp) {
                     Value linear = b.create<arith::AddFOp>(
                         loc, b.create<arith::MulFOp>(loc, constantLike(b, loc, x, 1.0 / 6.0), x),
                         constantLike(b, loc, x, 0.5));
                     Value gate = clamp(b, loc, linear, constantLike(b, loc, x, 0.0),
                                        constantLike(b, loc, x, 1.0));
                     return b.create<arith::MulFOp>(loc, x, gate);
                   }));
  registerLowering(
      "Gelu", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp) {
        Value half = constantLike(b, loc, x, 0.5);
        Value scaled = b.create<arith::MulFOp>(loc, x, constantLike(b, loc, x, M_SQRT1_2));
        Value cdf = b.create<arith::AddFOp>(loc, constantLike(b, loc, x, 1.0),
                                            b.create<math::ErfOp>(loc, scaled));
        return b.create<arith::MulFOp>(loc, b.create<arith::MulFOp>(loc, half, x), cdf);
      }));
  registerLowering(
      "ThresholdedRelu", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp n) {
        Value alpha = attrConstant(b, loc, x, n, "alpha", 1.0);
        Value above = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x, alpha);
        return select(b, loc, above, x, constantLike(b, loc, x, 0.0));
      }));
  // max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).
  registerLowering("Celu", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp n) {
                     Value alpha = attrConstant(b, loc, x, n, "alpha", 1.0);
                     Value zero = constantLike(b, loc, x, 0.0);
                     Value expm1 = b.create<arith::SubFOp>(
                         loc, b.create<math::ExpOp>(loc, b.create<arith::DivFOp>(loc, x, alpha)),
                         constantLike(b, loc, x, 1.0));
                     Value negative = b.create<arith::MulFOp>(loc, alpha, expm1);
                     return b.create<arith::AddFOp>(
                         loc, b.create<arith::MaximumFOp>(loc, zero, x),
                         b.create<arith::MinimumFOp>(loc, zero, negative));
                   }));
  // x + bias below -lambd, x - bias above lambd, 0 between.
  registerLowering("Shrink", activation([](OpBuilder &b, Location loc, Value x, ir::NodeOp n) {
                     Value lambd = attrConstant(b, loc, x, n, "lambd", 0.5);
                     Value bias = attrConstant(b, loc, x, n, "bias", 0.0);
                     Value below = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, x,
                                                           b.create<arith::NegFOp>(loc, lambd));
                     Value above =
                         b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x, lambd);
                     Value inside = select(b, loc, above, b.create<arith::SubFOp>(loc, x, bias),
                                           constantLike(b, loc, x, 0.0));
                     return select(b, loc, below, b.create<arith::AddFOp>(loc, x, bias), inside);
                   }));
  registerLowering("PRelu", lowerPRelu);
  registerLowering("Dropout", [](ir::NodeOp node, OpBuilder &b) -> FailureOr<SmallVector<Value>> {
    if (hasInput(node, 2)) {
      // Training mode with a ratio of 0 drops nothing (torch exports
      // Swin's attention dropout so): only a real ratio is random.
      auto training = constantInts(input(node, 2));
      auto ratio = hasInput(node, 1) ? constantFloats(input(node, 1))
                                     : std::optional<SmallVector<double>>(SmallVector<double>{0.5});
      bool dropsNothing = ratio && ratio->size() == 1 && (*ratio)[0] == 0.0;
      if (!training || training->size() != 1 || ((*training)[0] != 0 && !dropsNothing))
        return unsupported(node, "training mode (random dropout)");
    }
    // Inference: the identity, and an all-true mask if asked for.
    SmallVector<Value> results{input(node, 0)};
    if (node.getNumResults() > 1) {
      RankedTensorType maskType = resultType(node, 1);
      results.push_back(
          filledTensor(b, node.getLoc(), maskType,
                       scalarConstant(b, node.getLoc(), maskType.getElementType(), 1)));
    }
    return results;
  });
}

} // namespace

void registerElementwiseLowerings() {
  registerArithmetic();
  registerUnary();
  registerActivations();
}

} // namespace graceful::compiler::lowering
