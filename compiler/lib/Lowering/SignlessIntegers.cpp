#include "Lowering.h"
#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULSIGNLESSINTEGERS
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

bool isUnsignedTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.getElementType().isUnsignedInteger();
}

// The same type with a signless element type of the same width.
Type signless(Type type) {
  if (!isUnsignedTensor(type))
    return type;
  auto tensor = cast<RankedTensorType>(type);
  return tensor.clone(
      IntegerType::get(type.getContext(), tensor.getElementType().getIntOrFloatBitWidth()));
}

// Which of `types` are unsigned, or nothing when none is.
DenseBoolArrayAttr unsignedFlags(MLIRContext *context, TypeRange types) {
  SmallVector<bool> flags;
  for (Type type : types)
    flags.push_back(isUnsignedTensor(type));
  if (!llvm::is_contained(flags, true))
    return {};
  return DenseBoolArrayAttr::get(context, flags);
}

void markNode(ir::NodeOp node) {
  if (auto flags = unsignedFlags(node.getContext(), node->getOperandTypes()))
    node->setAttr(lowering::kUnsignedInputsAttr, flags);
  if (auto flags = unsignedFlags(node.getContext(), node->getResultTypes()))
    node->setAttr(lowering::kUnsignedOutputsAttr, flags);
}

// The same bytes under the signless type (a blob is shared, not copied).
ElementsAttr signlessValue(ElementsAttr value) {
  auto type = cast<ShapedType>(signless(value.getShapedType()));
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value))
    return DenseResourceElementsAttr::get(type, resource.getRawHandle());
  return cast<DenseElementsAttr>(value).bitcast(type.getElementType());
}

struct SignlessIntegersPass : impl::GracefulSignlessIntegersBase<SignlessIntegersPass> {
  void runOnOperation() override {
    for (auto function : getOperation().getOps<func::FuncOp>()) {
      function.walk([](ir::NodeOp node) { markNode(node); });
      function.walk([](Operation *op) {
        if (auto constant = dyn_cast<ir::ConstantOp>(op);
            constant && isUnsignedTensor(constant.getType()))
          constant.setValueAttr(signlessValue(constant.getValue()));
        for (Value result : op->getResults())
          result.setType(signless(result.getType()));
        for (Region &region : op->getRegions())
          for (BlockArgument argument : region.getArguments())
            argument.setType(signless(argument.getType()));
      });
      FunctionType type = function.getFunctionType();
      auto retype = [](TypeRange types) {
        return llvm::to_vector(llvm::map_range(types, signless));
      };
      function.setFunctionType(
          FunctionType::get(&getContext(), retype(type.getInputs()), retype(type.getResults())));
    }
  }
};

} // namespace
} // namespace graceful::compiler
