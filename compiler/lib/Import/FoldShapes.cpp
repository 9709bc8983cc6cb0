#include "FoldShapes.h"

#include "OnnxProto.h"
#include "graceful/compiler/Einsum.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <onnx/shape_inference/implementation.h>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace graceful::compiler {
namespace {

// A small integer or boolean tensor known at import time (`type` is an
// ONNX data type: INT64; BOOL for comparisons, whose values hold 0 and 1;
// FLOAT or DOUBLE for integers cast to floats).
struct Known {
  std::vector<int64_t> dims;
  std::vector<int64_t> values;
  int32_t type = onnx::TensorProto::INT64;
};

// Folding is for shape vectors; anything larger is left to the compiler.
constexpr size_t kMaxFoldedElements = 64;

// Element count of `dims`, when it is small enough to fold.
std::optional<size_t> foldableCount(const std::vector<int64_t> &dims) {
  size_t count = 1;
  for (int64_t dim : dims) {
    if (dim < 0 || (dim > 0 && count > kMaxFoldedElements / static_cast<size_t>(dim)))
      return std::nullopt;
    count *= static_cast<size_t>(dim);
  }
  return count;
}

// The `count` values of `tensor`, stored as `Stored`, as `Wanted`s; none
// when the tensor does not hold exactly that many.
template <typename Stored, typename Wanted>
std::optional<std::vector<Wanted>> valuesAs(const onnx::TensorProto &tensor, size_t count) {
  auto bytes = tensorProtoBytes(tensor, count, sizeof(Stored), tensor.name());
  if (!bytes) {
    llvm::consumeError(bytes.takeError());
    return std::nullopt;
  }
  std::vector<Wanted> values(count);
  for (size_t i = 0; i < count; ++i) {
    Stored value;
    std::memcpy(&value, bytes->data() + i * sizeof(Stored), sizeof(Stored));
    values[i] = static_cast<Wanted>(value);
  }
  return values;
}

std::optional<Known> knownOf(const onnx::TensorProto &tensor) {
  Known known{{tensor.dims().begin(), tensor.dims().end()}, {}, tensor.data_type()};
  std::optional<size_t> count = foldableCount(known.dims);
  if (!count)
    return std::nullopt;
  std::optional<std::vector<int64_t>> values;
  switch (tensor.data_type()) {
  case onnx::TensorProto::INT64:
    values = valuesAs<int64_t, int64_t>(tensor, *count);
    break;
  case onnx::TensorProto::INT32:
    known.type = onnx::TensorProto::INT64;
    values = valuesAs<int32_t, int64_t>(tensor, *count);
    break;
  case onnx::TensorProto::BOOL:
    values = valuesAs<uint8_t, int64_t>(tensor, *count);
    if (values)
      for (int64_t &value : *values)
        value = value != 0;
    break;
  default:
    return std::nullopt;
  }
  if (!values)
    return std::nullopt;
  known.values = std::move(*values);
  return known;
}

onnx::TensorProto tensorOf(const Known &known, const std::string &name) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(known.type);
  for (int64_t dim : known.dims)
    tensor.add_dims(dim);
  for (int64_t value : known.values)
    if (known.type == onnx::TensorProto::BOOL)
      tensor.add_int32_data(value != 0 ? 1 : 0);
    else if (known.type == onnx::TensorProto::FLOAT)
      tensor.add_float_data(static_cast<float>(value));
    else if (known.type == onnx::TensorProto::DOUBLE)
      tensor.add_double_data(static_cast<double>(value));
    else
      tensor.add_int64_data(value);
  return tensor;
}

// Integer Mod without fmod: the result takes the divisor's sign.
int64_t floorMod(int64_t x, int64_t y) {
  int64_t remainder = x % y;
  return remainder != 0 && ((remainder < 0) != (y < 0)) ? remainder + y : remainder;
}

// Elementwise integer arithmetic on scalars and vectors (numpy broadcasting
// of rank 0 and 1 operands).
std::optional<Known> arithmetic(const std::string &op, const Known &a, const Known &b) {
  if (a.dims.size() > 1 || b.dims.size() > 1)
    return std::nullopt;
  size_t n = std::max(a.values.size(), b.values.size());
  if ((a.values.size() != n && a.values.size() != 1) ||
      (b.values.size() != n && b.values.size() != 1))
    return std::nullopt;
  Known result{a.dims.size() >= b.dims.size() ? a.dims : b.dims, {}};
  if (!result.dims.empty())
    result.dims[0] = static_cast<int64_t>(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t x = a.values[a.values.size() == 1 ? 0 : i];
    int64_t y = b.values[b.values.size() == 1 ? 0 : i];
    if ((op == "Div" || op == "Mod") && y == 0)
      return std::nullopt;
    result.values.push_back(op == "Add"   ? x + y
                            : op == "Sub" ? x - y
                            : op == "Mul" ? x * y
                            : op == "Div" ? x / y
                            : op == "Mod" ? floorMod(x, y)
                                          : x == y);
  }
  if (op == "Equal")
    result.type = onnx::TensorProto::BOOL;
  return result;
}

// Where(condition, x, y) on scalars and vectors, broadcasting as
// arithmetic does: x * c + y * (1 - c).
std::optional<Known> where(const std::vector<Known> &inputs) {
  Known condition = inputs[0];
  const Known &x = inputs[1], &y = inputs[2];
  if (condition.type != onnx::TensorProto::BOOL || x.type != y.type)
    return std::nullopt;
  condition.type = onnx::TensorProto::INT64;
  Known inverse = condition;
  for (int64_t &value : inverse.values)
    value = 1 - value;
  auto picked = arithmetic("Mul", x, condition), other = arithmetic("Mul", y, inverse);
  if (!picked || !other)
    return std::nullopt;
  auto result = arithmetic("Add", *picked, *other);
  if (result)
    result->type = x.type;
  return result;
}

// Reshape of a constant: the values stay, the dims come from the shape
// (0 copies the input's dim unless allowzero, -1 takes the rest).
std::optional<Known> reshape(const onnx::NodeProto &node, const std::vector<Known> &inputs) {
  const Known &data = inputs[0], &shape = inputs[1];
  bool allowZero = intAttribute(node, "allowzero", 0) != 0;
  Known result{{}, data.values, data.type};
  int64_t product = 1, inferred = -1;
  for (size_t i = 0; i < shape.values.size(); ++i) {
    int64_t dim = shape.values[i];
    if (dim == 0 && !allowZero) {
      if (i >= data.dims.size())
        return std::nullopt;
      dim = data.dims[i];
    }
    if (dim == -1 && inferred < 0)
      inferred = static_cast<int64_t>(i);
    else if (dim < 0 || dim > static_cast<int64_t>(kMaxFoldedElements))
      return std::nullopt;
    else
      product *= dim;
    result.dims.push_back(dim);
  }
  auto count = static_cast<int64_t>(data.values.size());
  if (inferred >= 0) {
    if (product == 0 || count % product != 0)
      return std::nullopt;
    result.dims[static_cast<size_t>(inferred)] = count / product;
  } else if (product != count) {
    return std::nullopt;
  }
  return result;
}

// ConstantOfShape with an integer or boolean value.
std::optional<Known> constantOfShape(const onnx::NodeProto &node, const Known &shape) {
  const onnx::AttributeProto *attribute = attributeOf(node, "value");
  std::optional<Known> value =
      attribute && attribute->has_t() ? knownOf(attribute->t()) : std::nullopt;
  std::optional<size_t> count = foldableCount(shape.values);
  if (!value || value->values.size() != 1 || !count || shape.dims.size() != 1)
    return std::nullopt;
  return Known{shape.values, std::vector<int64_t>(*count, value->values[0]), value->type};
}

// Normalizes axes against `rank`; nullopt when one is out of range.
std::optional<std::vector<int64_t>> axesIn(std::vector<int64_t> axes, int64_t rank) {
  for (int64_t &axis : axes) {
    if (axis < -rank || axis >= rank)
      return std::nullopt;
    axis = axis < 0 ? axis + rank : axis;
  }
  return axes;
}

// The axes of Unsqueeze/Squeeze: an input from opset 13, an attribute before.
std::optional<std::vector<int64_t>> axesOf(const onnx::NodeProto &node,
                                           const std::vector<Known> &inputs) {
  if (inputs.size() > 1)
    return inputs[1].values;
  if (const onnx::AttributeProto *attribute = attributeOf(node, "axes"))
    return std::vector<int64_t>(attribute->ints().begin(), attribute->ints().end());
  return std::nullopt;
}

std::optional<Known> unsqueeze(const onnx::NodeProto &node, const std::vector<Known> &inputs) {
  auto axes = axesOf(node, inputs);
  if (!axes)
    return std::nullopt;
  int64_t rank = static_cast<int64_t>(inputs[0].dims.size() + axes->size());
  auto normalized = axesIn(*axes, rank);
  if (!normalized)
    return std::nullopt;
  std::set<int64_t> inserted(normalized->begin(), normalized->end());
  Known result{{}, inputs[0].values};
  for (int64_t d = 0, from = 0; d < rank; ++d)
    result.dims.push_back(inserted.count(d) ? 1 : inputs[0].dims[from++]);
  return result;
}

std::optional<Known> squeeze(const onnx::NodeProto &node, const std::vector<Known> &inputs) {
  int64_t rank = static_cast<int64_t>(inputs[0].dims.size());
  std::vector<int64_t> axes;
  if (auto given = axesOf(node, inputs)) {
    auto normalized = axesIn(*given, rank);
    if (!normalized)
      return std::nullopt;
    axes = *normalized;
  } else {
    for (int64_t d = 0; d < rank; ++d)
      if (inputs[0].dims[d] == 1)
        axes.push_back(d);
  }
  Known result{{}, inputs[0].values};
  for (int64_t d = 0; d < rank; ++d)
    if (std::find(axes.begin(), axes.end(), d) == axes.end())
      result.dims.push_back(inputs[0].dims[d]);
  return result;
}

// Gather along axis 0 of a vector (shape vectors): scalar or vector indices.
std::optional<Known> gather(const onnx::NodeProto &node, const std::vector<Known> &inputs) {
  const Known &data = inputs[0], &indices = inputs[1];
  int64_t axis = intAttribute(node, "axis", 0);
  if (data.dims.size() != 1 || (axis != 0 && axis != -1))
    return std::nullopt;
  int64_t size = data.dims[0];
  Known result{indices.dims, {}};
  for (int64_t index : indices.values) {
    if (index < -size || index >= size)
      return std::nullopt;
    result.values.push_back(data.values[index < 0 ? index + size : index]);
  }
  return result;
}

std::optional<Known> concat(const std::vector<Known> &inputs) {
  Known result{{0}, {}};
  for (const Known &input : inputs) {
    if (input.dims.size() != 1)
      return std::nullopt;
    result.values.insert(result.values.end(), input.values.begin(), input.values.end());
  }
  result.dims[0] = static_cast<int64_t>(result.values.size());
  return result;
}

// Slice along one axis with constant starts, ends, axes and steps (shape
// vectors, and the pad tables torch builds by reversing a [rank, 2] table).
std::optional<Known> slice(const std::vector<Known> &inputs) {
  const Known &data = inputs[0];
  auto rank = static_cast<int64_t>(data.dims.size());
  if (rank == 0 || inputs.size() < 3 || inputs[1].values.size() != 1 ||
      inputs[2].values.size() != 1 || (inputs.size() > 3 && inputs[3].values.size() != 1) ||
      (inputs.size() > 4 && inputs[4].values.size() != 1))
    return std::nullopt;
  int64_t axis = inputs.size() > 3 ? inputs[3].values[0] : 0;
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  axis = axis < 0 ? axis + rank : axis;
  int64_t step = inputs.size() > 4 ? inputs[4].values[0] : 1;
  int64_t size = data.dims[static_cast<size_t>(axis)];
  if (step == 0)
    return std::nullopt;
  auto clampIndex = [&](int64_t index, int64_t low, int64_t high) {
    index = index < 0 ? index + size : index;
    return std::clamp(index, low, high);
  };
  int64_t start = clampIndex(inputs[1].values[0], step > 0 ? 0 : -1, step > 0 ? size : size - 1);
  int64_t end = clampIndex(inputs[2].values[0], step > 0 ? 0 : -1, step > 0 ? size : size - 1);
  std::vector<int64_t> picked;
  for (int64_t i = start; step > 0 ? i < end : i > end; i += step)
    picked.push_back(i);
  Known result{data.dims, {}, data.type};
  result.dims[static_cast<size_t>(axis)] = static_cast<int64_t>(picked.size());
  std::vector<int64_t> strides = rowMajorStrides(data.dims);
  int64_t outer = 1, inner = strides[static_cast<size_t>(axis)];
  for (int64_t d = 0; d < axis; ++d)
    outer *= data.dims[static_cast<size_t>(d)];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : picked)
      for (int64_t k = 0; k < inner; ++k)
        result.values.push_back(data.values[static_cast<size_t>((o * size + i) * inner + k)]);
  return result;
}

// Range(start, limit, delta) of int64 scalars.
std::optional<Known> range(const std::vector<Known> &inputs) {
  if (inputs[0].values.size() != 1 || inputs[1].values.size() != 1 ||
      inputs[2].values.size() != 1 || inputs[2].values[0] == 0)
    return std::nullopt;
  // In 128 bits, so a step past the int64 range ends the loop rather than
  // wrapping around.
  __int128 start = inputs[0].values[0], limit = inputs[1].values[0], delta = inputs[2].values[0];
  Known result{{0}, {}};
  for (__int128 value = start; delta > 0 ? value < limit : value > limit; value += delta) {
    if (result.values.size() == kMaxFoldedElements)
      return std::nullopt;
    result.values.push_back(static_cast<int64_t>(value));
  }
  result.dims[0] = static_cast<int64_t>(result.values.size());
  return result;
}

std::optional<Known> transpose(const onnx::NodeProto &node, const Known &data) {
  size_t rank = data.dims.size();
  std::vector<int64_t> perm;
  if (const onnx::AttributeProto *attribute = attributeOf(node, "perm"))
    perm.assign(attribute->ints().begin(), attribute->ints().end());
  else
    for (size_t d = rank; d-- > 0;)
      perm.push_back(static_cast<int64_t>(d));
  std::vector<int64_t> sorted(perm);
  std::sort(sorted.begin(), sorted.end());
  for (size_t d = 0; d < sorted.size(); ++d)
    if (sorted.size() != rank || sorted[d] != static_cast<int64_t>(d))
      return std::nullopt;
  Known result{{}, {}, data.type};
  for (int64_t p : perm)
    result.dims.push_back(data.dims[static_cast<size_t>(p)]);
  std::vector<int64_t> from = rowMajorStrides(data.dims), to = rowMajorStrides(result.dims);
  result.values.resize(data.values.size());
  for (size_t i = 0; i < data.values.size(); ++i) {
    int64_t source = 0, rest = static_cast<int64_t>(i);
    for (size_t d = 0; d < rank; ++d) {
      source += rest / to[d] * from[static_cast<size_t>(perm[d])];
      rest %= to[d];
    }
    result.values[i] = data.values[static_cast<size_t>(source)];
  }
  return result;
}

std::optional<Known> evaluate(const onnx::NodeProto &node, const std::vector<Known> &inputs) {
  const std::string &op = node.op_type();
  if (op == "Identity")
    return inputs[0];
  if (op == "Cast") {
    // An integer cast to a float stays exact while it is below 2^24 (a
    // window's size cast for its Range).
    int64_t to = intAttribute(node, "to", 0);
    bool exactFloat = (to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE) &&
                      inputs[0].type == onnx::TensorProto::INT64 &&
                      std::all_of(inputs[0].values.begin(), inputs[0].values.end(),
                                  [](int64_t value) { return std::abs(value) < (1 << 24); });
    if (to != onnx::TensorProto::INT64 && to != onnx::TensorProto::BOOL && !exactFloat)
      return std::nullopt;
    Known cast = inputs[0];
    cast.type = static_cast<int32_t>(to);
    if (to == onnx::TensorProto::BOOL)
      for (int64_t &value : cast.values)
        value = value != 0;
    return cast;
  }
  if (op == "Where" && inputs.size() == 3)
    return where(inputs);
  if (op == "Reshape" && inputs.size() == 2)
    return reshape(node, inputs);
  if (op == "Transpose" && inputs.size() == 1)
    return transpose(node, inputs[0]);
  // The rest is int64 arithmetic on shape vectors.
  if (!std::all_of(inputs.begin(), inputs.end(),
                   [](const Known &input) { return input.type == onnx::TensorProto::INT64; }))
    return std::nullopt;
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Equal" ||
       (op == "Mod" && intAttribute(node, "fmod", 0) == 0)) &&
      inputs.size() == 2)
    return arithmetic(op, inputs[0], inputs[1]);
  if (op == "Neg" && inputs.size() == 1) {
    Known negated = inputs[0];
    for (int64_t &value : negated.values)
      value = -value;
    return negated;
  }
  if (op == "ConstantOfShape" && inputs.size() == 1)
    return constantOfShape(node, inputs[0]);
  if (op == "Range" && inputs.size() == 3)
    return range(inputs);
  if (op == "Unsqueeze")
    return unsqueeze(node, inputs);
  if (op == "Squeeze")
    return squeeze(node, inputs);
  if (op == "Gather" && inputs.size() == 2)
    return gather(node, inputs);
  if (op == "Concat")
    return concat(inputs);
  if (op == "Slice")
    return slice(inputs);
  return std::nullopt;
}

// The dims of a value whose type inference made them all static, or of an
// initializer.
std::optional<std::vector<int64_t>> staticDims(const onnx::GraphProto &graph,
                                               const std::string &name) {
  auto find = [&](const auto &values) -> const onnx::ValueInfoProto * {
    for (const auto &value : values)
      if (value.name() == name)
        return &value;
    return nullptr;
  };
  const onnx::ValueInfoProto *info = find(graph.value_info());
  info = info ? info : find(graph.input());
  info = info ? info : find(graph.output());
  if (!info)
    for (const onnx::TensorProto &tensor : graph.initializer())
      if (tensor.name() == name)
        return std::vector<int64_t>(tensor.dims().begin(), tensor.dims().end());
  if (!info || !info->type().has_tensor_type() || !info->type().tensor_type().has_shape())
    return std::nullopt;
  std::vector<int64_t> dims;
  for (const auto &dim : info->type().tensor_type().shape().dim()) {
    if (!dim.has_dim_value())
      return std::nullopt;
    dims.push_back(dim.dim_value());
  }
  return dims;
}

// Shape (with its start and end) of a value with static dims.
std::optional<Known> staticShape(const onnx::GraphProto &graph, const onnx::NodeProto &node) {
  if (node.input_size() != 1)
    return std::nullopt;
  auto dims = staticDims(graph, node.input(0));
  if (!dims)
    return std::nullopt;
  int64_t rank = static_cast<int64_t>(dims->size());
  auto clampAxis = [rank](int64_t axis) {
    return std::clamp<int64_t>(axis < 0 ? axis + rank : axis, 0, rank);
  };
  int64_t start = clampAxis(intAttribute(node, "start", 0));
  int64_t end = clampAxis(intAttribute(node, "end", rank));
  Known shape{{0}, {}};
  for (int64_t d = start; d < end; ++d)
    shape.values.push_back((*dims)[static_cast<size_t>(d)]);
  shape.dims[0] = static_cast<int64_t>(shape.values.size());
  return shape;
}

// Size (the element count) of a value with static dims.
std::optional<Known> staticSize(const onnx::GraphProto &graph, const onnx::NodeProto &node) {
  if (node.input_size() != 1)
    return std::nullopt;
  auto dims = staticDims(graph, node.input(0));
  if (!dims)
    return std::nullopt;
  int64_t count = 1;
  for (int64_t dim : *dims)
    count *= dim;
  return Known{{}, {count}};
}

// One pass over the nodes in order; the names of the values it folded are
// added to `folded`.
bool foldOnce(onnx::GraphProto &graph, std::set<std::string> &folded) {
  std::map<std::string, Known> known;
  for (const auto &initializer : graph.initializer())
    if (auto value = knownOf(initializer))
      known[initializer.name()] = *value;
  std::set<std::string> outputs;
  for (const auto &output : graph.output())
    outputs.insert(output.name());

  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  bool any = false;
  for (onnx::NodeProto &node : *graph.mutable_node()) {
    std::optional<Known> value;
    bool single =
        node.output_size() == 1 && !outputs.count(node.output(0)) && node.domain().empty();
    if (single && node.op_type() == "Constant") {
      const onnx::AttributeProto *tensor = attributeOf(node, "value");
      if (tensor && tensor->has_t() && (value = knownOf(tensor->t())))
        known[node.output(0)] = *value; // kept as it is; only its value is read
      kept.Add(std::move(node));
      continue;
    }
    if (single && node.op_type() == "Shape") {
      value = staticShape(graph, node);
    } else if (single && node.op_type() == "Size") {
      value = staticSize(graph, node);
    } else if (single) {
      std::vector<Known> inputs;
      bool allKnown = node.input_size() > 0;
      for (const std::string &input : node.input()) {
        auto it = known.find(input);
        allKnown = allKnown && !input.empty() && it != known.end();
        if (allKnown)
          inputs.push_back(it->second);
      }
      if (allKnown)
        value = evaluate(node, inputs);
    }
    // Empty results stay computed (a zero-element constant does not
    // survive export unchanged), but their value is known to what reads
    // them (torch's Concat of a shape with an empty Slice of it).
    if (!value || value->values.empty() || value->values.size() > kMaxFoldedElements) {
      if (value && value->values.empty())
        known[node.output(0)] = *value;
      kept.Add(std::move(node));
      continue;
    }
    known[node.output(0)] = *value;
    *graph.add_initializer() = tensorOf(*value, node.output(0));
    folded.insert(node.output(0));
    any = true;
  }
  graph.mutable_node()->Swap(&kept);
  return any;
}

// Drops folded values nothing reads any more (links inside a chain);
// the model's own initializers stay, used or not.
void dropUnusedFolded(onnx::GraphProto &graph, const std::set<std::string> &folded) {
  std::set<std::string> used;
  for (const auto &node : graph.node())
    used.insert(node.input().begin(), node.input().end());
  for (const auto &output : graph.output())
    used.insert(output.name());
  auto &initializers = *graph.mutable_initializer();
  initializers.erase(std::remove_if(initializers.begin(), initializers.end(),
                                    [&](const onnx::TensorProto &tensor) {
                                      return folded.count(tensor.name()) &&
                                             !used.count(tensor.name());
                                    }),
                     initializers.end());
}

// The value info a node's output `name` has in the graph (an output's own,
// else an entry of value_info, added if missing).
onnx::ValueInfoProto &valueInfo(onnx::GraphProto &graph, const std::string &name) {
  for (auto &output : *graph.mutable_output())
    if (output.name() == name)
      return output;
  for (auto &value : *graph.mutable_value_info())
    if (value.name() == name)
      return value;
  onnx::ValueInfoProto &added = *graph.add_value_info();
  added.set_name(name);
  return added;
}

// Einsum's output dims from its equation.
std::optional<std::vector<int64_t>> einsumDims(const onnx::GraphProto &graph,
                                               const onnx::NodeProto &node) {
  const onnx::AttributeProto *equation = attributeOf(node, "equation");
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> ranks;
  for (const std::string &input : node.input()) {
    auto dims = staticDims(graph, input);
    if (!dims)
      return std::nullopt;
    shapes.push_back(*dims);
    ranks.push_back(static_cast<int64_t>(dims->size()));
  }
  auto parsed = equation ? parseEinsum(equation->s(), ranks) : std::nullopt;
  auto sizes = parsed ? einsumSizes(*parsed, shapes) : std::nullopt;
  if (!sizes)
    return std::nullopt;
  std::vector<int64_t> dims;
  for (int label : parsed->output)
    dims.push_back((*sizes)[static_cast<size_t>(label)]);
  return dims;
}

// The value of a one-element initializer or Constant node of any numeric
// type.
std::optional<double> scalarConstant(const onnx::GraphProto &graph, const std::string &name) {
  for (const onnx::TensorProto &tensor : graph.initializer())
    if (tensor.name() == name)
      return scalarOf(tensor);
  for (const onnx::NodeProto &node : graph.node())
    if (node.op_type() == "Constant" && node.domain().empty() && node.output_size() == 1 &&
        node.output(0) == name) {
      const onnx::AttributeProto *value = attributeOf(node, "value");
      return value && value->has_t() ? scalarOf(value->t()) : std::nullopt;
    }
  return std::nullopt;
}

// OneHot's output dims: the indices' with the depth (a constant of any
// numeric type, as ONNX 1.12's inference does not read) inserted at axis.
std::optional<std::vector<int64_t>> oneHotDims(const onnx::GraphProto &graph,
                                               const onnx::NodeProto &node) {
  if (node.input_size() != 3)
    return std::nullopt;
  auto dims = staticDims(graph, node.input(0));
  auto depth = scalarConstant(graph, node.input(1));
  if (!dims || !depth || *depth < 1)
    return std::nullopt;
  int64_t rank = static_cast<int64_t>(dims->size()) + 1;
  int64_t axis = intAttribute(node, "axis", -1);
  axis = axis < 0 ? axis + rank : axis;
  if (axis < 0 || axis >= rank)
    return std::nullopt;
  dims->insert(dims->begin() + axis, static_cast<int64_t>(*depth));
  return dims;
}

// Range's output dims from constant bounds of any numeric type (ONNX
// 1.12's inference reads only initializers of its own type).
std::optional<std::vector<int64_t>> rangeDims(const onnx::GraphProto &graph,
                                              const onnx::NodeProto &node) {
  if (node.input_size() != 3)
    return std::nullopt;
  auto start = scalarConstant(graph, node.input(0));
  auto limit = scalarConstant(graph, node.input(1));
  auto delta = scalarConstant(graph, node.input(2));
  if (!start || !limit || !delta || *delta == 0)
    return std::nullopt;
  double count = std::ceil((*limit - *start) / *delta);
  if (!(count < double{1 << 30}))
    return std::nullopt;
  return std::vector<int64_t>{std::max<int64_t>(static_cast<int64_t>(count), 0)};
}

// MaxUnpool's output dims when its output_shape is a constant.
std::optional<std::vector<int64_t>> maxUnpoolDims(const onnx::GraphProto &graph,
                                                  const onnx::NodeProto &node) {
  if (node.input_size() != 3)
    return std::nullopt;
  auto data = staticDims(graph, node.input(0));
  for (const onnx::TensorProto &tensor : graph.initializer())
    if (tensor.name() == node.input(2))
      if (auto shape = knownOf(tensor);
          shape && data && shape->values.size() == data->size() &&
          std::all_of(shape->values.begin(), shape->values.end(), [](int64_t d) { return d >= 0; }))
        return shape->values;
  return std::nullopt;
}

// Sets the output dims ONNX's inference (1.12) leaves open where they
// follow from what is known: Einsum's (it gives only the rank), OneHot's,
// Range's and MaxUnpool's. True when it set any.
bool completeOpenShapes(onnx::GraphProto &graph) {
  bool any = false;
  static const std::set<std::string> kCompleted = {"Einsum", "OneHot", "Range", "MaxUnpool"};
  for (const onnx::NodeProto &node : graph.node()) {
    // The op first: finding a value's shape searches the graph.
    if (!node.domain().empty() || !kCompleted.count(node.op_type()) || node.output_size() != 1 ||
        staticDims(graph, node.output(0)))
      continue;
    std::optional<std::vector<int64_t>> dims;
    if (node.op_type() == "Einsum")
      dims = einsumDims(graph, node);
    else if (node.op_type() == "OneHot")
      dims = oneHotDims(graph, node);
    else if (node.op_type() == "Range")
      dims = rangeDims(graph, node);
    else if (node.op_type() == "MaxUnpool")
      dims = maxUnpoolDims(graph, node);
    if (!dims)
      continue;
    auto *shape =
        valueInfo(graph, node.output(0)).mutable_type()->mutable_tensor_type()->mutable_shape();
    shape->clear_dim();
    for (int64_t dim : *dims)
      shape->add_dim()->set_dim_value(dim);
    any = true;
  }
  return any;
}

// Fills in the shapes ONNX's inference leaves open and infers again from
// them (without forgetting), until nothing more is known.
void completeShapes(onnx::ModelProto &model) {
  ::onnx::ShapeInferenceOptions inference{/*check_type=*/false, /*error_mode=*/0,
                                          /*enable_data_propagation=*/true};
  while (completeOpenShapes(*model.mutable_graph()))
    ::onnx::shape_inference::InferShapes(model, ::onnx::OpSchemaRegistry::Instance(), inference);
}

// STFT's output dims, [batch, frames, bins, 2], when its inputs give them.
std::optional<std::vector<int64_t>> stftDims(onnx::InferenceContext &context) {
  const onnx::TypeProto *signal = context.getInputType(0);
  if (!signal || !signal->tensor_type().has_shape() ||
      signal->tensor_type().shape().dim_size() != 3 || context.getNumInputs() < 2)
    return std::nullopt;
  const auto &shape = signal->tensor_type().shape();
  if (!shape.dim(0).has_dim_value() || !shape.dim(1).has_dim_value())
    return std::nullopt;
  const onnx::TensorProto *stepData = context.getInputData(1);
  std::optional<double> step = stepData ? scalarOf(*stepData) : std::nullopt, length;
  if (const onnx::TensorProto *lengthData =
          context.getNumInputs() > 3 ? context.getInputData(3) : nullptr)
    length = scalarOf(*lengthData);
  else if (const onnx::TypeProto *window =
               context.getNumInputs() > 2 ? context.getInputType(2) : nullptr;
           window && window->tensor_type().shape().dim_size() == 1 &&
           window->tensor_type().shape().dim(0).has_dim_value())
    length = static_cast<double>(window->tensor_type().shape().dim(0).dim_value());
  int64_t signalLength = shape.dim(1).dim_value();
  if (!step || !length || *step < 1 || *length < 1 || *length > static_cast<double>(signalLength))
    return std::nullopt;
  auto frameLength = static_cast<int64_t>(*length), frameStep = static_cast<int64_t>(*step);
  const onnx::AttributeProto *onesided = context.getAttribute("onesided");
  int64_t bins = !onesided || onesided->i() != 0 ? frameLength / 2 + 1 : frameLength;
  return std::vector<int64_t>{shape.dim(0).dim_value(),
                              (signalLength - frameLength) / frameStep + 1, bins, 2};
}

} // namespace

std::optional<double> scalarOf(const onnx::TensorProto &tensor) {
  std::optional<std::vector<double>> value;
  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT:
    value = valuesAs<float, double>(tensor, 1);
    break;
  case onnx::TensorProto::DOUBLE:
    value = valuesAs<double, double>(tensor, 1);
    break;
  case onnx::TensorProto::INT64:
    value = valuesAs<int64_t, double>(tensor, 1);
    break;
  case onnx::TensorProto::INT32:
    value = valuesAs<int32_t, double>(tensor, 1);
    break;
  default:
    return std::nullopt;
  }
  return value ? std::optional<double>(value->front()) : std::nullopt;
}

void correctStftInference() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto *schema = const_cast<onnx::OpSchema *>(onnx::OpSchemaRegistry::Schema("STFT", 17, ""));
    if (!schema || !schema->has_type_and_shape_inference_function())
      return;
    onnx::InferenceFunction original = schema->GetTypeAndShapeInferenceFunction();
    // The original still checks the inputs and sets the element type.
    schema->TypeAndShapeInferenceFunction([original](onnx::InferenceContext &context) {
      original(context);
      std::optional<std::vector<int64_t>> dims = stftDims(context);
      if (!dims)
        return;
      auto *shape = context.getOutputType(0)->mutable_tensor_type()->mutable_shape();
      shape->clear_dim();
      for (int64_t dim : *dims)
        shape->add_dim()->set_dim_value(dim);
    });
  });
}

void foldShapeComputations(onnx::ModelProto &model, const std::function<void()> &inferShapes) {
  // Before IR version 4 every initializer must also be a graph input.
  if (model.ir_version() < 4)
    return;
  std::set<std::string> folded;
  // Each round removes nodes, so this ends; a chain through every layer
  // (ShuffleNet) takes a round per layer.
  completeShapes(model);
  while (foldOnce(*model.mutable_graph(), folded)) {
    inferShapes();
    completeShapes(model);
  }
  dropUnusedFolded(*model.mutable_graph(), folded);
}

} // namespace graceful::compiler
