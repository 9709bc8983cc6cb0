#include "RuntimeCalls.h"
#include "graceful/compiler/Passes.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULLINALGTOBLAS
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

// The body of a product: yield out + a * b.
bool isMultiplyAccumulate(linalg::GenericOp op) {
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  auto sum = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!sum)
    return false;
  Block *body = op.getBody();
  auto product = sum.getRhs().getDefiningOp<arith::MulFOp>();
  return product && sum.getLhs() == body->getArgument(2) &&
         product.getLhs() == body->getArgument(0) && product.getRhs() == body->getArgument(1);
}

// The convolution products graceful-lower-onnx writes: dims (n, m, p, k),
// out[n, m, p] += a[m, k] * b[n, k, p].
bool isPerSampleProduct(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 || op.getNumLoops() != 4 ||
      op.getNumReductionLoops() != 1 || !isF32Buffer(op->getOperand(0), 2) ||
      !isF32Buffer(op->getOperand(1), 3) || !isF32Buffer(op->getOperand(2), 3))
    return false;
  MLIRContext *context = op.getContext();
  auto map = [&](ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> exprs;
    for (unsigned dim : dims)
      exprs.push_back(getAffineDimExpr(dim, context));
    return AffineMap::get(4, 0, exprs, context);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  return maps[0] == map({1, 3}) && maps[1] == map({0, 3, 2}) && maps[2] == map({0, 1, 2}) &&
         isMultiplyAccumulate(op);
}

// Replaces `op` (A, B -> C) by a call to the runtime's `name` with `flags`,
// then whether the product adds to C and the clamp it applies.
void callProduct(OpBuilder &builder, ModuleOp module, Operation *op, StringRef name,
                 SmallVector<int64_t> flags) {
  Value a = op->getOperand(0), b = op->getOperand(1);
  Epilogue epilogue{op->getOperand(2), !eraseZeroFillBefore(op, op->getOperand(2))};
  epilogue = fuseEpilogue(builder, op, {a, b}, epilogue);
  builder.setInsertionPoint(op);
  flags.push_back(epilogue.accumulate ? 1 : 0);
  callRuntime(builder, module, op->getLoc(), name, {a, b, epilogue.output}, flags,
              {epilogue.low, epilogue.high});
  op->erase();
}

struct LinalgToBlasPass : impl::GracefulLinalgToBlasBase<LinalgToBlasPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<Operation *, bool>> products;
    module.walk([&](Operation *op) {
      bool transposed = isa<linalg::MatmulTransposeBOp>(op);
      if (!isa<linalg::MatmulOp>(op) && !transposed)
        return;
      if (llvm::all_of(op->getOperands(), [](Value v) { return isF32Buffer(v, 2); }))
        products.emplace_back(op, transposed);
    });
    SmallVector<linalg::GenericOp> perSample;
    module.walk([&](linalg::GenericOp op) {
      if (isPerSampleProduct(op))
        perSample.push_back(op);
    });
    OpBuilder builder(&getContext());
    for (linalg::GenericOp op : perSample)
      callProduct(builder, module, op, "graceful_sgemm_per_sample", {});
    for (auto [op, transposed] : products)
      callProduct(builder, module, op, "graceful_sgemm", {transposed ? 1 : 0});
  }
};

} // namespace
} // namespace graceful::compiler
