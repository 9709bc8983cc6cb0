#include "Prepare.h"

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

std::string labelOf(const onnx::NodeProto &node) {
  return "node " + (node.name().empty() ? std::string("(unnamed)") : "'" + node.name() + "'") +
         " (" + node.op_type() + ")";
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

llvm::Expected<Tensor> tensorOfInitializer(const onnx::TensorProto &initializer,
                                           const std::string &source) {
  auto refuse = [&](const std::string &why) {
    return makeError(ErrorKind::BadInput,
                     source + ": initializer '" + initializer.name() + "' " + why);
  };
  auto dtype = dtypeOf(initializer.data_type());
  if (!dtype || initializer.data_location() == onnx::TensorProto::EXTERNAL)
    return refuse("is not a tensor the compiler reads");
  std::vector<int64_t> shape(initializer.dims().begin(), initializer.dims().end());
  if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0 || d > (1 << 30); }))
    return refuse("has dims out of range");
  Tensor tensor = makeTensor(*dtype, shape);
  size_t count = static_cast<size_t>(tensor.elementCount()), width = dtypeSize(*dtype);
  if (initializer.has_raw_data()) {
    if (initializer.raw_data().size() != count * width)
      return refuse("holds " + std::to_string(initializer.raw_data().size()) + " bytes for " +
                    std::to_string(count) + " elements");
    std::memcpy(tensor.bytes.data(), initializer.raw_data().data(), count * width);
    return tensor;
  }
  // Typed fields hold each element widened (int32_data: the types of at most
  // 32 bits as integers, halves as their bits).
  auto copy = [&](const auto &field, auto narrow) -> llvm::Expected<Tensor> {
    if (static_cast<size_t>(field.size()) != count)
      return refuse("holds " + std::to_string(field.size()) + " values for " +
                    std::to_string(count) + " elements");
    for (size_t i = 0; i < count; ++i) {
      auto value = static_cast<decltype(narrow)>(field.Get(static_cast<int>(i)));
      std::memcpy(tensor.bytes.data() + i * width, &value, width);
    }
    return std::move(tensor);
  };
  switch (*dtype) {
  case DType::Float32:
    return copy(initializer.float_data(), float{});
  case DType::Float64:
    return copy(initializer.double_data(), double{});
  case DType::Int64:
    return copy(initializer.int64_data(), int64_t{});
  case DType::UInt64:
  case DType::UInt32:
    return width == 8 ? copy(initializer.uint64_data(), uint64_t{})
                      : copy(initializer.uint64_data(), uint32_t{});
  case DType::Int32:
    return copy(initializer.int32_data(), int32_t{});
  case DType::Int16:
    return copy(initializer.int32_data(), int16_t{});
  case DType::Int8:
    return copy(initializer.int32_data(), int8_t{});
  case DType::UInt16:
  case DType::Float16:
  case DType::BFloat16:
    return copy(initializer.int32_data(), uint16_t{});
  case DType::UInt8:
  case DType::Bool:
    return copy(initializer.int32_data(), uint8_t{});
  }
  return refuse("has an element type the compiler does not read");
}

} // namespace graceful::compiler
