#include "graceful/compiler/OnnxTypes.h"

#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <onnx/onnx_pb.h>

namespace graceful::compiler {

using namespace mlir;

std::optional<Type> mlirElementType(int32_t onnxType, MLIRContext &context) {
  auto integer = [&](unsigned width, bool isUnsigned = false) -> Type {
    return IntegerType::get(&context, width,
                            isUnsigned ? IntegerType::Unsigned : IntegerType::Signless);
  };
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return Float32Type::get(&context);
  case onnx::TensorProto::DOUBLE:
    return Float64Type::get(&context);
  case onnx::TensorProto::FLOAT16:
    return Float16Type::get(&context);
  case onnx::TensorProto::BFLOAT16:
    return BFloat16Type::get(&context);
  case onnx::TensorProto::BOOL:
    return integer(1);
  case onnx::TensorProto::INT8:
    return integer(8);
  case onnx::TensorProto::INT16:
    return integer(16);
  case onnx::TensorProto::INT32:
    return integer(32);
  case onnx::TensorProto::INT64:
    return integer(64);
  case onnx::TensorProto::UINT8:
    return integer(8, true);
  case onnx::TensorProto::UINT16:
    return integer(16, true);
  case onnx::TensorProto::UINT32:
    return integer(32, true);
  case onnx::TensorProto::UINT64:
    return integer(64, true);
  default:
    return std::nullopt;
  }
}

int32_t onnxElementType(Type type) {
  if (type.isF32())
    return onnx::TensorProto::FLOAT;
  if (type.isF64())
    return onnx::TensorProto::DOUBLE;
  if (type.isF16())
    return onnx::TensorProto::FLOAT16;
  if (type.isBF16())
    return onnx::TensorProto::BFLOAT16;
  auto integer = dyn_cast<IntegerType>(type);
  if (!integer)
    return onnx::TensorProto::UNDEFINED;
  bool isUnsigned = integer.isUnsigned();
  switch (integer.getWidth()) {
  case 1:
    return onnx::TensorProto::BOOL;
  case 8:
    return isUnsigned ? onnx::TensorProto::UINT8 : onnx::TensorProto::INT8;
  case 16:
    return isUnsigned ? onnx::TensorProto::UINT16 : onnx::TensorProto::INT16;
  case 32:
    return isUnsigned ? onnx::TensorProto::UINT32 : onnx::TensorProto::INT32;
  case 64:
    return isUnsigned ? onnx::TensorProto::UINT64 : onnx::TensorProto::INT64;
  default:
    return onnx::TensorProto::UNDEFINED;
  }
}

std::string onnxElementTypeName(int32_t onnxType) {
  if (onnx::TensorProto::DataType_IsValid(onnxType))
    return onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(onnxType));
  return "type " + std::to_string(onnxType);
}

int64_t elementByteWidth(Type type) {
  if (type.isInteger(1))
    return 1;
  return (type.getIntOrFloatBitWidth() + 7) / 8;
}

std::optional<std::string> rawElementBytes(ElementsAttr value) {
  int64_t count = value.getNumElements();
  Type element = value.getElementType();
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (blob == nullptr)
      return std::nullopt;
    ArrayRef<char> data = blob->getData();
    return std::string(data.data(), data.size());
  }
  auto dense = dyn_cast<DenseElementsAttr>(value);
  if (!dense)
    return std::nullopt;
  if (element.isInteger(1)) {
    std::string bytes;
    for (bool bit : dense.getValues<bool>())
      bytes.push_back(bit ? 1 : 0);
    return bytes;
  }
  ArrayRef<char> raw = dense.getRawData();
  if (!dense.isSplat())
    return std::string(raw.data(), raw.size());
  std::string bytes;
  bytes.reserve(raw.size() * static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    bytes.append(raw.data(), raw.size());
  return bytes;
}

} // namespace graceful::compiler
