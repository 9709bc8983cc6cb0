// Internal: ops whose output shapes depend on the values they read
// (NonZero, Compress, Unique, NonMaxSuppression), computed on the host when
// a model runs in stages (see runModel in Jit.h), as ONNX Runtime's CPU
// kernels compute them.
#pragma once

#include "graceful/support/tensor.h"

#include <llvm/Support/Error.h>
#include <onnx/onnx_pb.h>
#include <optional>
#include <vector>

namespace graceful::compiler {

// True for the op types evaluateOnHost computes.
bool hasHostKernel(const onnx::NodeProto &node);

// The node's outputs for `inputs` (one per node input, nullopt for an
// omitted optional one). Errors name the node.
llvm::Expected<std::vector<Tensor>>
evaluateOnHost(const onnx::NodeProto &node, const std::vector<std::optional<Tensor>> &inputs);

} // namespace graceful::compiler
