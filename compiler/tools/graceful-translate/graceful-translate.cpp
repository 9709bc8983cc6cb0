// graceful-translate: ONNX <-> MLIR at the ONNX level.
//   graceful-translate --import-onnx model.onnx [-o model.mlir]
//   graceful-translate --export-onnx model.mlir -o model.onnx
#include "graceful/compiler/Exporter.h"
#include "graceful/compiler/Importer.h"
#include "graceful/support/error.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

#include <llvm/Support/CommandLine.h>
#include <llvm/Support/InitLLVM.h>
#include <llvm/Support/ToolOutputFile.h>

namespace cl = llvm::cl;

static cl::opt<std::string> importPath("import-onnx", cl::desc("ONNX model to import"),
                                       cl::value_desc("file.onnx"));
static cl::opt<std::string> exportPath("export-onnx", cl::desc("MLIR module to export"),
                                       cl::value_desc("file.mlir"));
static cl::opt<std::string> outputPath("o", cl::desc("output file (default: stdout for MLIR)"),
                                       cl::value_desc("file"), cl::init("-"));

static int fail(llvm::Error error) {
  llvm::errs() << "graceful-translate: error: " << graceful::describeError(std::move(error)).message
               << "\n";
  return 2;
}

static int runImport(mlir::MLIRContext &context) {
  auto module = graceful::compiler::importOnnxFile(importPath, context);
  if (!module)
    return fail(module.takeError());
  std::string message;
  auto output = mlir::openOutputFile(outputPath, &message);
  if (!output)
    return fail(graceful::makeError(graceful::ErrorKind::BadInput, outputPath + ": " + message));
  // Node names live in locations: print them, or a round trip loses them.
  mlir::OpPrintingFlags flags;
  flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
  module->get()->print(output->os(), flags);
  output->os() << "\n";
  output->keep();
  return 0;
}

static int runExport(mlir::MLIRContext &context) {
  if (outputPath == "-")
    return fail(graceful::makeError(graceful::ErrorKind::BadInput,
                                    "--export-onnx writes a binary file: give -o FILE.onnx"));
  mlir::ParserConfig config(&context);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(exportPath, config);
  if (!module)
    return fail(graceful::makeError(graceful::ErrorKind::BadInput,
                                    exportPath + ": cannot parse the MLIR module"));
  if (llvm::Error error = graceful::compiler::exportOnnxFile(*module, outputPath))
    return fail(std::move(error));
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::ParseCommandLineOptions(argc, argv, "graceful-translate: ONNX <-> MLIR\n");
  if (importPath.empty() == exportPath.empty()) {
    llvm::errs() << "graceful-translate: error: give exactly one of --import-onnx FILE.onnx or "
                    "--export-onnx FILE.mlir\n";
    return 2;
  }
  mlir::DialectRegistry registry;
  graceful::compiler::registerCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  return importPath.empty() ? runExport(context) : runImport(context);
}
