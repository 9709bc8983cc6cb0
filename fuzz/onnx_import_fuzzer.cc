// The ONNX importer, from the file's bytes up to MLIR's verifier: any bytes
// are either refused with an error or imported into a module that verifies.
#include "graceful/compiler/Importer.h"
#include "scratch_file.h"

#include <google/protobuf/stubs/logging.h>
#include <llvm/Support/Error.h>
#include <memory>
#include <mlir/IR/BuiltinOps.h>
#include <mlir/IR/DialectRegistry.h>
#include <mlir/IR/Verifier.h>

using namespace graceful;

namespace {

// Types and attributes live as long as their context; a fresh context now
// and then keeps ten million inputs within the fuzzer's memory limit.
mlir::MLIRContext &context() {
  static std::unique_ptr<mlir::MLIRContext> current;
  static int uses = 0;
  if (!current || ++uses % 2000 == 0) {
    mlir::DialectRegistry registry;
    compiler::registerCompilerDialects(registry);
    current = std::make_unique<mlir::MLIRContext>(registry, mlir::MLIRContext::Threading::DISABLED);
  }
  return *current;
}

} // namespace

// Protobuf logs each string field that is not UTF-8; the fuzzer makes many.
extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = fuzz::writeScratchFile(".onnx", data, size);
  auto module = compiler::importOnnxFile(path, context());
  if (!module) {
    llvm::consumeError(module.takeError());
    return 0;
  }
  if (mlir::failed(mlir::verify(module->get())))
    fuzz::invariantFailed("an imported module does not verify");
  return 0;
}
