// The registry records only well-formed ONNX models.
#pragma once

#include <llvm/Support/Error.h>
#include <string>

namespace graceful::registry {

// Parses `path` as an ONNX ModelProto and runs the ONNX checker on it. The
// error names the file (as `shownAs` when given: the user's name for a
// copy) and what is wrong with it.
llvm::Error validateOnnxFile(const std::string &path, const std::string &shownAs = "");

} // namespace graceful::registry
