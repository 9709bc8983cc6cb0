#include "RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace graceful::compiler {

using namespace mlir;

namespace {

MemRefType anyLayout(MemRefType type) {
  int64_t dynamic = ShapedType::kDynamic;
  SmallVector<int64_t> sizes(type.getRank(), dynamic);
  return MemRefType::get(sizes, type.getElementType(),
                         StridedLayoutAttr::get(type.getContext(), dynamic, sizes));
}

} // namespace

bool isF32Buffer(Value value, int64_t rank) {
  auto type = dyn_cast<MemRefType>(value.getType());
  return type && type.getElementType().isF32() && type.getRank() == rank;
}

void callRuntime(OpBuilder &builder, ModuleOp module, Location loc, StringRef name,
                 ValueRange buffers, ArrayRef<int64_t> scalars) {
  SmallVector<Value> operands;
  for (Value buffer : buffers)
    operands.push_back(
        builder.create<memref::CastOp>(loc, anyLayout(cast<MemRefType>(buffer.getType())), buffer));
  for (int64_t scalar : scalars)
    operands.push_back(builder.create<arith::ConstantIntOp>(loc, scalar, 64));
  if (!module.lookupSymbol<func::FuncOp>(name)) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(module.getBody());
    auto callee = builder.create<func::FuncOp>(
        module.getLoc(), name, builder.getFunctionType(ValueRange(operands).getTypes(), {}));
    callee.setPrivate();
    callee->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  }
  builder.create<func::CallOp>(loc, name, TypeRange{}, operands);
}

} // namespace graceful::compiler
