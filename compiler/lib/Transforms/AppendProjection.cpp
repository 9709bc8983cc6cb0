// Appends y = x W + b to an embedding output (compatibility projections).
#include "RewriteUtils.h"
#include "graceful/compiler/Passes.h"
#include "graceful/support/error.h"
#include "graceful/support/tensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULAPPENDPROJECTION
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

std::string onnxNameOf(func::FuncOp function, unsigned index) {
  DictionaryAttr attributes = function.getResultAttrDict(index);
  auto name = attributes ? attributes.getAs<StringAttr>("onnx.name") : StringAttr();
  return name ? name.str() : "";
}

llvm::Expected<Tensor> readFloatArray(const std::string &path, size_t rank, const char *what) {
  auto tensor = readNpy(path);
  if (!tensor)
    return tensor.takeError();
  if (tensor->dtype != DType::Float32 || tensor->shape.size() != rank)
    return makeError(ErrorKind::BadInput, path + ": the projection " + what + " must be a " +
                                              std::to_string(rank) + "-D float32 array, got " +
                                              tensor->describe());
  return std::move(*tensor);
}

struct AppendProjectionPass : impl::GracefulAppendProjectionBase<AppendProjectionPass> {
  using GracefulAppendProjectionBase::GracefulAppendProjectionBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (llvm::Error error = append(module)) {
      module.emitError(describeError(std::move(error)).message);
      signalPassFailure();
    }
  }

  llvm::Error append(ModuleOp module) {
    auto function = module.lookupSymbol<func::FuncOp>("main");
    if (!function)
      return makeError(ErrorKind::BadInput, "the module has no @main graph");
    if (weights.getValue().empty())
      return makeError(ErrorKind::BadInput, "graceful-append-projection needs weights=FILE.npy");
    auto matrix = readFloatArray(weights, 2, "weights");
    if (!matrix)
      return matrix.takeError();
    int64_t in = matrix->shape[0], out = matrix->shape[1];
    std::vector<float> bias(static_cast<size_t>(out), 0.0f);
    if (!this->bias.getValue().empty()) {
      auto given = readFloatArray(this->bias, 1, "bias");
      if (!given)
        return given.takeError();
      if (given->shape[0] != out)
        return makeError(ErrorKind::BadInput, this->bias + ": bias has " +
                                                  std::to_string(given->shape[0]) +
                                                  " values, the weights give " +
                                                  std::to_string(out) + " outputs");
      bias.assign(given->data<float>(), given->data<float>() + out);
    }
    auto returned = cast<func::ReturnOp>(function.getBody().front().getTerminator());
    unsigned index = 0;
    std::string wanted = output.getValue();
    for (; index < returned.getNumOperands(); ++index)
      if (wanted.empty() || onnxNameOf(function, index) == wanted)
        break;
    if (index == returned.getNumOperands())
      return makeError(ErrorKind::BadInput, "the model has no output '" + wanted + "'");
    Value embedding = returned.getOperand(index);
    auto type = dyn_cast<RankedTensorType>(embedding.getType());
    if (!type || !type.getElementType().isF32() || type.getRank() < 1 ||
        type.getDimSize(type.getRank() - 1) != in)
      return makeError(ErrorKind::BadInput,
                       weights + ": the projection takes " + std::to_string(in) +
                           "-dimensional inputs, output '" + onnxNameOf(function, index) +
                           "' is " + (type ? std::to_string(type.getDimSize(type.getRank() - 1))
                                           : std::string("not a tensor")) +
                           "-dimensional float32");
    OpBuilder builder(returned);
    Location loc = returned.getLoc();
    std::string name = onnxNameOf(function, index);
    SmallVector<int64_t> shape(type.getShape());
    shape.back() = out;
    auto projectedType = RankedTensorType::get(shape, type.getElementType());
    const float *values = matrix->data<float>();
    Value w = makeFloatConstant(builder, loc, name + ".projection.weight", {in, out},
                                {values, static_cast<size_t>(in * out)});
    Value b = makeFloatConstant(builder, loc, name + ".projection.bias", {out}, bias);
    // The projected value takes over the output's ONNX name.
    if (auto producer = embedding.getDefiningOp<ir::NodeOp>(); producer && producer.getNamesAttr()) {
      SmallVector<Attribute> names(producer.getNamesAttr().getValue());
      unsigned result = cast<OpResult>(embedding).getResultNumber();
      if (result < names.size())
        names[result] = builder.getStringAttr(name + ".unprojected");
      producer.setNamesAttr(builder.getArrayAttr(names));
    }
    Value product = makeNode(builder, loc, "MatMul", {embedding, w}, projectedType)->getResult(0);
    Value projected = makeNode(builder, loc, "Add", {product, b}, projectedType, {}, name)
                          ->getResult(0);
    returned->setOperand(index, projected);
    SmallVector<Type> results(function.getResultTypes());
    results[index] = projectedType;
    function.setType(builder.getFunctionType(function.getArgumentTypes(), results));
    return llvm::Error::success();
  }
};

} // namespace
} // namespace graceful::compiler
