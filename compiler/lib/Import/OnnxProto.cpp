#include "OnnxProto.h"

#include "graceful/support/error.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace graceful::compiler {

std::string nodeLabel(llvm::StringRef name, llvm::StringRef opType) {
  return "node " + (name.empty() ? std::string("(unnamed)") : "'" + name.str() + "'") + " (" +
         opType.str() + ")";
}

std::string labelOf(const onnx::NodeProto &node) { return nodeLabel(node.name(), node.op_type()); }

const onnx::AttributeProto *attributeOf(const onnx::NodeProto &node, const std::string &name) {
  for (const auto &attribute : node.attribute())
    if (attribute.name() == name)
      return &attribute;
  return nullptr;
}

int64_t intAttribute(const onnx::NodeProto &node, const std::string &name, int64_t fallback) {
  const onnx::AttributeProto *attribute = attributeOf(node, name);
  return attribute ? attribute->i() : fallback;
}

std::vector<int64_t> rowMajorStrides(const std::vector<int64_t> &dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;)
    strides[d - 1] = strides[d] * dims[d];
  return strides;
}

llvm::Expected<size_t> elementCountOf(const onnx::TensorProto &tensor, size_t width,
                                      const std::string &where) {
  int64_t count = 1, bytes = 0;
  for (int64_t dim : tensor.dims())
    if (dim < 0 || __builtin_mul_overflow(count, dim, &count) ||
        __builtin_mul_overflow(count, static_cast<int64_t>(width), &bytes))
      return makeError(ErrorKind::BadInput, where + ": tensor '" + tensor.name() +
                                                "' declares dims whose size " +
                                                (dim < 0 ? "is negative" : "overflows 64 bits"));
  return static_cast<size_t>(count);
}

llvm::Expected<std::string> tensorProtoBytes(const onnx::TensorProto &tensor, size_t count,
                                             size_t width, const std::string &where) {
  auto refuse = [&](const std::string &why) {
    return makeError(ErrorKind::BadInput, where + ": tensor '" + tensor.name() + "' " + why);
  };
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
    return refuse("keeps its data in an external file, which is not supported");
  if (width != 0 && count > SIZE_MAX / width)
    return refuse("declares more elements than memory can hold");
  if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != count * width)
      return refuse("holds " + std::to_string(tensor.raw_data().size()) +
                    " bytes, its shape needs " + std::to_string(count * width));
    return tensor.raw_data();
  }
  std::string bytes;
  // Little-endian: a widened element's low bytes are the element.
  auto narrow = [&](const auto &field) -> llvm::Expected<std::string> {
    if (static_cast<size_t>(field.size()) != count)
      return refuse("holds " + std::to_string(field.size()) + " values, its shape needs " +
                    std::to_string(count));
    bytes.resize(count * width);
    for (size_t i = 0; i < count; ++i) {
      auto value = field.Get(static_cast<int>(i));
      std::memcpy(bytes.data() + i * width, &value, std::min(width, sizeof value));
    }
    return std::move(bytes);
  };
  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT:
    return narrow(tensor.float_data());
  case onnx::TensorProto::DOUBLE:
    return narrow(tensor.double_data());
  case onnx::TensorProto::INT64:
    return narrow(tensor.int64_data());
  case onnx::TensorProto::UINT32:
  case onnx::TensorProto::UINT64:
    return narrow(tensor.uint64_data());
  default:
    return narrow(tensor.int32_data());
  }
}

} // namespace graceful::compiler
