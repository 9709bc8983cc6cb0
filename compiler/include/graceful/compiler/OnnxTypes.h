// Mapping between ONNX tensor element types and MLIR types, and the raw
// little-endian byte layout both use for tensor data.
#pragma once

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include <cstdint>
#include <optional>
#include <string>

namespace graceful::compiler {

// nullopt for ONNX types we do not support (string, complex, float8).
std::optional<mlir::Type> mlirElementType(int32_t onnxType, mlir::MLIRContext &context);
// 0 (UNDEFINED) for MLIR types with no ONNX counterpart.
int32_t onnxElementType(mlir::Type type);
std::string onnxElementTypeName(int32_t onnxType);

// Bytes one element takes in ONNX raw_data (bool: 1).
int64_t elementByteWidth(mlir::Type type);

// The raw little-endian bytes of a constant's elements, whatever attribute
// kind holds them (dense or dense resource).
std::optional<std::string> rawElementBytes(mlir::ElementsAttr value);

} // namespace graceful::compiler
