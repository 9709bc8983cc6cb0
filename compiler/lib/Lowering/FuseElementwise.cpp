#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULFUSEELEMENTWISE
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

struct FuseElementwisePass : impl::GracefulFuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // Fuse only into the single consumer, so no work is duplicated.
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *operand) {
      Operation *producer = operand->get().getDefiningOp();
      return producer != nullptr && producer->hasOneUse();
    });
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
} // namespace graceful::compiler
