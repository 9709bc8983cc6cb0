#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULOUTPUTSTOARGUMENTS
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

struct OutputsToArgumentsPass : impl::GracefulOutputsToArgumentsBase<OutputsToArgumentsPass> {
  void runOnOperation() override {
    auto function = getOperation().lookupSymbol<func::FuncOp>("main");
    if (!function) {
      getOperation().emitError("no func.func @main");
      return signalPassFailure();
    }
    auto returnOp = cast<func::ReturnOp>(function.getBody().front().getTerminator());
    OpBuilder builder(returnOp);
    for (Value result : returnOp.getOperands()) {
      auto tensor = dyn_cast<RankedTensorType>(result.getType());
      if (!tensor) {
        returnOp.emitError("results must be ranked tensors");
        return signalPassFailure();
      }
      auto buffer = MemRefType::get(tensor.getShape(), tensor.getElementType());
      unsigned index = function.getNumArguments();
      function.insertArgument(index, buffer, DictionaryAttr(), result.getLoc());
      BlockArgument argument = function.getArgument(index);
      auto materialize = builder.create<bufferization::MaterializeInDestinationOp>(
          result.getLoc(), TypeRange{}, result, argument);
      materialize.setRestrict(true);
      materialize.setWritable(true);
    }
    builder.create<func::ReturnOp>(returnOp.getLoc());
    returnOp.erase();
    function.setType(builder.getFunctionType(function.getArgumentTypes(), {}));
    // The result attributes went with the results.
    function.removeResAttrsAttr();
    function->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  }
};

} // namespace
} // namespace graceful::compiler
