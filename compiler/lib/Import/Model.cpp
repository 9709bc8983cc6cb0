#include "graceful/compiler/Model.h"

#include "OnnxProto.h"
#include "graceful/compiler/Importer.h"
#include "graceful/compiler/OnnxTypes.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"

#include <onnx/onnx_pb.h>
#include <optional>
#include <set>

namespace graceful::compiler {

namespace {

std::optional<DType> dtypeOf(int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::UINT32:
  case onnx::TensorProto::UINT64:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
  case onnx::TensorProto::BOOL:
    return static_cast<DType>(onnxType);
  default:
    return std::nullopt;
  }
}

llvm::Expected<TensorSpec> specOf(const onnx::ValueInfoProto &value, const std::string &where) {
  const auto &tensor = value.type().tensor_type();
  auto dtype = dtypeOf(tensor.elem_type());
  if (!value.type().has_tensor_type() || !dtype)
    return makeError(ErrorKind::BadInput, where + " '" + value.name() + "' has element type " +
                                              onnxElementTypeName(tensor.elem_type()) +
                                              ", which is not supported by the compiler");
  TensorSpec spec{value.name(), *dtype, {}};
  for (const auto &dim : tensor.shape().dim())
    spec.shape.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
  return spec;
}

} // namespace

llvm::Expected<ModelSignature> signatureOf(const onnx::ModelProto &model,
                                           const std::string &source) {
  std::set<std::string> initializers;
  for (const auto &tensor : model.graph().initializer())
    initializers.insert(tensor.name());
  ModelSignature signature;
  for (const auto &value : model.graph().input()) {
    if (initializers.contains(value.name()))
      continue;
    auto spec = specOf(value, source + ": graph input");
    if (!spec)
      return spec.takeError();
    signature.inputs.push_back(*spec);
  }
  for (const auto &value : model.graph().output()) {
    auto spec = specOf(value, source + ": graph output");
    if (!spec)
      return spec.takeError();
    signature.outputs.push_back(*spec);
  }
  return signature;
}

llvm::Expected<Tensor> tensorOfProto(const onnx::TensorProto &proto, const std::string &where) {
  auto refuse = [&](const std::string &why) {
    return makeError(ErrorKind::BadInput, where + ": tensor '" + proto.name() + "' " + why);
  };
  auto dtype = dtypeOf(proto.data_type());
  if (!dtype)
    return refuse("has element type " + std::to_string(proto.data_type()) +
                  ", which the compiler does not read");
  size_t width = dtypeSize(*dtype);
  auto count = elementCountOf(proto, width, where);
  if (!count)
    return count.takeError();
  auto bytes = tensorProtoBytes(proto, *count, width, where);
  if (!bytes)
    return bytes.takeError();
  Tensor tensor;
  tensor.dtype = *dtype;
  tensor.shape.assign(proto.dims().begin(), proto.dims().end());
  tensor.bytes.assign(bytes->begin(), bytes->end());
  return tensor;
}

llvm::Expected<ModelSignature> readSignature(const std::string &onnxPath) {
  onnx::ModelProto model;
  if (llvm::Error error = readOnnxModel(onnxPath, model))
    return error;
  return signatureOf(model, onnxPath);
}

llvm::Expected<LoadedModel> loadModel(const std::string &path, const std::string &expectedDigest) {
  auto bytes = readFile(path);
  if (!bytes)
    return bytes.takeError();
  LoadedModel loaded{path, sha256Digest(*bytes), nullptr, {}};
  if (!expectedDigest.empty() && loaded.digest != expectedDigest)
    return makeError(ErrorKind::Corrupt, path + ": its bytes have digest " + loaded.digest +
                                             ", not the " + expectedDigest + " recorded for it");
  auto model = std::make_shared<onnx::ModelProto>();
  if (llvm::Error error = parseOnnxModel(*bytes, path, *model))
    return error;
  auto signature = signatureOf(*model, path);
  if (!signature)
    return signature.takeError();
  loaded.proto = std::move(model);
  loaded.signature = std::move(*signature);
  return loaded;
}

} // namespace graceful::compiler
