// float16 and bfloat16 to and from float32. bfloat16 is the high half of a
// float32, so it converts with integer operations that need no CPU support
// (LLVM would call a runtime function missing from older libgcc).
#include "Lowering.h"
#include "graceful/compiler/OnnxTypes.h"

#include <cstring>

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

Value i32Constant(OpBuilder &b, Location loc, uint32_t value) {
  return b.create<arith::ConstantOp>(loc, b.getI32IntegerAttr(static_cast<int32_t>(value)));
}

// The float32 bits of x rounded to nearest even at bfloat16's precision
// (low 16 bits zero); NaN stays a quiet NaN.
Value bfloat16Bits(OpBuilder &b, Location loc, Value x) {
  Value bits = b.create<arith::BitcastOp>(loc, b.getI32Type(), x);
  Value lowestKept = b.create<arith::AndIOp>(
      loc, b.create<arith::ShRUIOp>(loc, bits, i32Constant(b, loc, 16)), i32Constant(b, loc, 1));
  Value bias = b.create<arith::AddIOp>(loc, lowestKept, i32Constant(b, loc, 0x7fff));
  Value highHalf = i32Constant(b, loc, 0xffff0000u);
  Value rounded = b.create<arith::AndIOp>(loc, b.create<arith::AddIOp>(loc, bits, bias), highHalf);
  Value quiet = b.create<arith::AndIOp>(
      loc, b.create<arith::OrIOp>(loc, bits, i32Constant(b, loc, 0x00400000)), highHalf);
  Value isNaN = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNO, x, x);
  return b.create<arith::SelectOp>(loc, isNaN, quiet, rounded);
}

Value widenScalar(OpBuilder &b, Location loc, Value x) {
  if (x.getType().isF16())
    return b.create<arith::ExtFOp>(loc, b.getF32Type(), x);
  Value bits = b.create<arith::ExtUIOp>(loc, b.getI32Type(),
                                        b.create<arith::BitcastOp>(loc, b.getI16Type(), x));
  return b.create<arith::BitcastOp>(loc, b.getF32Type(),
                                    b.create<arith::ShLIOp>(loc, bits, i32Constant(b, loc, 16)));
}

Value narrowScalar(OpBuilder &b, Location loc, Value x, Type half) {
  if (half.isF16())
    return b.create<arith::TruncFOp>(loc, half, x);
  Value high = b.create<arith::ShRUIOp>(loc, bfloat16Bits(b, loc, x), i32Constant(b, loc, 16));
  return b.create<arith::BitcastOp>(loc, half,
                                    b.create<arith::TruncIOp>(loc, b.getI16Type(), high));
}

} // namespace

Value convertHalfTensor(OpBuilder &b, Location loc, Value value, Type half) {
  auto type = cast<RankedTensorType>(value.getType());
  auto resultType = type.clone(half ? half : b.getF32Type());
  return broadcastElementwise(
      b, loc, resultType, {value}, [half](OpBuilder &nb, Location l, ValueRange args) {
        return half ? narrowScalar(nb, l, args[0], half) : widenScalar(nb, l, args[0]);
      });
}

Value roundToHalf(OpBuilder &b, Location loc, Value x, Type half) {
  return broadcastElementwise(b, loc, cast<RankedTensorType>(x.getType()), {x},
                              [half](OpBuilder &nb, Location l, ValueRange args) -> Value {
                                if (half.isF16()) {
                                  Value narrow = nb.create<arith::TruncFOp>(l, half, args[0]);
                                  return nb.create<arith::ExtFOp>(l, nb.getF32Type(), narrow);
                                }
                                return nb.create<arith::BitcastOp>(l, nb.getF32Type(),
                                                                   bfloat16Bits(nb, l, args[0]));
                              });
}

FailureOr<ElementsAttr> widenHalfElements(ElementsAttr value) {
  auto bytes = rawElementBytes(value);
  if (!bytes)
    return failure();
  const llvm::fltSemantics &semantics =
      value.getElementType().isF16() ? llvm::APFloat::IEEEhalf() : llvm::APFloat::BFloat();
  SmallVector<float> floats;
  for (size_t at = 0; at + 2 <= bytes->size(); at += 2) {
    uint16_t bits;
    std::memcpy(&bits, bytes->data() + at, 2);
    floats.push_back(llvm::APFloat(semantics, llvm::APInt(16, bits)).convertToFloat());
  }
  auto type = cast<ShapedType>(value.getShapedType()).clone(Float32Type::get(value.getContext()));
  return cast<ElementsAttr>(DenseElementsAttr::get(type, ArrayRef<float>(floats)));
}

} // namespace graceful::compiler::lowering
