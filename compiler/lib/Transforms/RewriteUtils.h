// What the ONNX-level rewrite passes share: building nodes and constants,
// reading constant weights, and reporting what a pass did.
#pragma once

#include "graceful/compiler/OnnxDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace graceful::compiler {

// A new onnx.node with one result; `outputName` empty lets the exporter
// pick a fresh ONNX name.
ir::NodeOp makeNode(mlir::OpBuilder &builder, mlir::Location loc, llvm::StringRef opType,
                    mlir::ValueRange inputs, mlir::Type result,
                    llvm::ArrayRef<mlir::NamedAttribute> attributes = {},
                    llvm::StringRef outputName = "");

// A new onnx.constant (an initializer named `name`) holding `values`.
mlir::Value makeFloatConstant(mlir::OpBuilder &builder, mlir::Location loc, llvm::StringRef name,
                              llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<float> values);
mlir::Value makeIntConstant(mlir::OpBuilder &builder, mlir::Location loc, llvm::StringRef name,
                            llvm::ArrayRef<int64_t> values);

// The float32 values of an onnx.constant, looking through Identity nodes;
// nullopt for anything else.
std::optional<std::vector<float>> constantFloats(mlir::Value value);

// Removes onnx.constant and onnx.none ops nothing uses any more.
void eraseUnusedConstants(mlir::ModuleOp module);

// {Relu = 3 : i64, ...} from name -> count, for a pass's report attribute.
mlir::DictionaryAttr countsAttribute(mlir::Builder &builder,
                                     const std::map<std::string, int64_t> &counts);

// "Relu x3, MaxPool x1" from op type -> count.
std::string describeCounts(const std::map<std::string, int64_t> &counts);

} // namespace graceful::compiler
