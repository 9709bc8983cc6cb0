// ReLU -> LeakyReLU: the first step of linear quadratic fine-tuning (LQF).
#include "RewriteUtils.h"
#include "graceful/compiler/Passes.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULLINEARIZE
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

// Ops whose output is not smooth in their input, left for the user to see.
bool isNonSmooth(StringRef opType) {
  return llvm::is_contained({"MaxPool", "Clip", "Max", "Min", "Abs", "HardSigmoid", "HardSwish",
                             "PRelu", "Floor", "Ceil", "Round", "Sign", "ArgMax", "ArgMin"},
                            opType);
}

struct LinearizePass : impl::GracefulLinearizeBase<LinearizePass> {
  using GracefulLinearizeBase::GracefulLinearizeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder builder(&getContext());
    int64_t changed = 0;
    std::map<std::string, int64_t> remaining;
    module.walk([&](ir::NodeOp node) {
      if (node.getOpType() == "Relu" && node.getDomain().empty()) {
        node.setOpType("LeakyRelu");
        node.setOnnxAttrsAttr(builder.getDictionaryAttr(builder.getNamedAttr(
            "alpha", builder.getF32FloatAttr(static_cast<float>(alpha.getValue())))));
        ++changed;
      } else if (isNonSmooth(node.getOpType())) {
        remaining[node.getOpType().str()]++;
      }
    });
    module->setAttr("graceful.linearize",
                    builder.getDictionaryAttr(
                        {builder.getNamedAttr("changed", builder.getI64IntegerAttr(changed)),
                         builder.getNamedAttr("alpha", builder.getF64FloatAttr(alpha)),
                         builder.getNamedAttr("remaining", countsAttribute(builder, remaining))}));
    module.emitRemark() << "graceful-linearize: " << changed << " Relu -> LeakyRelu(alpha="
                        << alpha.getValue() << "); "
                        << (remaining.empty() ? "no other non-smooth ops remain"
                                              : "non-smooth ops remain: " +
                                                    describeCounts(remaining));
  }
};

} // namespace
} // namespace graceful::compiler
