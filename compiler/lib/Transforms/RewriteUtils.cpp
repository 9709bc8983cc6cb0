#include "RewriteUtils.h"

#include "graceful/compiler/OnnxTypes.h"

#include <cstring>

namespace graceful::compiler {

using namespace mlir;

ir::NodeOp makeNode(OpBuilder &builder, Location loc, StringRef opType, ValueRange inputs,
                    Type result, ArrayRef<NamedAttribute> attributes, StringRef outputName) {
  ArrayAttr names;
  if (!outputName.empty())
    names = builder.getStrArrayAttr({outputName});
  return builder.create<ir::NodeOp>(loc, TypeRange{result}, inputs, opType, "",
                                    builder.getDictionaryAttr(attributes), names);
}

Value makeFloatConstant(OpBuilder &builder, Location loc, StringRef name, ArrayRef<int64_t> shape,
                        ArrayRef<float> values) {
  auto type = RankedTensorType::get(shape, builder.getF32Type());
  return builder.create<ir::ConstantOp>(loc, name, DenseElementsAttr::get(type, values));
}

Value makeIntConstant(OpBuilder &builder, Location loc, StringRef name,
                      ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    builder.getIntegerType(64));
  return builder.create<ir::ConstantOp>(loc, name, DenseElementsAttr::get(type, values));
}

std::optional<std::vector<float>> constantFloats(Value value) {
  while (auto node = value.getDefiningOp<ir::NodeOp>()) {
    if (node.getOpType() != "Identity" || node.getInputs().size() != 1)
      return std::nullopt;
    value = node.getInputs()[0];
  }
  auto constant = value.getDefiningOp<ir::ConstantOp>();
  if (!constant || !constant.getValue().getElementType().isF32())
    return std::nullopt;
  auto bytes = rawElementBytes(constant.getValue());
  if (!bytes)
    return std::nullopt;
  std::vector<float> values(bytes->size() / sizeof(float));
  std::memcpy(values.data(), bytes->data(), values.size() * sizeof(float));
  return values;
}

void eraseUnusedConstants(ModuleOp module) {
  SmallVector<Operation *> unused;
  module.walk([&](Operation *op) {
    if (isa<ir::ConstantOp, ir::NoneOp>(op) && op->use_empty())
      unused.push_back(op);
  });
  for (Operation *op : unused)
    op->erase();
}

DictionaryAttr countsAttribute(Builder &builder, const std::map<std::string, int64_t> &counts) {
  SmallVector<NamedAttribute> entries;
  for (const auto &[name, count] : counts)
    entries.push_back(builder.getNamedAttr(name, builder.getI64IntegerAttr(count)));
  return builder.getDictionaryAttr(entries);
}

std::string describeCounts(const std::map<std::string, int64_t> &counts) {
  std::string text;
  for (const auto &[name, count] : counts)
    text += (text.empty() ? "" : ", ") + name + " x" + std::to_string(count);
  return text;
}

} // namespace graceful::compiler
