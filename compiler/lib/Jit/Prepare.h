// Internal: what the JIT does to a ModelProto before compiling it: its
// inputs specialised to the shapes being run, fixed inputs made
// initializers.
#pragma once

#include "graceful/compiler/Jit.h"

#include <llvm/Support/Error.h>
#include <map>
#include <onnx/onnx_pb.h>
#include <string>
#include <vector>

namespace graceful::compiler {

// Sets the graph inputs to the shapes being run and forgets every derived
// shape, so ONNX shape inference makes the whole graph static.
llvm::Error specialize(onnx::ModelProto &model, const std::vector<TensorSpec> &inputs,
                       const std::vector<std::vector<int64_t>> &shapes, const std::string &source);

// Fixed inputs become initializers, so ONNX shape inference and the
// lowering see their values as constants. They leave the graph inputs
// (from IR version 4 an initializer need not be one).
llvm::Error fixInputs(onnx::ModelProto &model, const std::map<std::string, Tensor> &fixed,
                      const std::string &source);

// `tensor` as an initializer named `name`.
onnx::TensorProto initializerOf(const std::string &name, const Tensor &tensor);

} // namespace graceful::compiler
