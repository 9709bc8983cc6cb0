#ifndef GRACEFUL_COMPILER_PASSES
#define GRACEFUL_COMPILER_PASSES

include "mlir/Pass/PassBase.td"

def GracefulAnalyze : Pass<"graceful-analyze", "mlir::ModuleOp"> {
  let summary = "Report op census, parameters, MACs and peak activation memory";
  let description = [{
    Attaches the architecture analysis of the graph to the module as the
    `graceful.analysis` dictionary attribute, and optionally prints it.
  }];
  let options = [
    Option<"print", "print", "bool", /*default=*/"false", "print the analysis to stderr">
  ];
}

#endif // GRACEFUL_COMPILER_PASSES
