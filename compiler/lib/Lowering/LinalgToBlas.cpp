#include "graceful/compiler/Passes.h"
#include "mlir/IR/Builders.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULLINALGTOBLAS
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

constexpr llvm::StringLiteral kSgemm = "graceful_sgemm";

bool isF32Buffer(Value value) {
  auto type = dyn_cast<MemRefType>(value.getType());
  return type && type.getElementType().isF32() && type.getRank() == 2;
}

// memref<?x?xf32, strided<[?, ?], offset: ?>>: every 2-D f32 view casts to it.
MemRefType anyMatrixType(MLIRContext *context) {
  int64_t dynamic = ShapedType::kDynamic;
  return MemRefType::get({dynamic, dynamic}, Float32Type::get(context),
                         StridedLayoutAttr::get(context, dynamic, {dynamic, dynamic}));
}

struct LinalgToBlasPass : impl::GracefulLinalgToBlasBase<LinalgToBlasPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<Operation *, bool>> products;
    module.walk([&](Operation *op) {
      bool transposed = isa<linalg::MatmulTransposeBOp>(op);
      if (!isa<linalg::MatmulOp>(op) && !transposed)
        return;
      if (llvm::all_of(op->getOperands(), isF32Buffer))
        products.emplace_back(op, transposed);
    });
    if (products.empty())
      return;
    MLIRContext *context = &getContext();
    OpBuilder builder(context);
    MemRefType matrix = anyMatrixType(context);
    auto calleeType = builder.getFunctionType({matrix, matrix, matrix, builder.getI64Type()}, {});
    if (!module.lookupSymbol<func::FuncOp>(kSgemm)) {
      builder.setInsertionPointToStart(module.getBody());
      auto callee = builder.create<func::FuncOp>(module.getLoc(), kSgemm, calleeType);
      callee.setPrivate();
      callee->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
    }
    for (auto [op, transposed] : products) {
      builder.setInsertionPoint(op);
      Location loc = op->getLoc();
      SmallVector<Value> operands;
      for (Value operand : op->getOperands())
        operands.push_back(builder.create<memref::CastOp>(loc, matrix, operand));
      operands.push_back(builder.create<arith::ConstantIntOp>(loc, transposed ? 1 : 0, 64));
      builder.create<func::CallOp>(loc, kSgemm, TypeRange{}, operands);
      op->erase();
    }
  }
};

} // namespace
} // namespace graceful::compiler
