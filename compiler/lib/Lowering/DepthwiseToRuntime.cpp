#include "RuntimeCalls.h"
#include "graceful/compiler/Passes.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULDEPTHWISETORUNTIME
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

// The buffer a view (subview, cast, reshape) reads from.
Value rootBuffer(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

bool isZero(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  auto number = constant ? dyn_cast<FloatAttr>(constant.getValue()) : FloatAttr();
  return number && number.getValue().isPosZero();
}

// linalg.fill with 0.0, or linalg.map of no inputs yielding 0.0 (how
// tensor.pad bufferizes its padding).
bool zeroFills(Operation *op, Value buffer) {
  if (auto fill = dyn_cast<linalg::FillOp>(op))
    return fill.getDpsInits()[0] == buffer && isZero(fill.getDpsInputs()[0]);
  auto map = dyn_cast<linalg::MapOp>(op);
  if (!map || !map.getInputs().empty() || map.getInit() != buffer)
    return false;
  auto yield = cast<linalg::YieldOp>(map.getMapper().front().getTerminator());
  return yield.getNumOperands() == 1 && isZero(yield.getOperand(0));
}

// True when `op` (or an op nested in it) may write, free or pass on any
// view of `root`; reading it is fine.
bool mayChange(Operation *op, Value root) {
  WalkResult result = op->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands()) {
      if (!isa<BaseMemRefType>(operand.getType()) || rootBuffer(operand) != root)
        continue;
      auto effects = dyn_cast<MemoryEffectOpInterface>(nested);
      if (!effects || effects.getEffectOnValue<MemoryEffects::Write>(operand) ||
          effects.getEffectOnValue<MemoryEffects::Free>(operand))
        return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

// A bufferized tensor.pad with zeros feeding `conv`: `padded` is an alloc
// that is zero-filled, receives a copy of `source` in one subview and is
// read by `conv` alone, and `source` does not change in between.
struct ZeroPadding {
  Value source;
  int64_t top = 0, left = 0;
  SmallVector<Operation *> padOps; // erased, uses first, once folded
};

std::optional<ZeroPadding> zeroPaddingOf(linalg::DepthwiseConv2DNchwChwOp conv) {
  Value padded = conv.getDpsInputs()[0];
  auto alloc = padded.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != conv->getBlock())
    return std::nullopt;
  Operation *fill = nullptr, *dealloc = nullptr;
  memref::SubViewOp interior;
  memref::CopyOp copy;
  for (Operation *user : alloc->getUsers()) {
    auto subview = dyn_cast<memref::SubViewOp>(user);
    if (user == conv)
      continue;
    if (isa<memref::DeallocOp>(user) && !dealloc)
      dealloc = user;
    else if (zeroFills(user, padded) && !fill)
      fill = user;
    else if (subview && !interior && subview->hasOneUse() &&
             isa<memref::CopyOp>(*subview->getUsers().begin()))
      interior = subview, copy = cast<memref::CopyOp>(*subview->getUsers().begin());
    else
      return std::nullopt;
  }
  if (!fill || !interior || !dealloc || copy.getTarget() != interior.getResult() ||
      fill->getBlock() != conv->getBlock() || copy->getBlock() != conv->getBlock() ||
      !fill->isBeforeInBlock(copy) || !copy->isBeforeInBlock(conv))
    return std::nullopt;
  auto offsets = interior.getStaticOffsets();
  if (offsets.size() != 4 || offsets[0] != 0 || offsets[1] != 0 ||
      ShapedType::isDynamic(offsets[2]) || ShapedType::isDynamic(offsets[3]) ||
      !llvm::all_of(interior.getStaticStrides(), [](int64_t s) { return s == 1; }))
    return std::nullopt;
  Value source = copy.getSource(), root = rootBuffer(source);
  if (rootBuffer(conv.getDpsInits()[0]) == root)
    return std::nullopt;
  for (Operation *op = copy->getNextNode(); op != conv; op = op->getNextNode())
    if (mayChange(op, root))
      return std::nullopt;
  return ZeroPadding{source, offsets[2], offsets[3], {copy, interior, fill, dealloc, alloc}};
}

struct DepthwiseToRuntimePass : impl::GracefulDepthwiseToRuntimeBase<DepthwiseToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<linalg::DepthwiseConv2DNchwChwOp> convolutions;
    module.walk([&](linalg::DepthwiseConv2DNchwChwOp op) {
      Value input = op.getDpsInputs()[0], filters = op.getDpsInputs()[1],
            output = op.getDpsInits()[0];
      if (isF32Buffer(input, 4) && isF32Buffer(filters, 3) && isF32Buffer(output, 4))
        convolutions.push_back(op);
    });
    OpBuilder builder(&getContext());
    for (linalg::DepthwiseConv2DNchwChwOp op : convolutions) {
      builder.setInsertionPoint(op);
      auto strides = llvm::to_vector(op.getStrides().getValues<int64_t>());
      auto dilations = llvm::to_vector(op.getDilations().getValues<int64_t>());
      std::optional<ZeroPadding> padding = zeroPaddingOf(op);
      Value input = padding ? padding->source : op.getDpsInputs()[0];
      callRuntime(builder, module, op.getLoc(), "graceful_depthwise_conv2d",
                  {input, op.getDpsInputs()[1], op.getDpsInits()[0]},
                  {strides[0], strides[1], dilations[0], dilations[1], padding ? padding->top : 0,
                   padding ? padding->left : 0});
      op->erase();
      if (padding)
        for (Operation *padOp : padding->padOps)
          padOp->erase();
    }
  }
};

} // namespace
} // namespace graceful::compiler
