#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULSPLITEMPTYTENSORS
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

struct SplitEmptyTensorsPass : impl::GracefulSplitEmptyTensorsBase<SplitEmptyTensorsPass> {
  void runOnOperation() override {
    llvm::SmallVector<tensor::EmptyOp> shared;
    getOperation().walk([&](tensor::EmptyOp empty) {
      if (!empty->hasOneUse() && !empty->use_empty())
        shared.push_back(empty);
    });
    for (tensor::EmptyOp empty : shared) {
      // Each use gets a clone placed right before its user (the dynamic
      // sizes dominate every use already), in program order.
      llvm::SmallVector<OpOperand *> uses;
      for (OpOperand &use : empty->getUses())
        uses.push_back(&use);
      for (OpOperand *use : llvm::reverse(uses)) {
        OpBuilder builder(use->getOwner());
        use->set(builder.clone(*empty)->getResult(0));
      }
      empty->erase();
    }
  }
};

} // namespace
} // namespace graceful::compiler
