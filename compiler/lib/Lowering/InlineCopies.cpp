#include "graceful/compiler/Passes.h"
#include "mlir/IR/Builders.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULINLINECOPIES
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

struct InlineCopiesPass : impl::GracefulInlineCopiesBase<InlineCopiesPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    OpBuilder builder(&getContext());
    for (memref::CopyOp copy : copies) {
      builder.setInsertionPoint(copy);
      builder.create<linalg::CopyOp>(copy.getLoc(), copy.getSource(), copy.getTarget());
      copy.erase();
    }
  }
};

} // namespace
} // namespace graceful::compiler
