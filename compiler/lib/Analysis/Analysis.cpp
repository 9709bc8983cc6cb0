#include "graceful/compiler/Analysis.h"

#include "graceful/compiler/OnnxDialect.h"
#include "graceful/support/error.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"

namespace graceful::compiler {

using namespace mlir;

namespace {

// Figures saturate at kOverflow: a model declaring dims whose product
// does not fit int64 must exceed every budget, not wrap around below it.
int64_t times(int64_t a, int64_t b) {
  int64_t product = 0;
  if (a == kOverflow || b == kOverflow || __builtin_mul_overflow(a, b, &product))
    return kOverflow;
  return product;
}

int64_t plus(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (a == kOverflow || b == kOverflow || __builtin_add_overflow(a, b, &sum))
    return kOverflow;
  return sum;
}

// A dimension the model leaves open counts as 1.
int64_t elementCount(ShapedType type) {
  if (!type.hasRank())
    return 1;
  int64_t count = 1;
  for (int64_t dim : type.getShape())
    count = times(count, ShapedType::isDynamic(dim) ? 1 : dim);
  return count;
}

int64_t byteSize(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped)
    return 0;
  Type element = shaped.getElementType();
  int64_t width = element.isIntOrFloat() ? (element.getIntOrFloatBitWidth() + 7) / 8 : 0;
  return times(elementCount(shaped), width);
}

int64_t dimOf(Value value, int64_t index) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || index >= type.getRank())
    return 1;
  int64_t dim = type.getDimSize(index < 0 ? type.getRank() + index : index);
  return ShapedType::isDynamic(dim) ? 1 : dim;
}

int64_t rankOf(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type ? type.getRank() : 0;
}

int64_t outputElements(ir::NodeOp node) {
  return node.getNumResults() == 0 ? 0
                                   : elementCount(cast<ShapedType>(node.getResult(0).getType()));
}

// Multiply-accumulates of one node; 0 for ops that do no products.
int64_t nodeMacs(ir::NodeOp node) {
  StringRef op = node.getOpType();
  auto inputs = node.getInputs();
  if (op == "Conv" && inputs.size() >= 2) {
    // Each output element sums (Cin/group) * kernel-area products.
    Value weight = inputs[1];
    int64_t perOutput = 1;
    for (int64_t i = 1; i < rankOf(weight); ++i)
      perOutput = times(perOutput, dimOf(weight, i));
    return times(outputElements(node), perOutput);
  }
  if (op == "ConvTranspose" && inputs.size() >= 2) {
    // Each input element scatters into (Cout/group) * kernel-area outputs.
    Value input = inputs[0], weight = inputs[1];
    int64_t perInput = 1;
    for (int64_t i = 1; i < rankOf(weight); ++i)
      perInput = times(perInput, dimOf(weight, i));
    return times(elementCount(cast<ShapedType>(input.getType())), perInput);
  }
  if (op == "Gemm" && !inputs.empty()) {
    int64_t k = node.intAttr("transA", 0) ? dimOf(inputs[0], 0) : dimOf(inputs[0], 1);
    return times(outputElements(node), k);
  }
  if (op == "MatMul" && !inputs.empty())
    return times(outputElements(node), dimOf(inputs[0], -1));
  return 0;
}

bool isFloatTensor(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  return shaped && isa<FloatType>(shaped.getElementType());
}

std::string typeName(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

bool isIdentity(Operation *op) {
  auto node = dyn_cast<ir::NodeOp>(op);
  return node && node.getOpType() == "Identity";
}

// Classifies one weight tensor by the ops that read it (through Identity).
void countWeight(Value weight, ModelAnalysis &analysis) {
  auto type = cast<ShapedType>(weight.getType());
  bool read = false, runningStatistic = false;
  for (OpOperand &use : weight.getUses()) {
    if (isIdentity(use.getOwner()))
      continue;
    read = true;
    auto node = dyn_cast<ir::NodeOp>(use.getOwner());
    runningStatistic = runningStatistic || (node && node.getOpType() == "BatchNormalization" &&
                                            use.getOperandNumber() >= 3);
  }
  if (!read || !isFloatTensor(type) || type.getRank() == 0)
    return;
  int64_t &count = runningStatistic ? analysis.buffers : analysis.parameters;
  count = plus(count, elementCount(type));
}

// Exporters store equal initializers once and fan them out through Identity
// nodes (torch does, for freshly initialised BatchNorm layers); each
// Identity output is a tensor of its own, as it was in the framework.
void countParameters(func::FuncOp function, ModelAnalysis &analysis) {
  function.walk([&](ir::ConstantOp constant) {
    analysis.weightBytes = plus(analysis.weightBytes, byteSize(constant.getType()));
    SmallVector<Value> pending{constant.getResult()};
    while (!pending.empty()) {
      Value weight = pending.pop_back_val();
      countWeight(weight, analysis);
      for (Operation *user : weight.getUsers())
        if (isIdentity(user))
          pending.push_back(user->getResult(0));
    }
  });
}

// Liveness over the node order: a value is alive from its definition (the
// start, for graph inputs) to its last use (the end, for graph outputs).
int64_t peakActivationBytes(func::FuncOp function) {
  Block &body = function.getBody().front();
  llvm::DenseMap<Operation *, int64_t> position;
  int64_t index = 0;
  for (Operation &op : body)
    position[&op] = index++;
  int64_t end = index;
  std::vector<int64_t> delta(static_cast<size_t>(end) + 2, 0);
  bool overflow = false;
  auto track = [&](Value value, int64_t from) {
    int64_t last = from;
    for (Operation *user : value.getUsers())
      last = std::max(last, isa<func::ReturnOp>(user) ? end : position.lookup(user));
    int64_t bytes = byteSize(value.getType());
    overflow = overflow || bytes == kOverflow;
    delta[static_cast<size_t>(from)] = plus(delta[static_cast<size_t>(from)], bytes);
    delta[static_cast<size_t>(last) + 1] -= bytes == kOverflow ? 0 : bytes;
  };
  for (BlockArgument argument : body.getArguments())
    track(argument, 0);
  for (Operation &op : body)
    if (isa<ir::NodeOp>(op))
      for (Value result : op.getResults())
        track(result, position[&op]);
  if (overflow)
    return kOverflow;
  int64_t alive = 0, peak = 0;
  for (int64_t step : delta) {
    alive = step < 0 ? alive + step : plus(alive, step);
    peak = std::max(peak, alive);
  }
  return peak;
}

void listDynamicDimensions(func::FuncOp function, ModelAnalysis &analysis) {
  for (BlockArgument argument : function.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(argument.getType());
    DictionaryAttr attributes = function.getArgAttrDict(argument.getArgNumber());
    auto name = attributes ? attributes.getAs<StringAttr>("onnx.name") : StringAttr();
    auto params = attributes ? attributes.getAs<ArrayAttr>("onnx.dim_params") : ArrayAttr();
    std::string input = name ? name.str() : "#" + std::to_string(argument.getArgNumber());
    if (!type) {
      analysis.dynamicDimensions.push_back("input '" + input + "' has no fixed rank");
      continue;
    }
    for (int64_t i = 0; i < type.getRank(); ++i) {
      if (!type.isDynamicDim(i))
        continue;
      std::string text = "input '" + input + "' dim " + std::to_string(i);
      if (params && i < static_cast<int64_t>(params.size()) &&
          !cast<StringAttr>(params[i]).getValue().empty())
        text += " (" + cast<StringAttr>(params[i]).str() + ")";
      analysis.dynamicDimensions.push_back(text);
    }
  }
}

} // namespace

llvm::Expected<ModelAnalysis> analyzeModule(ModuleOp module) {
  auto function = module.lookupSymbol<func::FuncOp>("main");
  if (!function || function.getBody().empty())
    return makeError(ErrorKind::BadInput, "analysis: the module has no func.func @main body");
  ModelAnalysis analysis;
  if (auto opsets = module->getAttrOfType<DictionaryAttr>("onnx.opset_import"))
    for (NamedAttribute opset : opsets)
      analysis.opsets[opset.getName().str()] = cast<IntegerAttr>(opset.getValue()).getInt();
  countParameters(function, analysis);
  function.walk([&](ir::NodeOp node) {
    ++analysis.opCounts[node.getOpType().str()];
    int64_t macs = nodeMacs(node);
    if (macs > 0) {
      analysis.macs = plus(analysis.macs, macs);
      int64_t &byType = analysis.macsByOpType[node.getOpType().str()];
      byType = plus(byType, macs);
    }
    for (Value result : node.getResults())
      if (auto shaped = dyn_cast<ShapedType>(result.getType()))
        analysis.dtypes.insert(typeName(shaped.getElementType()));
  });
  for (BlockArgument argument : function.getArguments())
    if (auto shaped = dyn_cast<ShapedType>(argument.getType()))
      analysis.dtypes.insert(typeName(shaped.getElementType()));
  analysis.peakActivationBytes = peakActivationBytes(function);
  listDynamicDimensions(function, analysis);
  return analysis;
}

} // namespace graceful::compiler
