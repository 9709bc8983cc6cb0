// graceful-opt: mlir-opt with graceful's dialect and passes, plus MLIR's own
// dialects and passes so the JIT's lowering pipeline can be run step by step.
#include "graceful/compiler/Importer.h"
#include "graceful/compiler/Passes.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllPasses();
  graceful::compiler::registerCompilerDialects(registry);
  graceful::compiler::registerGracefulPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "graceful optimizer driver\n", registry));
}
