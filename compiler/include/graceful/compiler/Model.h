// An ONNX model file read once into a value: its bytes' digest, the
// ModelProto they hold and its signature (graph inputs and outputs), which
// the JIT, the gates and the commands pass down instead of the path.
#pragma once

#include "graceful/support/tensor.h"

#include <cstdint>
#include <llvm/Support/Error.h>
#include <memory>
#include <string>
#include <vector>

namespace onnx {
class ModelProto;
class TensorProto;
} // namespace onnx

namespace graceful::compiler {

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape; // -1 for a dimension the model leaves open
};

// The graph inputs and outputs of an ONNX file, without compiling it.
struct ModelSignature {
  std::vector<TensorSpec> inputs, outputs;
};
llvm::Expected<ModelSignature> readSignature(const std::string &onnxPath);
// The signature of a model already read; errors name `source`.
llvm::Expected<ModelSignature> signatureOf(const onnx::ModelProto &model,
                                           const std::string &source);

// An ONNX file read once: the digest of its bytes, the model they hold and
// its signature. A command loads a model once and passes this down, so
// every compile and run of the command uses the same bytes, whatever
// happens to the file meanwhile.
struct LoadedModel {
  std::string path;   // names the model in messages
  std::string digest; // "sha256:<hex>" of the file's bytes
  std::shared_ptr<const onnx::ModelProto> proto;
  ModelSignature signature;
};
// With `expectedDigest` (a registry's), bytes of another digest are refused
// as corrupt.
llvm::Expected<LoadedModel> loadModel(const std::string &path,
                                      const std::string &expectedDigest = "");

// A TensorProto's values: an initializer, or a data file of ONNX's backend
// tests (what onnx.numpy_helper.from_array writes). Its dims are checked
// against the data it holds before anything is allocated; errors name
// `where` and the tensor.
llvm::Expected<Tensor> tensorOfProto(const onnx::TensorProto &proto, const std::string &where);

} // namespace graceful::compiler
