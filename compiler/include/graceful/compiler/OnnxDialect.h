// The ONNX-level dialect (see OnnxOps.td).
#pragma once

// The generated declarations need these headers first.
// clang-format off
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "graceful/compiler/OnnxOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "graceful/compiler/OnnxOps.h.inc"
// clang-format on
