#include "CeilModePooling.h"

#include "OnnxProto.h"
#include "graceful/support/error.h"

#include <map>
#include <optional>
#include <vector>

namespace graceful::compiler {
namespace {

std::vector<int64_t> intsOr(const onnx::NodeProto &node, const std::string &name, size_t count,
                            int64_t fallback) {
  const onnx::AttributeProto *attribute = attributeOf(node, name);
  if (!attribute || attribute->ints_size() == 0)
    return std::vector<int64_t>(count, fallback);
  return {attribute->ints().begin(), attribute->ints().end()};
}

void setInts(onnx::NodeProto &node, const std::string &name, const std::vector<int64_t> &values) {
  for (onnx::AttributeProto &attribute : *node.mutable_attribute())
    if (attribute.name() == name) {
      attribute.clear_ints();
      for (int64_t value : values)
        attribute.add_ints(value);
      return;
    }
  onnx::AttributeProto *attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INTS);
  for (int64_t value : values)
    attribute->add_ints(value);
}

void setInt(onnx::NodeProto &node, const std::string &name, int64_t value) {
  for (onnx::AttributeProto &attribute : *node.mutable_attribute())
    if (attribute.name() == name)
      attribute.set_i(value);
}

// Static shapes of the graph's values, as inference left them.
std::map<std::string, std::vector<int64_t>> staticShapes(const onnx::GraphProto &graph) {
  std::map<std::string, std::vector<int64_t>> shapes;
  auto collect = [&](const auto &values) {
    for (const onnx::ValueInfoProto &value : values) {
      if (!value.type().tensor_type().has_shape())
        continue;
      std::vector<int64_t> dims;
      for (const auto &dim : value.type().tensor_type().shape().dim())
        dims.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
      shapes[value.name()] = dims;
    }
  };
  collect(graph.input());
  collect(graph.value_info());
  return shapes;
}

// For each spatial axis of a ceil_mode pool: whether rounding up adds a
// window (`rounds`) and whether that window starts in the end padding
// (`dropped`). Empty when the geometry is not known.
struct AxisRounding {
  bool rounds = false, dropped = false;
  int64_t overhang = 0; // how far the last rounded-up window reaches past the end padding
};

std::optional<std::vector<AxisRounding>> roundingOf(const onnx::NodeProto &node,
                                                    const std::vector<int64_t> &input) {
  const onnx::AttributeProto *autoPad = attributeOf(node, "auto_pad");
  if (input.size() < 3 || (autoPad && autoPad->s() != "NOTSET" && !autoPad->s().empty()))
    return std::nullopt;
  size_t spatial = input.size() - 2;
  std::vector<int64_t> kernel = intsOr(node, "kernel_shape", spatial, 0);
  std::vector<int64_t> strides = intsOr(node, "strides", spatial, 1);
  std::vector<int64_t> dilations = intsOr(node, "dilations", spatial, 1);
  std::vector<int64_t> pads = intsOr(node, "pads", 2 * spatial, 0);
  if (kernel.size() != spatial || strides.size() != spatial || dilations.size() != spatial ||
      pads.size() != 2 * spatial)
    return std::nullopt;
  std::vector<AxisRounding> axes(spatial);
  for (size_t i = 0; i < spatial; ++i) {
    int64_t size = input[2 + i], extent = (kernel[i] - 1) * dilations[i] + 1;
    int64_t span = size + pads[i] + pads[spatial + i] - extent;
    if (size < 0 || strides[i] <= 0 || span < 0)
      return std::nullopt;
    int64_t floorCount = span / strides[i] + 1,
            ceilCount = (span + strides[i] - 1) / strides[i] + 1;
    axes[i].rounds = ceilCount != floorCount;
    axes[i].dropped = (ceilCount - 1) * strides[i] >= size + pads[i];
    axes[i].overhang = (ceilCount - 1) * strides[i] - span;
  }
  return axes;
}

} // namespace

llvm::Expected<bool> dropCeilModeWindowsInPadding(onnx::ModelProto &model,
                                                  const std::string &source) {
  std::map<std::string, std::vector<int64_t>> shapes = staticShapes(model.graph());
  for (onnx::NodeProto &node : *model.mutable_graph()->mutable_node()) {
    if (node.op_type() != "MaxPool" && node.op_type() != "AveragePool" &&
        node.op_type() != "LpPool")
      continue;
    const onnx::AttributeProto *ceil = attributeOf(node, "ceil_mode");
    auto input = shapes.find(node.input_size() ? node.input(0) : "");
    if (!ceil || ceil->i() == 0 || input == shapes.end())
      continue;
    std::optional<std::vector<AxisRounding>> axes = roundingOf(node, input->second);
    if (!axes)
      continue;
    // Rounding down fixes an axis that rounds up into the padding. An axis
    // that rounds up into the input keeps its last window as explicit end
    // padding, which pools exactly like the overhang unless an average
    // counts padding.
    bool anyDropped = false, padsExpressAll = true;
    bool countsPadding = node.op_type() == "AveragePool" &&
                         attributeOf(node, "count_include_pad") &&
                         attributeOf(node, "count_include_pad")->i() != 0;
    for (const AxisRounding &axis : *axes) {
      anyDropped = anyDropped || axis.dropped;
      padsExpressAll = padsExpressAll && (axis.rounds || !axis.dropped) &&
                       (axis.rounds == axis.dropped || !countsPadding);
    }
    if (!anyDropped)
      continue;
    if (!padsExpressAll)
      return makeError(ErrorKind::BadInput,
                       source + ": node '" + node.name() + "' (" + node.op_type() +
                           "): unsupported: ceil_mode whose last window starts in the padding on "
                           "some axes only (with count_include_pad), or with padding wider than "
                           "the kernel");
    size_t spatial = axes->size();
    std::vector<int64_t> pads = intsOr(node, "pads", 2 * spatial, 0);
    for (size_t i = 0; i < spatial; ++i)
      if ((*axes)[i].rounds && !(*axes)[i].dropped)
        pads[spatial + i] += (*axes)[i].overhang;
    setInts(node, "pads", pads);
    setInt(node, "ceil_mode", 0);
    // The shapes after this node are stale until inference runs again.
    return true;
  }
  return false;
}

} // namespace graceful::compiler
