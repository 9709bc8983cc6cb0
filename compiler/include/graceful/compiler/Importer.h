// ONNX -> MLIR at the ONNX level (the `onnx` dialect).
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <llvm/Support/Error.h>
#include <string>

namespace onnx {
class ModelProto;
class GraphProto;
} // namespace onnx

namespace graceful::compiler {

// Every dialect the compiler's ONNX level uses.
void registerCompilerDialects(mlir::DialectRegistry &registry);

struct ImportOptions {
  // Models below this default-domain opset are upgraded with ONNX's version
  // converter before import, so the rest of the compiler sees one semantics
  // per op.
  int minimumOpset = 13;
};

// Reads a binary ModelProto (or its protobuf text form, for files ending in
// .onnxtxt), runs ONNX's checker, version converter and shape inference, and
// builds a module with one func.func @main. Errors name the file and, for a
// node, its name and op type.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importOnnxFile(const std::string &path, mlir::MLIRContext &context, ImportOptions options = {});

// What the import does to the ModelProto before building the module: the
// checker, the version converter, shape inference with the compiler's
// completions, and the folding of shape computations. The result is still
// an ONNX model, with the shapes inferred in its value_info.
llvm::Error prepareOnnxModel(onnx::ModelProto &model, const std::string &sourceName,
                             ImportOptions options = {});

// The same for a model already in memory; `sourceName` is used in locations
// and messages.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>> importOnnxModel(onnx::ModelProto model,
                                                                  const std::string &sourceName,
                                                                  mlir::MLIRContext &context,
                                                                  ImportOptions options = {});

// Drops the shapes shape inference derived (value_info, and the dims of
// graph outputs that declare a shape; an output without one keeps none), so
// the next inference recomputes them from the inputs.
void forgetInferredShapes(onnx::GraphProto &graph);

// Reads the ModelProto only (binary or .onnxtxt), with errors naming the file.
llvm::Error readOnnxModel(const std::string &path, onnx::ModelProto &model);
// The same for the bytes of the file at `path`, read already.
llvm::Error parseOnnxModel(const std::string &bytes, const std::string &path,
                           onnx::ModelProto &model);

} // namespace graceful::compiler
