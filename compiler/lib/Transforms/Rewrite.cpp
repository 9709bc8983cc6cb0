#include "graceful/compiler/Rewrite.h"

#include "graceful/compiler/Exporter.h"
#include "graceful/compiler/Importer.h"
#include "graceful/compiler/Passes.h"
#include "graceful/compiler/Profile.h"
#include "graceful/support/error.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

#include <sstream>

namespace graceful::compiler {

using namespace mlir;

namespace {

void addPasses(PassManager &manager, const RewriteOptions &options, RewriteSummary &summary) {
  if (options.foldBatchNorm) {
    manager.addPass(createGracefulFoldBatchNorm());
    summary.passes.push_back("fold-bn");
  }
  if (options.linearizeAlpha) {
    manager.addPass(createGracefulLinearize(GracefulLinearizeOptions{*options.linearizeAlpha}));
    std::ostringstream name;
    name << "linearize(alpha=" << *options.linearizeAlpha << ")";
    summary.passes.push_back(name.str());
  }
  if (!options.legalizeProfile.empty()) {
    manager.addPass(createGracefulLegalize(GracefulLegalizeOptions{options.legalizeProfile}));
    summary.passes.push_back("legalize(" + options.legalizeProfile + ")");
  }
  if (!options.projectionWeights.empty()) {
    manager.addPass(createGracefulAppendProjection(GracefulAppendProjectionOptions{
        options.projectionWeights, options.projectionBias, options.projectionOutput}));
    summary.passes.push_back("append-projection");
  }
}

} // namespace

llvm::Expected<RewriteSummary> rewriteOnnxFile(const std::string &inputPath,
                                               const std::string &outputPath,
                                               const RewriteOptions &options) {
  // A malformed profile is bad input before any work is done.
  if (!options.legalizeProfile.empty())
    if (auto profile = loadDeviceProfile(options.legalizeProfile); !profile)
      return profile.takeError();
  DialectRegistry registry;
  registerCompilerDialects(registry);
  MLIRContext context(registry);
  RewriteSummary summary;
  std::string failure;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diagnostic) {
    if (diagnostic.getSeverity() == DiagnosticSeverity::Remark)
      summary.remarks.push_back(diagnostic.str());
    else if (diagnostic.getSeverity() == DiagnosticSeverity::Error && failure.empty())
      failure = diagnostic.str();
    return success();
  });
  auto module = importOnnxFile(inputPath, context);
  if (!module)
    return module.takeError();
  PassManager manager(&context);
  addPasses(manager, options, summary);
  if (failed(manager.run(**module)))
    return makeError(ErrorKind::BadInput,
                     inputPath + ": " + (failure.empty() ? "a rewrite pass failed" : failure));
  if (auto legalized = (**module)->getAttrOfType<DictionaryAttr>("graceful.legalize"))
    for (NamedAttribute violation : legalized.getAs<DictionaryAttr>("violations"))
      summary.violations.push_back(
          violation.getName().str() + " x" +
          std::to_string(cast<IntegerAttr>(violation.getValue()).getInt()));
  // The pass reports are facts about this rewrite, not part of the model.
  for (StringRef attribute : {"graceful.linearize", "graceful.fold_batchnorm", "graceful.legalize"})
    (**module)->removeAttr(attribute);
  if (llvm::Error error = exportOnnxFile(**module, outputPath))
    return error;
  return summary;
}

} // namespace graceful::compiler
