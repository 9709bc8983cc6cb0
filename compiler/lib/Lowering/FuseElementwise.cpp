#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULFUSEELEMENTWISE
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

// Each fusion copies both bodies into a new op, so fusing a chain of n
// element-wise ops into one costs O(n^2) (a 2,000-Relu chain spent 86% of
// its compile time here). Bodies stop growing at this size: chains are
// fused in pieces, at linear cost, and a piece this long already keeps its
// values in registers.
constexpr size_t kMaxFusedBodyOps = 64;

size_t bodySize(Operation *op) {
  if (op->getNumRegions() == 0 || op->getRegion(0).empty())
    return 0;
  return op->getRegion(0).front().getOperations().size();
}

struct FuseElementwisePass : impl::GracefulFuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // Fuse only into the single consumer, so no work is duplicated.
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *operand) {
      Operation *producer = operand->get().getDefiningOp();
      return producer != nullptr && producer->hasOneUse() &&
             bodySize(producer) + bodySize(operand->getOwner()) <= kMaxFusedBodyOps;
    });
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
} // namespace graceful::compiler
