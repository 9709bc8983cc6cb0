// Passes on the ONNX-level dialect (declared in Passes.td).
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace graceful::compiler {

#define GEN_PASS_DECL
#include "graceful/compiler/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "graceful/compiler/Passes.h.inc"

} // namespace graceful::compiler
