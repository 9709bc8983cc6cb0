// MLIR at the ONNX level -> ONNX ModelProto.
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <llvm/Support/Error.h>
#include <string>

namespace onnx {
class ModelProto;
}

namespace graceful::compiler {

// Rebuilds the ModelProto from a module the importer (and possibly rewrite
// passes) produced: initializers, nodes with their names, op types,
// domains and attributes, graph inputs and outputs with their names and
// symbolic dimensions, opset imports and producer. Errors name the op.
llvm::Error exportOnnxModel(mlir::ModuleOp module, onnx::ModelProto &model);

// Exports and writes the binary ModelProto atomically.
llvm::Error exportOnnxFile(mlir::ModuleOp module, const std::string &path);

} // namespace graceful::compiler
