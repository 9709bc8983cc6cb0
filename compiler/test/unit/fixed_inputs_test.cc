// Inputs fixed at compile time: a Reshape whose shape comes from a graph
// input compiles once its value is fixed, computes the reshape, and refuses
// a run with other values.
#include "graceful/compiler/Jit.h"

#include <gtest/gtest.h>

namespace graceful::compiler {
namespace {

// From Debian's libonnx-testdata: data float32[2,3,4], shape int64[2] -> [2, 12].
const std::string kModel =
    "/usr/share/libonnx-testdata/data/node/test_reshape_reduced_dims/model.onnx";

Tensor shapeTensor(int64_t rows, int64_t columns) {
  Tensor shape = makeTensor(DType::Int64, {2});
  shape.data<int64_t>()[0] = rows;
  shape.data<int64_t>()[1] = columns;
  return shape;
}

TEST(FixedInputs, AShapeInputFixedAtCompileTimeShapesTheGraph) {
  Tensor data = makeTensor(DType::Float32, {2, 3, 4});
  for (int i = 0; i < 24; ++i)
    data.data<float>()[i] = static_cast<float>(i);
  auto signature = readSignature(kModel);
  ASSERT_TRUE(static_cast<bool>(signature)) << llvm::toString(signature.takeError());
  ASSERT_EQ(signature->inputs.size(), 2u);

  auto unfixed =
      CompiledModel::compile(kModel, {{2, 3, 4}, {2}}, CompileOptions::withCacheDirectory(""));
  ASSERT_FALSE(static_cast<bool>(unfixed));
  EXPECT_NE(llvm::toString(unfixed.takeError())
                .find("(Reshape): its output's shape depends on values computed at run time"),
            std::string::npos);

  CompileOptions options = CompileOptions::withCacheDirectory("");
  options.fixedInputs[signature->inputs[1].name] = shapeTensor(2, 12);
  auto model = CompiledModel::compile(kModel, {{2, 3, 4}, {2}}, options);
  ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
  EXPECT_EQ((*model)->outputs()[0].shape, (std::vector<int64_t>{2, 12}));
  auto outputs = (*model)->run({data, shapeTensor(2, 12)});
  ASSERT_TRUE(static_cast<bool>(outputs)) << llvm::toString(outputs.takeError());
  EXPECT_EQ((*outputs)[0].bytes, data.bytes); // a reshape keeps the row-major order

  auto refused = (*model)->run({data, shapeTensor(4, 6)});
  ASSERT_FALSE(static_cast<bool>(refused));
  EXPECT_NE(llvm::toString(refused.takeError()).find("built into the compiled code"),
            std::string::npos);
}

// Unfixed, the shape is data: runModel runs the model in stages, the first
// computing the shape operand, the second taking it as a constant.
TEST(FixedInputs, AShapeFromDataRunsInStages) {
  Tensor data = makeTensor(DType::Float32, {2, 3, 4});
  for (int i = 0; i < 24; ++i)
    data.data<float>()[i] = static_cast<float>(i);
  for (auto [rows, columns] : {std::pair{2, 12}, std::pair{6, 4}}) {
    auto outputs = runModel(kModel, {data, shapeTensor(rows, columns)},
                            CompileOptions::withCacheDirectory(""));
    ASSERT_TRUE(static_cast<bool>(outputs)) << llvm::toString(outputs.takeError());
    EXPECT_EQ((*outputs)[0].shape, (std::vector<int64_t>{rows, columns}));
    EXPECT_EQ((*outputs)[0].bytes, data.bytes);
  }
  auto wrong = runModel(kModel, {data, shapeTensor(5, 5)}, CompileOptions::withCacheDirectory(""));
  ASSERT_FALSE(static_cast<bool>(wrong));
  EXPECT_NE(llvm::toString(wrong.takeError()).find("Reshape"), std::string::npos);
}

} // namespace
} // namespace graceful::compiler
