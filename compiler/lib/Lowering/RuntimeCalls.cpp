#include "RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace graceful::compiler {

using namespace mlir;

namespace {

MemRefType anyLayout(MemRefType type) {
  int64_t dynamic = ShapedType::kDynamic;
  SmallVector<int64_t> sizes(type.getRank(), dynamic);
  return MemRefType::get(sizes, type.getElementType(),
                         StridedLayoutAttr::get(type.getContext(), dynamic, sizes));
}

bool isZero(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  auto number = constant ? dyn_cast<FloatAttr>(constant.getValue()) : FloatAttr();
  return number && number.getValue().isPosZero();
}

bool yieldsZero(Block &body) {
  Operation *yield = body.getTerminator();
  return yield->getNumOperands() == 1 && isZero(yield->getOperand(0));
}

// True when `op` or an op nested in it has an operand viewing `root` for
// which `matches(nested op, operand)` holds.
bool anyUseOf(Operation *op, Value root, llvm::function_ref<bool(Operation *, Value)> matches) {
  WalkResult result = op->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (isa<BaseMemRefType>(operand.getType()) && rootBuffer(operand) == root &&
          matches(nested, operand))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

// True when `op` or an op nested in it has an operand viewing `root`.
bool touches(Operation *op, Value root) {
  return anyUseOf(op, root, [](Operation *, Value) { return true; });
}

} // namespace

Value rootBuffer(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

bool zeroFills(Operation *op, Value buffer) {
  if (auto fill = dyn_cast<linalg::FillOp>(op))
    return fill.getDpsInits()[0] == buffer && isZero(fill.getDpsInputs()[0]);
  if (auto map = dyn_cast<linalg::MapOp>(op))
    return map.getInputs().empty() && map.getInit() == buffer &&
           yieldsZero(map.getMapper().front());
  auto generic = dyn_cast<linalg::GenericOp>(op);
  return generic && generic.getNumDpsInputs() == 0 && generic.getNumDpsInits() == 1 &&
         generic.getDpsInits()[0] == buffer && generic.getIndexingMapsArray()[0].isIdentity() &&
         yieldsZero(*generic.getBody());
}

bool mayChange(Operation *op, Value root) {
  return anyUseOf(op, root, [](Operation *nested, Value operand) {
    auto effects = dyn_cast<MemoryEffectOpInterface>(nested);
    return !effects || effects.getEffectOnValue<MemoryEffects::Write>(operand) ||
           effects.getEffectOnValue<MemoryEffects::Free>(operand);
  });
}

bool eraseZeroFillBefore(Operation *op, Value output) {
  Value root = rootBuffer(output);
  auto rootType = dyn_cast<MemRefType>(root.getType());
  auto outputType = dyn_cast<MemRefType>(output.getType());
  if (!rootType || !outputType || !rootType.hasStaticShape() || !outputType.hasStaticShape() ||
      rootType.getNumElements() != outputType.getNumElements())
    return false;
  for (Operation *previous = op->getPrevNode(); previous; previous = previous->getPrevNode()) {
    // Views only name the buffer; they neither read nor write it.
    if (isa<ViewLikeOpInterface>(previous) || !touches(previous, root))
      continue;
    if (!zeroFills(previous, root))
      return false;
    previous->erase();
    return true;
  }
  return false;
}

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
