#include "graceful/compiler/Analysis.h"
#include "graceful/compiler/Passes.h"
#include "graceful/support/error.h"
#include "mlir/IR/Builders.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULANALYZE
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

DictionaryAttr toAttribute(Builder &builder, const ModelAnalysis &analysis) {
  auto counts = [&](const std::map<std::string, int64_t> &map) {
    SmallVector<NamedAttribute> entries;
    for (const auto &[name, count] : map)
      entries.push_back(builder.getNamedAttr(name, builder.getI64IntegerAttr(count)));
    return builder.getDictionaryAttr(entries);
  };
  SmallVector<Attribute> dtypes, dynamic;
  for (const std::string &dtype : analysis.dtypes)
    dtypes.push_back(builder.getStringAttr(dtype));
  for (const std::string &dim : analysis.dynamicDimensions)
    dynamic.push_back(builder.getStringAttr(dim));
  return builder.getDictionaryAttr({
      builder.getNamedAttr("ops", counts(analysis.opCounts)),
      builder.getNamedAttr("params", builder.getI64IntegerAttr(analysis.parameters)),
      builder.getNamedAttr("buffers", builder.getI64IntegerAttr(analysis.buffers)),
      builder.getNamedAttr("weight_bytes", builder.getI64IntegerAttr(analysis.weightBytes)),
      builder.getNamedAttr("macs", builder.getI64IntegerAttr(analysis.macs)),
      builder.getNamedAttr("macs_by_op", counts(analysis.macsByOpType)),
      builder.getNamedAttr("peak_activation_bytes",
                           builder.getI64IntegerAttr(analysis.peakActivationBytes)),
      builder.getNamedAttr("opsets", counts(analysis.opsets)),
      builder.getNamedAttr("dtypes", builder.getArrayAttr(dtypes)),
      builder.getNamedAttr("dynamic_dims", builder.getArrayAttr(dynamic)),
  });
}

struct AnalyzePass : impl::GracefulAnalyzeBase<AnalyzePass> {
  using GracefulAnalyzeBase::GracefulAnalyzeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto analysis = analyzeModule(module);
    if (!analysis) {
      module.emitError(describeError(analysis.takeError()).message);
      return signalPassFailure();
    }
    Builder builder(&getContext());
    DictionaryAttr attribute = toAttribute(builder, *analysis);
    module->setAttr("graceful.analysis", attribute);
    if (print)
      llvm::errs() << attribute << "\n";
    markAllAnalysesPreserved();
  }
};

} // namespace
} // namespace graceful::compiler
