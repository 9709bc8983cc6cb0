#include "HostKernels.h"

#include "../Import/OnnxProto.h"
#include "Prepare.h"
#include "graceful/support/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <type_traits>

namespace graceful::compiler {

namespace {

llvm::Error nodeError(const onnx::NodeProto &node, const std::string &what) {
  return makeError(ErrorKind::BadInput, labelOf(node) + ": " + what);
}

// Calls f with a value of the tensor's C++ element type (bool as uint8_t);
// false for the half types, which these kernels do not read.
template <typename F> bool withElementType(DType dtype, F &&f) {
  switch (dtype) {
  case DType::Float32:
    f(float{});
    return true;
  case DType::Float64:
    f(double{});
    return true;
  case DType::Int64:
    f(int64_t{});
    return true;
  case DType::Int32:
    f(int32_t{});
    return true;
  case DType::Int16:
    f(int16_t{});
    return true;
  case DType::Int8:
    f(int8_t{});
    return true;
  case DType::UInt8:
  case DType::Bool:
    f(uint8_t{});
    return true;
  case DType::UInt16:
    f(uint16_t{});
    return true;
  case DType::UInt32:
    f(uint32_t{});
    return true;
  case DType::UInt64:
    f(uint64_t{});
    return true;
  default:
    return false;
  }
}

Tensor int64Tensor(std::vector<int64_t> shape, const std::vector<int64_t> &values) {
  Tensor tensor = makeTensor(DType::Int64, std::move(shape));
  std::memcpy(tensor.bytes.data(), values.data(), values.size() * sizeof(int64_t));
  return tensor;
}

// NonZero(X): the coordinates of X's non-zero elements, [rank, count], in
// C order (a scalar counts as one element of a 1-D tensor).
llvm::Expected<std::vector<Tensor>> nonZero(const onnx::NodeProto &node, const Tensor &x) {
  std::vector<int64_t> positions;
  bool known = withElementType(x.dtype, [&](auto element) {
    using T = decltype(element);
    const T *values = x.data<T>();
    for (int64_t i = 0; i < x.elementCount(); ++i)
      if (values[i] != T{0})
        positions.push_back(i);
  });
  if (!known)
    return nodeError(node, "unsupported: " + dtypeName(x.dtype) + " input");
  std::vector<int64_t> shape = x.shape.empty() ? std::vector<int64_t>{1} : x.shape;
  std::vector<int64_t> strides = rowMajorStrides(shape), coordinates;
  auto count = static_cast<int64_t>(positions.size());
  coordinates.resize(shape.size() * positions.size());
  for (size_t d = 0; d < shape.size(); ++d)
    for (size_t k = 0; k < positions.size(); ++k)
      coordinates[d * positions.size() + k] = positions[k] / strides[d] % shape[d];
  return std::vector<Tensor>{int64Tensor({static_cast<int64_t>(shape.size()), count}, coordinates)};
}

// Compress(input, condition, axis?): the slices along `axis` (or elements of
// the flattened input) whose condition is true; a condition shorter than
// the axis leaves the rest out.
llvm::Expected<std::vector<Tensor>> compress(const onnx::NodeProto &node, const Tensor &input,
                                             const Tensor &condition) {
  if (condition.shape.size() != 1 || condition.dtype != DType::Bool)
    return nodeError(node, "condition must be a 1-D bool tensor, got " + condition.describe());
  bool flat = !attributeOf(node, "axis");
  std::vector<int64_t> shape = flat ? std::vector<int64_t>{input.elementCount()} : input.shape;
  auto rank = static_cast<int64_t>(shape.size());
  int64_t axis = flat ? 0 : intAttribute(node, "axis", 0);
  axis = axis < 0 ? axis + rank : axis;
  if (axis < 0 || axis >= rank)
    return nodeError(node, "axis out of range for " + input.describe());
  int64_t outer = 1, inner = 1, size = shape[static_cast<size_t>(axis)];
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[static_cast<size_t>(d)];
  for (int64_t d = axis + 1; d < rank; ++d)
    inner *= shape[static_cast<size_t>(d)];
  if (condition.shape[0] > size)
    return nodeError(node, "a condition of " + std::to_string(condition.shape[0]) +
                               " values for an axis of " + std::to_string(size));
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < condition.shape[0]; ++i)
    if (condition.data<uint8_t>()[i] != 0)
      kept.push_back(i);
  shape[static_cast<size_t>(axis)] = static_cast<int64_t>(kept.size());
  Tensor output = makeTensor(input.dtype, shape);
  size_t width = dtypeSize(input.dtype) * static_cast<size_t>(inner);
  char *to = output.bytes.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : kept) {
      std::memcpy(to, input.bytes.data() + static_cast<size_t>(o * size + i) * width, width);
      to += width;
    }
  return std::vector<Tensor>{std::move(output)};
}

// The order Unique sorts by: NaN after every number and equal to NaN, so
// the order stays strict and weak (NumPy collapses NaNs the same way).
template <typename T> bool before(T u, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(u))
      return false;
    if (std::isnan(v))
      return true;
  }
  return u < v;
}

// Unique(X, axis?, sorted): the distinct elements (or slices along axis),
// ascending when sorted, else in order of first occurrence; with the first
// occurrence of each, the index of each input's value among them, and
// their counts.
llvm::Expected<std::vector<Tensor>> unique(const onnx::NodeProto &node, const Tensor &x) {
  bool flat = !attributeOf(node, "axis");
  std::vector<int64_t> shape = flat ? std::vector<int64_t>{x.elementCount()} : x.shape;
  auto rank = static_cast<int64_t>(shape.size());
  int64_t axis = flat ? 0 : intAttribute(node, "axis", 0);
  axis = axis < 0 ? axis + rank : axis;
  if (axis < 0 || axis >= rank)
    return nodeError(node, "axis out of range for " + x.describe());
  int64_t outer = 1, inner = 1, size = shape[static_cast<size_t>(axis)];
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[static_cast<size_t>(d)];
  for (int64_t d = axis + 1; d < rank; ++d)
    inner *= shape[static_cast<size_t>(d)];
  // Slice i is the elements (o, i, k) for every o and k: compared in that order.
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  std::function<int(int64_t, int64_t)> compare;
  bool known = withElementType(x.dtype, [&](auto element) {
    using T = decltype(element);
    const T *values = x.data<T>();
    compare = [=](int64_t a, int64_t b) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < inner; ++k) {
          T u = values[(o * size + a) * inner + k], v = values[(o * size + b) * inner + k];
          if (before(u, v))
            return -1;
          if (before(v, u))
            return 1;
        }
      return 0;
    };
  });
  if (!known)
    return nodeError(node, "unsupported: " + dtypeName(x.dtype) + " input");
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return compare(a, b) < 0; });
  // Groups of equal slices, each led by its first occurrence (stable sort).
  std::vector<int64_t> firsts, counts, inverse(static_cast<size_t>(size));
  std::vector<int64_t> groupOf(static_cast<size_t>(size));
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || compare(order[i - 1], order[i]) != 0) {
      firsts.push_back(order[i]);
      counts.push_back(0);
    }
    groupOf[static_cast<size_t>(order[i])] = static_cast<int64_t>(firsts.size() - 1);
    ++counts.back();
  }
  std::vector<int64_t> rankOfGroup(firsts.size());
  std::iota(rankOfGroup.begin(), rankOfGroup.end(), 0);
  if (intAttribute(node, "sorted", 1) == 0) {
    std::vector<int64_t> byFirst(firsts.size());
    std::iota(byFirst.begin(), byFirst.end(), 0);
    std::sort(byFirst.begin(), byFirst.end(), [&](int64_t a, int64_t b) {
      return firsts[static_cast<size_t>(a)] < firsts[static_cast<size_t>(b)];
    });
    std::vector<int64_t> reorderedFirsts, reorderedCounts;
    for (size_t r = 0; r < byFirst.size(); ++r) {
      rankOfGroup[static_cast<size_t>(byFirst[r])] = static_cast<int64_t>(r);
      reorderedFirsts.push_back(firsts[static_cast<size_t>(byFirst[r])]);
      reorderedCounts.push_back(counts[static_cast<size_t>(byFirst[r])]);
    }
    firsts = reorderedFirsts;
    counts = reorderedCounts;
  }
  for (int64_t i = 0; i < size; ++i)
    inverse[static_cast<size_t>(i)] =
        rankOfGroup[static_cast<size_t>(groupOf[static_cast<size_t>(i)])];
  auto distinct = static_cast<int64_t>(firsts.size());
  shape[static_cast<size_t>(axis)] = distinct;
  Tensor y = makeTensor(x.dtype, shape);
  size_t width = dtypeSize(x.dtype) * static_cast<size_t>(inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t u = 0; u < distinct; ++u)
      std::memcpy(y.bytes.data() + static_cast<size_t>(o * distinct + u) * width,
                  x.bytes.data() +
                      static_cast<size_t>(o * size + firsts[static_cast<size_t>(u)]) * width,
                  width);
  return std::vector<Tensor>{std::move(y), int64Tensor({distinct}, firsts),
                             int64Tensor({size}, inverse), int64Tensor({distinct}, counts)};
}

struct Box {
  float yMin, xMin, yMax, xMax;
};

Box boxAt(const float *data, bool centered) {
  if (centered) {
    float xc = data[0], yc = data[1], w = data[2], h = data[3];
    return {yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2};
  }
  return {std::min(data[0], data[2]), std::min(data[1], data[3]), std::max(data[0], data[2]),
          std::max(data[1], data[3])};
}

// True when a and b overlap by more than `threshold` of their union.
bool suppresses(const Box &a, const Box &b, float threshold) {
  float yMin = std::max(a.yMin, b.yMin), xMin = std::max(a.xMin, b.xMin);
  float yMax = std::min(a.yMax, b.yMax), xMax = std::min(a.xMax, b.xMax);
  if (yMax <= yMin || xMax <= xMin)
    return false;
  float areaA = (a.yMax - a.yMin) * (a.xMax - a.xMin),
        areaB = (b.yMax - b.yMin) * (b.xMax - b.xMin);
  if (areaA <= 0 || areaB <= 0)
    return false;
  float intersection = (yMax - yMin) * (xMax - xMin);
  float united = areaA + areaB - intersection;
  return united > 0 && intersection / united > threshold;
}

std::optional<double> scalarOf(const std::optional<Tensor> &tensor) {
  if (!tensor || tensor->elementCount() != 1)
    return std::nullopt;
  if (tensor->dtype == DType::Float32)
    return tensor->data<float>()[0];
  if (tensor->dtype == DType::Int64)
    return static_cast<double>(tensor->data<int64_t>()[0]);
  return std::nullopt;
}

// NonMaxSuppression(boxes [B, N, 4], scores [B, C, N], max per class?,
// iou_threshold?, score_threshold?): per batch and class, boxes above the
// score threshold taken by descending score (ties by index) unless one
// already taken overlaps them by more than the IoU threshold; [K, 3] of
// (batch, class, box).
llvm::Expected<std::vector<Tensor>>
nonMaxSuppression(const onnx::NodeProto &node, const std::vector<std::optional<Tensor>> &in) {
  const Tensor &boxes = *in[0], &scores = *in[1];
  if (boxes.dtype != DType::Float32 || scores.dtype != DType::Float32 || boxes.shape.size() != 3 ||
      boxes.shape[2] != 4 || scores.shape.size() != 3 || scores.shape[0] != boxes.shape[0] ||
      scores.shape[2] != boxes.shape[1])
    return nodeError(node, "boxes must be float [B, N, 4] and scores float [B, C, N], got " +
                               boxes.describe() + " and " + scores.describe());
  auto optionalScalar = [&](size_t i, double fallback) -> llvm::Expected<double> {
    if (i >= in.size() || !in[i])
      return fallback;
    if (auto value = scalarOf(in[i]))
      return *value;
    return nodeError(node,
                     "input " + std::to_string(i) + " must be a scalar, got " + in[i]->describe());
  };
  auto limit = optionalScalar(2, 0), iou = optionalScalar(3, 0),
       floor = optionalScalar(4, -INFINITY);
  if (!limit || !iou || !floor) {
    llvm::Error errors = llvm::joinErrors(limit.takeError(), iou.takeError());
    return llvm::joinErrors(std::move(errors), floor.takeError());
  }
  bool scoreFloor = in.size() > 4 && in[4];
  bool centered = intAttribute(node, "center_point_box", 0) != 0;
  int64_t batches = boxes.shape[0], count = boxes.shape[1], classes = scores.shape[1];
  std::vector<int64_t> selected;
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t c = 0; c < classes; ++c) {
      const float *classScores = scores.data<float>() + (b * classes + c) * count;
      std::vector<int64_t> candidates;
      for (int64_t i = 0; i < count; ++i)
        if (!scoreFloor || classScores[i] > static_cast<float>(*floor))
          candidates.push_back(i);
      std::stable_sort(candidates.begin(), candidates.end(),
                       [&](int64_t i, int64_t j) { return classScores[i] > classScores[j]; });
      std::vector<Box> kept;
      for (int64_t i : candidates) {
        if (static_cast<double>(kept.size()) >= *limit)
          break;
        Box box = boxAt(boxes.data<float>() + (b * count + i) * 4, centered);
        if (std::any_of(kept.begin(), kept.end(), [&](const Box &other) {
              return suppresses(box, other, static_cast<float>(*iou));
            }))
          continue;
        kept.push_back(box);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  return std::vector<Tensor>{int64Tensor({static_cast<int64_t>(selected.size() / 3), 3}, selected)};
}

} // namespace

bool hasHostKernel(const onnx::NodeProto &node) {
  const std::string &op = node.op_type();
  return node.domain().empty() &&
         (op == "NonZero" || op == "Compress" || op == "Unique" || op == "NonMaxSuppression");
}

llvm::Expected<std::vector<Tensor>>
evaluateOnHost(const onnx::NodeProto &node, const std::vector<std::optional<Tensor>> &inputs) {
  const std::string &op = node.op_type();
  auto required = [&](size_t count) {
    return inputs.size() >= count &&
           std::all_of(inputs.begin(), inputs.begin() + static_cast<long>(count),
                       [](const std::optional<Tensor> &t) { return t.has_value(); });
  };
  if (op == "NonZero" && required(1))
    return nonZero(node, *inputs[0]);
  if (op == "Compress" && required(2))
    return compress(node, *inputs[0], *inputs[1]);
  if (op == "Unique" && required(1))
    return unique(node, *inputs[0]);
  if (op == "NonMaxSuppression" && required(2))
    return nonMaxSuppression(node, inputs);
  return nodeError(node, "its required inputs are missing");
}

} // namespace graceful::compiler
