// Resize: nearest, linear and cubic
// interpolation with every coordinate transformation of opset 13. Shapes
// and scales are known when compiling, so each axis's taps (which input
// elements each output element reads, with what weight) are computed here,
// following the ONNX reference (onnx/backend/test/case/node/resize.py),
// and the interpolation runs one axis at a time as a linalg.generic that
// sums its taps: the reference's n-D interpolation is the same separable
// product.
#include "Lowering.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

using utils::IteratorType;

struct ResizeMode {
  std::string mode = "nearest", transform = "half_pixel", nearest = "round_prefer_floor";
  double cubicA = -0.75, extrapolation = 0.0;
  bool excludeOutside = false;
};

// One axis: for each output position, `taps` (input index, weight) pairs,
// or extrapolated (tf_crop_and_resize outside the input).
struct AxisTaps {
  int64_t width = 0; // taps per output position
  std::vector<int64_t> indices;
  std::vector<double> weights;
  std::vector<bool> extrapolated;
};

std::optional<double> sourceCoordinate(const ResizeMode &m, double x, double scale, int64_t inWidth,
                                       double roiStart, double roiEnd) {
  double outWidth = scale * static_cast<double>(inWidth);
  double in = static_cast<double>(inWidth);
  if (m.transform == "align_corners")
    return outWidth == 1 ? 0.0 : x * (in - 1) / (outWidth - 1);
  if (m.transform == "asymmetric")
    return x / scale;
  if (m.transform == "tf_half_pixel_for_nn")
    return (x + 0.5) / scale;
  if (m.transform == "pytorch_half_pixel")
    return outWidth == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  if (m.transform == "half_pixel")
    return (x + 0.5) / scale - 0.5;
  // tf_crop_and_resize
  double source = outWidth == 1 ? (roiEnd - roiStart) * (in - 1) / 2
                                : x * (roiEnd - roiStart) * (in - 1) / (outWidth - 1);
  return source + roiStart * (in - 1);
}

std::vector<double> coefficients(const ResizeMode &m, double ratio, bool integral) {
  if (m.mode == "linear")
    return {1 - ratio, ratio};
  if (m.mode == "cubic") {
    double a = m.cubicA, r1 = ratio + 1, s = 1 - ratio, s1 = s + 1;
    return {((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a,
            ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1, ((a + 2) * s - (a + 3)) * s * s + 1,
            ((a * s1 - 5 * a) * s1 + 8 * a) * s1 - 4 * a};
  }
  if (integral || m.nearest == "ceil")
    return {0, 1};
  if (m.nearest == "round_prefer_floor")
    return {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};
  if (m.nearest == "round_prefer_ceil")
    return {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
  return {1, 0}; // floor
}

// The n indexes of [0, limit) nearest to x, the smaller first among equals,
// in ascending order (the reference's get_neighbor_idxes).
std::vector<int64_t> neighbours(double x, size_t n, int64_t limit) {
  std::vector<int64_t> all(static_cast<size_t>(limit));
  std::iota(all.begin(), all.end(), 0);
  std::stable_sort(all.begin(), all.end(), [x](int64_t a, int64_t b) {
    return std::fabs(x - static_cast<double>(a)) < std::fabs(x - static_cast<double>(b));
  });
  all.resize(std::min(n, all.size()));
  std::sort(all.begin(), all.end());
  return all;
}

AxisTaps axisTaps(const ResizeMode &m, int64_t inWidth, int64_t outWidth, double scale,
                  double roiStart, double roiEnd) {
  AxisTaps taps;
  for (int64_t o = 0; o < outWidth; ++o) {
    double x = *sourceCoordinate(m, static_cast<double>(o), scale, inWidth, roiStart, roiEnd);
    bool outside =
        m.transform == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(inWidth - 1));
    double floorX = std::floor(x);
    bool integral = x == floorX;
    std::vector<double> coeffs = coefficients(m, integral ? 1.0 : x - floorX, integral);
    size_t n = coeffs.size();
    int64_t pad = static_cast<int64_t>((n + 1) / 2);
    std::vector<int64_t> picked = neighbours(x + static_cast<double>(pad), n, inWidth + 2 * pad);
    if (m.excludeOutside) {
      double sum = 0;
      for (size_t i = 0; i < n; ++i) {
        int64_t at = picked[i] - pad;
        if (at < 0 || at >= inWidth)
          coeffs[i] = 0;
        sum += coeffs[i];
      }
      for (double &c : coeffs)
        c /= sum;
    }
    // Nearest reads the one neighbour its coefficients pick.
    if (m.mode == "nearest") {
      size_t chosen = coeffs[0] != 0 ? 0 : 1;
      picked = {picked[chosen]};
      coeffs = {1.0};
    }
    taps.width = static_cast<int64_t>(coeffs.size());
    for (size_t i = 0; i < coeffs.size(); ++i) {
      // Edge padding: a neighbour past either end reads the end.
      taps.indices.push_back(std::clamp<int64_t>(picked[i] - pad, 0, inWidth - 1));
      taps.weights.push_back(coeffs[i]);
    }
    taps.extrapolated.push_back(outside);
  }
  return taps;
}

// Whether every output position reads only the input element at its own
// index, with weight 1 in all (an axis the resize leaves alone).
bool isIdentity(const AxisTaps &taps, int64_t inWidth) {
  if (static_cast<int64_t>(taps.extrapolated.size()) != inWidth)
    return false;
  for (int64_t o = 0; o < inWidth; ++o) {
    double own = 0;
    for (int64_t t = 0; t < taps.width; ++t) {
      size_t at = static_cast<size_t>(o * taps.width + t);
      if (taps.indices[at] == o)
        own += taps.weights[at];
      else if (taps.weights[at] != 0)
        return false;
    }
    if (own != 1.0 || taps.extrapolated[static_cast<size_t>(o)])
      return false;
  }
  return true;
}

// out[..., o, ...] = sum_t w[o, t] * in[..., idx[o, t], ...] along `axis`
// (nearest: in[..., idx[o], ...] itself), or the extrapolation value.
Value interpolateAxis(OpBuilder &b, Location loc, Value in, int64_t axis, const AxisTaps &taps,
                      int64_t outWidth, const ResizeMode &m) {
  auto inType = cast<RankedTensorType>(in.getType());
  Type element = inType.getElementType();
  SmallVector<int64_t> shape(inType.getShape());
  shape[axis] = outWidth;
  auto outType = RankedTensorType::get(shape, element);
  unsigned rank = static_cast<unsigned>(shape.size());
  auto tapType = [&](Type t) { return RankedTensorType::get({outWidth, taps.width}, t); };
  Value indices = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(tapType(b.getI64Type()), ArrayRef<int64_t>(taps.indices)));
  SmallVector<Attribute> weightAttrs, extrapolatedAttrs;
  for (double w : taps.weights)
    weightAttrs.push_back(b.getFloatAttr(element, w));
  for (bool e : taps.extrapolated)
    extrapolatedAttrs.push_back(b.getBoolAttr(e));
  Value weights =
      b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(tapType(element), weightAttrs));
  Value outside = b.create<arith::ConstantOp>(
      loc,
      DenseElementsAttr::get(RankedTensorType::get({outWidth}, b.getI1Type()), extrapolatedAttrs));
  AffineExpr o = b.getAffineDimExpr(static_cast<unsigned>(axis)), t = b.getAffineDimExpr(rank);
  SmallVector<AffineMap> maps{AffineMap::get(rank + 1, 0, {o, t}, b.getContext()),
                              AffineMap::get(rank + 1, 0, {o, t}, b.getContext()),
                              AffineMap::get(rank + 1, 0, {o}, b.getContext())};
  SmallVector<AffineExpr> position;
  for (unsigned d = 0; d < rank; ++d)
    position.push_back(b.getAffineDimExpr(d));
  maps.push_back(AffineMap::get(rank + 1, 0, position, b.getContext()));
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  iterators.push_back(IteratorType::reduction);
  bool nearest = m.mode == "nearest";
  Value init = filledTensor(b, loc, outType, scalarConstant(b, loc, element, 0.0));
  return b
      .create<linalg::GenericOp>(
          loc, TypeRange{outType}, ValueRange{indices, weights, outside}, ValueRange{init}, maps,
          iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            SmallVector<Value> at;
            for (unsigned d = 0; d < rank; ++d)
              at.push_back(
                  d == axis
                      ? nb.create<arith::IndexCastOp>(l, nb.getIndexType(), args[0]).getResult()
                      : nb.create<linalg::IndexOp>(l, d).getResult());
            Value value = nb.create<tensor::ExtractOp>(l, in, at);
            Value sum = nearest ? value : add(nb, l, args[3], mul(nb, l, args[1], value));
            Value extrapolated = scalarConstant(nb, l, element, m.extrapolation);
            nb.create<linalg::YieldOp>(
                l, nb.create<arith::SelectOp>(l, args[2], extrapolated, sum).getResult());
          })
      .getResult(0);
}

FailureOr<ResizeMode> resizeMode(ir::NodeOp node) {
  ResizeMode m;
  auto text = [&](StringRef name, std::string &into) {
    if (auto attr = dyn_cast_or_null<StringAttr>(node.attr(name)))
      into = attr.getValue().str();
  };
  text("mode", m.mode);
  text("coordinate_transformation_mode", m.transform);
  text("nearest_mode", m.nearest);
  m.cubicA = node.floatAttr("cubic_coeff_a", -0.75f);
  m.extrapolation = node.floatAttr("extrapolation_value", 0.0f);
  m.excludeOutside = node.intAttr("exclude_outside", 0) != 0;
  if (m.mode != "nearest" && m.mode != "linear" && m.mode != "cubic") {
    (void)unsupported(node, "mode '" + m.mode + "'");
    return failure();
  }
  static const char *transforms[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                     "asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn"};
  if (!llvm::is_contained(transforms, m.transform)) {
    (void)unsupported(node, "coordinate_transformation_mode '" + m.transform + "'");
    return failure();
  }
  static const char *roundings[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  if (!llvm::is_contained(roundings, m.nearest)) {
    (void)unsupported(node, "nearest_mode '" + m.nearest + "'");
    return failure();
  }
  for (StringRef attr : {"antialias", "axes", "keep_aspect_ratio_policy"})
    if (node.attr(attr)) {
      (void)unsupported(node, "attribute '" + attr + "'");
      return failure();
    }
  return m;
}

// Resize(X, roi, scales, sizes) from opset 11; Resize(X, scales) of opset
// 10 has the scales second. (Upsample, whose defaults differ, stays
// unsupported unless the version converter makes it a Resize.)
FailureOr<SmallVector<Value>> lowerResize(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  auto inType = cast<RankedTensorType>(x.getType());
  RankedTensorType outType = resultType(node);
  if (!isa<FloatType>(inType.getElementType()))
    return unsupported(node, "non-floating-point input");
  auto m = resizeMode(node);
  if (failed(m))
    return failure();
  int64_t rank = inType.getRank();
  bool scalesSecond = node.getInputs().size() == 2;
  std::optional<SmallVector<double>> scales, roi;
  if (Value given = input(node, scalesSecond ? 1 : 2))
    if (!(scales = constantFloats(given)) || static_cast<int64_t>(scales->size()) != rank) {
      if (cast<RankedTensorType>(given.getType()).getNumElements() != 0)
        return unsupported(node, "scales must be a constant");
      scales.reset();
    }
  if (!scalesSecond && hasInput(node, 1))
    roi = constantFloats(input(node, 1));
  if (m->transform == "tf_crop_and_resize" &&
      (!roi || static_cast<int64_t>(roi->size()) != 2 * rank))
    return unsupported(node, "tf_crop_and_resize needs a constant roi");
  Value result = x;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t inWidth = inType.getDimSize(d), outWidth = outType.getDimSize(d);
    double scale =
        scales ? (*scales)[d] : static_cast<double>(outWidth) / static_cast<double>(inWidth);
    AxisTaps taps =
        axisTaps(*m, inWidth, outWidth, scale, roi ? (*roi)[d] : 0.0, roi ? (*roi)[rank + d] : 1.0);
    if (!isIdentity(taps, inWidth))
      result = interpolateAxis(b, loc, result, d, taps, outWidth, *m);
  }
  return SmallVector<Value>{result};
}

} // namespace

void registerResizeLowerings() { registerLowering("Resize", lowerResize); }

} // namespace graceful::compiler::lowering
