#include "graceful/registry/onnx_validation.h"

#include "graceful/support/error.h"

#include <fstream>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

namespace graceful::registry {

llvm::Error validateOnnxFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return makeError(ErrorKind::NotFound, path + ": cannot open ONNX file");
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in))
    return makeError(ErrorKind::BadInput,
                     path + ": not an ONNX model (the protobuf does not parse; truncated or "
                            "another format?)");
  if (!model.has_graph() || model.ir_version() == 0)
    return makeError(ErrorKind::BadInput, path + ": not an ONNX model (no graph or IR version)");
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    return makeError(ErrorKind::BadInput, path + ": ONNX checker: " + foldLines(e.what()));
  }
  return llvm::Error::success();
}

} // namespace graceful::registry
