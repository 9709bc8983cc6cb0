#include "RuntimeCalls.h"
#include "graceful/compiler/Passes.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULDEPTHWISETORUNTIME
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

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
      Value filters = op.getDpsInputs()[1], output = op.getDpsInits()[0];
      Epilogue epilogue{output, !eraseZeroFillBefore(op, output)};
      epilogue = fuseEpilogue(builder, op, {input, filters}, epilogue, /*mayWriteInput=*/true);
      builder.setInsertionPoint(op);
      callRuntime(builder, module, op.getLoc(), "graceful_depthwise_conv2d",
                  {input, filters, epilogue.output},
                  {strides[0], strides[1], dilations[0], dilations[1], padding ? padding->top : 0,
                   padding ? padding->left : 0, epilogue.accumulate ? 1 : 0},
                  {epilogue.low, epilogue.high});
      op->erase();
      if (padding)
        for (Operation *padOp : padding->padOps)
          padOp->erase();
    }
  }
};

} // namespace
} // namespace graceful::compiler
