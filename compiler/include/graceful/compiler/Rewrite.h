// Architecture rewrites as one call: import an ONNX file, run the rewrite
// passes (fold BatchNorm, linearize, legalize, append a projection) and
// export the result as a new ONNX file.
#pragma once

#include <llvm/Support/Error.h>
#include <optional>
#include <string>
#include <vector>

namespace graceful::compiler {

struct RewriteOptions {
  bool foldBatchNorm = false;
  std::optional<double> linearizeAlpha;
  std::string legalizeProfile; // device profile YAML; empty: no legalization
  std::string projectionWeights, projectionBias, projectionOutput;
};

struct RewriteSummary {
  std::vector<std::string> passes;     // as recorded in lineage: "fold-bn", "linearize(alpha=0.01)"
  std::vector<std::string> remarks;    // what each pass reports, one line each
  std::vector<std::string> violations; // ops legalization could not rewrite ("HardSwish x2")
};

// Runs the requested passes in the order fold-bn, linearize, legalize,
// projection, and writes `outputPath` atomically (only if all succeed).
// Errors name the file and what failed; violations are not errors.
llvm::Expected<RewriteSummary> rewriteOnnxFile(const std::string &inputPath,
                                               const std::string &outputPath,
                                               const RewriteOptions &options);

} // namespace graceful::compiler
