#include "RuntimeCalls.h"
#include "graceful/compiler/Passes.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULDEPTHWISETORUNTIME
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

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
      auto strides = llvm::to_vector(op.getStrides().getValues<int64_t>());
      auto dilations = llvm::to_vector(op.getDilations().getValues<int64_t>());
      Value input = op.getDpsInputs()[0], filters = op.getDpsInputs()[1],
            output = op.getDpsInits()[0];
      std::optional<ZeroPadding> padding = zeroPaddingOf(input, op, op, output);
      SmallVector<Value> inputs{padding ? padding->source : input, filters};
      // With the bias as an operand (MobileNet's folded BatchNorm) the kernel
      // needs no base in its output, so it may still write over its input.
      std::optional<Value> bias = eraseChannelBiasBefore(op, output);
      if (bias)
        inputs.push_back(*bias);
      callKernel(builder, module, op,
                 bias ? "graceful_depthwise_conv2d_bias" : "graceful_depthwise_conv2d", inputs,
                 bias ? Epilogue{output} : startingEpilogue(op, output),
                 {strides[0], strides[1], dilations[0], dilations[1], padding ? padding->top : 0,
                  padding ? padding->left : 0},
                 /*mayWriteInput=*/true);
      if (padding)
        for (Operation *padOp : padding->padOps)
          padOp->erase();
    }
  }
};

} // namespace
} // namespace graceful::compiler
