// tensorOfProto reads initializers and the backend tests' data files: a
// TensorProto's dims are the file's word, so they are checked against the
// data it holds before anything is allocated.
#include "graceful/compiler/Jit.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

namespace graceful::compiler {
namespace {

onnx::TensorProto floats(std::vector<int64_t> dims, std::vector<float> values) {
  onnx::TensorProto proto;
  proto.set_name("t");
  proto.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t dim : dims)
    proto.add_dims(dim);
  for (float value : values)
    proto.add_float_data(value);
  return proto;
}

std::string refusal(const onnx::TensorProto &proto) {
  auto tensor = tensorOfProto(proto, "where.onnx");
  if (tensor)
    return "";
  return llvm::toString(tensor.takeError());
}

TEST(TensorProto, TypedFieldsAndRawDataGiveTheSameTensor) {
  auto typed = tensorOfProto(floats({2, 2}, {1, -2, 3.5f, 0}), "typed");
  ASSERT_TRUE(static_cast<bool>(typed)) << llvm::toString(typed.takeError());
  onnx::TensorProto raw = floats({2, 2}, {});
  raw.set_raw_data(typed->bytes.data(), typed->bytes.size());
  auto fromRaw = tensorOfProto(raw, "raw");
  ASSERT_TRUE(static_cast<bool>(fromRaw)) << llvm::toString(fromRaw.takeError());
  EXPECT_EQ(fromRaw->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(fromRaw->bytes, typed->bytes);
  EXPECT_EQ(typed->data<float>()[2], 3.5f);
}

TEST(TensorProto, NarrowTypesComeFromTheirWidenedField) {
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::INT8);
  proto.add_dims(3);
  for (int32_t value : {-128, 0, 127})
    proto.add_int32_data(value);
  auto tensor = tensorOfProto(proto, "int8");
  ASSERT_TRUE(static_cast<bool>(tensor)) << llvm::toString(tensor.takeError());
  EXPECT_EQ(tensor->dtype, DType::Int8);
  EXPECT_EQ(tensor->data<int8_t>()[0], -128);
  EXPECT_EQ(tensor->data<int8_t>()[2], 127);
}

TEST(TensorProto, DimsThatOverflowAreRefusedBeforeAllocating) {
  // 2^31 * 2^31 * 2^31 elements: would wrap to a small allocation.
  std::string why = refusal(floats({1LL << 31, 1LL << 31, 1LL << 31}, {}));
  EXPECT_NE(why.find("where.onnx: tensor 't' declares dims whose size overflows"),
            std::string::npos)
      << why;
  // 2^40 elements with no data: refused for the data, nothing allocated.
  why = refusal(floats({1LL << 20, 1LL << 20}, {}));
  EXPECT_NE(why.find("holds 0 values, its shape needs 1099511627776"), std::string::npos) << why;
}

TEST(TensorProto, NegativeDimsAreRefused) {
  EXPECT_NE(refusal(floats({-1, 4}, {})).find("is negative"), std::string::npos);
}

TEST(TensorProto, DataOfAnotherSizeThanTheDimsIsRefused) {
  EXPECT_NE(refusal(floats({3}, {1, 2})).find("holds 2 values, its shape needs 3"),
            std::string::npos);
  onnx::TensorProto raw = floats({2}, {});
  raw.set_raw_data(std::string(7, '\0'));
  EXPECT_NE(refusal(raw).find("holds 7 bytes, its shape needs 8"), std::string::npos);
}

TEST(TensorProto, ExternalDataAndUnknownTypesAreRefused) {
  onnx::TensorProto external = floats({1}, {1});
  external.set_data_location(onnx::TensorProto::EXTERNAL);
  EXPECT_NE(refusal(external).find("external file"), std::string::npos);
  onnx::TensorProto strings;
  strings.set_data_type(onnx::TensorProto::STRING);
  strings.add_dims(1);
  strings.add_string_data("x");
  EXPECT_NE(refusal(strings).find("element type 8"), std::string::npos);
}

} // namespace
} // namespace graceful::compiler
