// graceful-opt: mlir-opt with graceful's dialect and passes.
#include "graceful/compiler/Importer.h"
#include "graceful/compiler/Passes.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  graceful::compiler::registerCompilerDialects(registry);
  graceful::compiler::registerGracefulPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "graceful optimizer driver\n", registry));
}
