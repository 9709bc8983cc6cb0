#include "Prepare.h"

#include "../Import/OnnxProto.h"
#include "graceful/compiler/Importer.h"
#include "graceful/compiler/OnnxTypes.h"
#include "graceful/support/error.h"

#include <algorithm>
#include <cstring>
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

llvm::Error specialize(onnx::ModelProto &model, const std::vector<TensorSpec> &inputs,
                       const std::vector<std::vector<int64_t>> &shapes, const std::string &source) {
  if (shapes.size() != inputs.size())
    return makeError(ErrorKind::BadInput, source + ": the model has " +
                                              std::to_string(inputs.size()) + " inputs, " +
                                              std::to_string(shapes.size()) + " were given");
  auto *graph = model.mutable_graph();
  for (auto &value : *graph->mutable_input()) {
    auto it = std::find_if(inputs.begin(), inputs.end(),
                           [&](const TensorSpec &spec) { return spec.name == value.name(); });
    if (it == inputs.end())
      continue;
    const std::vector<int64_t> &shape = shapes[static_cast<size_t>(it - inputs.begin())];
    if (shape.size() != it->shape.size())
      return makeError(ErrorKind::BadInput, source + ": input '" + it->name + "' has rank " +
                                                std::to_string(it->shape.size()) +
                                                ", got an array of rank " +
                                                std::to_string(shape.size()));
    auto *dims = value.mutable_type()->mutable_tensor_type()->mutable_shape();
    for (size_t d = 0; d < shape.size(); ++d) {
      if (it->shape[d] >= 0 && it->shape[d] != shape[d])
        return makeError(ErrorKind::BadInput, source + ": input '" + it->name + "' dim " +
                                                  std::to_string(d) + " must be " +
                                                  std::to_string(it->shape[d]) + ", got " +
                                                  std::to_string(shape[d]));
      dims->mutable_dim(static_cast<int>(d))->set_dim_value(shape[d]);
    }
  }
  forgetInferredShapes(*graph);
  return llvm::Error::success();
}

llvm::Error fixInputs(onnx::ModelProto &model, const std::map<std::string, Tensor> &fixed,
                      const std::string &source) {
  auto *graph = model.mutable_graph();
  for (const auto &[name, tensor] : fixed) {
    auto input =
        std::find_if(graph->input().begin(), graph->input().end(),
                     [&](const onnx::ValueInfoProto &value) { return value.name() == name; });
    if (input == graph->input().end())
      return makeError(ErrorKind::BadInput, source + ": no graph input '" + name + "' to fix");
    *graph->add_initializer() = initializerOf(name, tensor);
    if (model.ir_version() >= 4)
      graph->mutable_input()->erase(input);
  }
  return llvm::Error::success();
}

onnx::TensorProto initializerOf(const std::string &name, const Tensor &tensor) {
  onnx::TensorProto initializer;
  initializer.set_name(name);
  initializer.set_data_type(static_cast<int32_t>(tensor.dtype));
  for (int64_t dim : tensor.shape)
    initializer.add_dims(dim);
  initializer.set_raw_data(tensor.bytes.data(), tensor.bytes.size());
  return initializer;
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

} // namespace graceful::compiler
