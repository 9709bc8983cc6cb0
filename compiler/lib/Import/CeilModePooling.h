// Internal: ceil_mode pooling as ONNX Runtime and PyTorch count windows.
#pragma once

#include <llvm/Support/Error.h>
#include <onnx/onnx_pb.h>

namespace graceful::compiler {

// With ceil_mode, ONNX Runtime and PyTorch drop a last window that would
// start in the end padding; the shape inference of Debian's ONNX (1.12)
// keeps it, so such a model would compute one extra, empty window (NaN for
// an average, -inf for a maximum). Such pools are rewritten without
// ceil_mode: axes that drop their window round down, and axes whose last
// window starts in the input keep it as explicit end padding (which pools
// like the overhang: -inf for a maximum, uncounted for an average without
// count_include_pad). Returns whether a node changed; an error names a node
// no rewrite expresses exactly (count_include_pad with mixed axes, padding
// wider than the kernel). Changes at most the first such pool, since the
// shapes after it are stale until shape inference runs again: call it
// until it returns false. Needs the inferred shapes of the pools' inputs.
llvm::Expected<bool> dropCeilModeWindowsInPadding(onnx::ModelProto &model,
                                                  const std::string &source);

} // namespace graceful::compiler
