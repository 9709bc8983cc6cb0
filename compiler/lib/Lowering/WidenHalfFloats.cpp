#include "Lowering.h"
#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULWIDENHALFFLOATS
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

bool isHalf(Type element) { return element.isF16() || element.isBF16(); }

bool isHalfTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && isHalf(tensor.getElementType());
}

Type widened(Type type) {
  if (!isHalfTensor(type))
    return type;
  return cast<RankedTensorType>(type).clone(Float32Type::get(type.getContext()));
}

// Which half type each output had (float32 where it was no half), or
// nothing when none was.
ArrayAttr halfOutputs(ir::NodeOp node) {
  SmallVector<Attribute> types;
  bool any = false;
  for (Type type : node->getResultTypes()) {
    any |= isHalfTensor(type);
    types.push_back(TypeAttr::get(isHalfTensor(type) ? cast<RankedTensorType>(type).getElementType()
                                                     : Float32Type::get(node.getContext())));
  }
  return any ? ArrayAttr::get(node.getContext(), types) : ArrayAttr();
}

struct WidenHalfFloatsPass : impl::GracefulWidenHalfFloatsBase<WidenHalfFloatsPass> {
  void runOnOperation() override {
    for (auto function : getOperation().getOps<func::FuncOp>())
      if (failed(widen(function)))
        return signalPassFailure();
  }

  LogicalResult widen(func::FuncOp function) {
    WalkResult walk = function.walk([](Operation *op) -> WalkResult {
      if (auto node = dyn_cast<ir::NodeOp>(op))
        if (ArrayAttr outputs = halfOutputs(node))
          node->setAttr(lowering::kHalfOutputsAttr, outputs);
      if (auto constant = dyn_cast<ir::ConstantOp>(op);
          constant && isHalfTensor(constant.getType())) {
        auto value = lowering::widenHalfElements(constant.getValue());
        if (failed(value))
          return constant.emitError() << "internal: a half-precision constant has no bytes";
        constant.setValueAttr(*value);
      }
      for (Value result : op->getResults())
        result.setType(widened(result.getType()));
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    // The signature keeps its half types (the caller's buffers hold
    // halves): arguments widen on entry, results narrow before return.
    Block &entry = function.getBody().front();
    OpBuilder builder = OpBuilder::atBlockBegin(&entry);
    for (BlockArgument argument : entry.getArguments()) {
      if (!isHalfTensor(argument.getType()))
        continue;
      Value wide = lowering::convertHalfTensor(builder, function.getLoc(), argument);
      argument.replaceAllUsesExcept(wide, wide.getDefiningOp());
    }
    auto ret = cast<func::ReturnOp>(entry.getTerminator());
    builder.setInsertionPoint(ret);
    for (OpOperand &operand : ret->getOpOperands()) {
      Type declared = function.getFunctionType().getResult(operand.getOperandNumber());
      if (isHalfTensor(declared))
        operand.set(lowering::convertHalfTensor(builder, function.getLoc(), operand.get(),
                                                cast<RankedTensorType>(declared).getElementType()));
    }
    return success();
  }
};

} // namespace
} // namespace graceful::compiler
