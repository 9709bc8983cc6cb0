#include "Lowering.h"
#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/StringSet.h"

#include <mutex>

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULLOWERONNX
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

void registerAllLowerings() {
  static std::once_flag once;
  std::call_once(once, [] {
    lowering::registerElementwiseLowerings();
    lowering::registerLinearLowerings();
    lowering::registerWindowLowerings();
    lowering::registerShapeLowerings();
    lowering::registerIndexingLowerings();
    lowering::registerLossLowerings();
    lowering::registerResizeLowerings();
    lowering::registerRecurrentLowerings();
    lowering::registerQuantizeLowerings();
    lowering::registerGridSampleLowerings();
    lowering::registerSpectralLowerings();
    lowering::registerDeterminantLowerings();
    lowering::registerRoiAlignLowerings();
    lowering::registerTfIdfLowerings();
  });
}

std::string typeName(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

// Types the generated code handles: static shapes of integers, booleans
// and floats.
LogicalResult checkType(ir::NodeOp node, Type type) {
  if (isa<NoneType>(type))
    return success();
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return lowering::unsupported(node, "a value has no static shape when compiling");
  Type element = tensor.getElementType();
  if (element.isF16() || element.isBF16())
    return lowering::unsupported(node, "element type " + Twine(typeName(element)));
  return success();
}

// The ops whose lowerings read the signedness of their integers (or for
// which it does not matter); any other refuses unsigned values rather than
// treat them as signed.
bool takesUnsigned(StringRef opType) {
  static const llvm::StringSet<> ops = {
      // Signedness decides the result.
      "Div", "Mod", "Max", "Min", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Cast",
      "CastLike", "Pow", "BitShift", "Clip", "Abs", "Sign", "MaxPool", "GlobalMaxPool", "ReduceMax",
      "ReduceMin", "ArgMax", "ArgMin", "ScatterElements", "ScatterND", "QuantizeLinear",
      "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearMatMul",
      "QLinearConv",
      // Wrapping arithmetic and moving data are the same for either.
      "Add", "Sub", "Mul", "Sum", "Equal", "Where", "Identity", "Reshape", "Flatten", "Squeeze",
      "Unsqueeze", "Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements", "GatherND",
      "Expand", "Tile", "Pad", "Shape", "Size", "ConstantOfShape", "DepthToSpace", "SpaceToDepth",
      "ReverseSequence", "ReduceSum", "ReduceProd", "Constant"};
  return ops.contains(opType);
}

LogicalResult lowerNode(ir::NodeOp node) {
  if (!node.getDomain().empty() && node.getDomain() != "ai.onnx")
    return lowering::unsupported(node, "domain '" + node.getDomain() + "'");
  const lowering::LowerFn *lower = lowering::findLowering(node.getOpType());
  if (lower == nullptr)
    return lowering::unsupported(node, "the compiler has no lowering for this op type");
  for (Type type : node->getOperandTypes())
    if (failed(checkType(node, type)))
      return failure();
  for (Type type : node->getResultTypes())
    if (failed(checkType(node, type)))
      return failure();
  if (lowering::hasUnsignedValues(node) && !takesUnsigned(node.getOpType()))
    return lowering::unsupported(node, "unsigned integers");
  OpBuilder builder(node);
  FailureOr<SmallVector<Value>> results = (*lower)(node, builder);
  if (failed(results))
    return failure();
  if (results->size() != node.getNumResults())
    return node.emitError() << "internal: lowering produced " << results->size() << " of "
                            << node.getNumResults() << " outputs";
  if (auto halves = node->getAttrOfType<ArrayAttr>(lowering::kHalfOutputsAttr))
    for (auto [replacement, half] : llvm::zip(*results, halves.getAsValueRange<TypeAttr>()))
      if (half.isF16() || half.isBF16())
        replacement = lowering::roundToHalf(builder, node.getLoc(), replacement, half);
  for (auto [result, replacement] : llvm::zip(node.getResults(), *results)) {
    if (result.getType() != replacement.getType())
      return node.emitError() << "internal: lowering produced " << replacement.getType() << " for "
                              << result.getType();
    result.replaceAllUsesWith(replacement);
  }
  node.erase();
  return success();
}

struct LowerOnnxPass : impl::GracefulLowerOnnxBase<LowerOnnxPass> {
  void runOnOperation() override {
    registerAllLowerings();
    ModuleOp module = getOperation();
    for (auto constant : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      for (Operation &op : llvm::make_early_inc_range(constant.getBody().getOps()))
        if (auto onnxConstant = dyn_cast<ir::ConstantOp>(op)) {
          OpBuilder builder(onnxConstant);
          auto replacement = builder.create<arith::ConstantOp>(
              onnxConstant.getLoc(), cast<TypedAttr>(onnxConstant.getValue()));
          onnxConstant.replaceAllUsesWith(replacement.getResult());
          onnxConstant.erase();
        }
    SmallVector<ir::NodeOp> nodes;
    module.walk([&](ir::NodeOp node) { nodes.push_back(node); });
    for (ir::NodeOp node : nodes)
      if (failed(lowerNode(node)))
        return signalPassFailure();
    module.walk([](ir::NoneOp none) {
      if (none->use_empty())
        none.erase();
    });
  }
};

} // namespace
} // namespace graceful::compiler
