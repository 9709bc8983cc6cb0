// GridSample (2-D, opset 16 and the opset 20 mode names): each output pixel
// reads the input at the grid's (x, y) in [-1, 1], by nearest, bilinear or
// bicubic interpolation, outside the input by zeros, the border or its
// reflection, as torch.nn.functional.grid_sample (the reference ONNX's test
// data was made with) computes it. The grid is data, so the coordinates are
// computed in the generated code; every read is clamped into the input.
#include "Lowering.h"

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

enum class Interpolation { Nearest, Bilinear, Bicubic };
enum class Padding { Zeros, Border, Reflection };

struct Sampler {
  Interpolation interpolation;
  Padding padding;
  bool alignCorners;
  Value image; // [N, C, H, W]
  Value n, c;  // the output pixel's sample and channel (index)
  int64_t height, width;
};

Value f(OpBuilder &b, Location loc, double value) {
  return scalarConstant(b, loc, b.getF32Type(), value);
}

// A grid coordinate in [-1, 1] as a pixel coordinate of an axis of `size`.
Value unnormalize(OpBuilder &b, Location loc, Value coordinate, int64_t size, bool alignCorners) {
  Value shifted = b.create<arith::AddFOp>(loc, coordinate, f(b, loc, 1.0));
  if (alignCorners)
    return b.create<arith::MulFOp>(loc, shifted, f(b, loc, (static_cast<double>(size) - 1) / 2));
  Value scaled = b.create<arith::MulFOp>(loc, shifted, f(b, loc, static_cast<double>(size)));
  return b.create<arith::MulFOp>(loc, b.create<arith::SubFOp>(loc, scaled, f(b, loc, 1.0)),
                                 f(b, loc, 0.5));
}

Value clampTo(OpBuilder &b, Location loc, Value x, double low, double high) {
  return clamp(b, loc, x, f(b, loc, low), f(b, loc, high));
}

// x reflected into [twiceLow / 2, twiceHigh / 2], as torch's
// reflect_coordinates; the period (two spans) is taken with one remainder,
// so a coordinate beyond 2^24 keeps its parity.
Value reflect(OpBuilder &b, Location loc, Value x, double twiceLow, double twiceHigh) {
  if (twiceLow == twiceHigh)
    return f(b, loc, 0.0);
  double low = twiceLow / 2, span = (twiceHigh - twiceLow) / 2;
  Value distance = b.create<math::AbsFOp>(loc, b.create<arith::SubFOp>(loc, x, f(b, loc, low)));
  Value phase = b.create<arith::RemFOp>(loc, distance, f(b, loc, 2 * span));
  Value backwards = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, phase, f(b, loc, span));
  Value folded = b.create<arith::SelectOp>(
      loc, backwards, b.create<arith::SubFOp>(loc, f(b, loc, 2 * span), phase), phase);
  return b.create<arith::AddFOp>(loc, folded, f(b, loc, low));
}

// A coordinate moved inside the input by the padding mode (zeros leaves it).
Value moveInside(OpBuilder &b, Location loc, const Sampler &s, Value x, int64_t size) {
  double last = static_cast<double>(size) - 1;
  if (s.padding == Padding::Border)
    return clampTo(b, loc, x, 0, last);
  if (s.padding == Padding::Reflection) {
    Value reflected =
        s.alignCorners ? reflect(b, loc, x, 0, 2 * last) : reflect(b, loc, x, -1, 2 * last + 1);
    return clampTo(b, loc, reflected, 0, last);
  }
  return x;
}

// image[n, c, y, x] for integral float coordinates, 0 outside the input.
Value pixel(OpBuilder &b, Location loc, const Sampler &s, Value y, Value x) {
  auto inside = [&](Value v, int64_t size) {
    Value above = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGE, v, f(b, loc, 0.0));
    Value below = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLE, v,
                                          f(b, loc, static_cast<double>(size) - 1));
    return b.create<arith::AndIOp>(loc, above, below);
  };
  auto index = [&](Value v, int64_t size) -> Value {
    // NaN (a NaN grid) reads index 0; the select below drops the value.
    Value isNaN = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNO, v, v);
    Value number = b.create<arith::SelectOp>(loc, isNaN, f(b, loc, 0.0), v);
    Value safe = clampTo(b, loc, number, 0, static_cast<double>(size) - 1);
    return b.create<arith::IndexCastOp>(loc, b.getIndexType(),
                                        b.create<arith::FPToSIOp>(loc, b.getI64Type(), safe));
  };
  Value within = b.create<arith::AndIOp>(loc, inside(y, s.height), inside(x, s.width));
  Value yIndex = index(y, s.height);
  Value xIndex = index(x, s.width);
  Value value = b.create<tensor::ExtractOp>(loc, s.image, ValueRange{s.n, s.c, yIndex, xIndex});
  Value zero = scalarConstant(b, loc, value.getType(), 0.0);
  return b.create<arith::SelectOp>(loc, within, value, zero);
}

Value bilinear(OpBuilder &b, Location loc, const Sampler &s, Value y, Value x) {
  Value y0 = b.create<math::FloorOp>(loc, y), x0 = b.create<math::FloorOp>(loc, x);
  Value y1 = b.create<arith::AddFOp>(loc, y0, f(b, loc, 1.0));
  Value x1 = b.create<arith::AddFOp>(loc, x0, f(b, loc, 1.0));
  Value dy = b.create<arith::SubFOp>(loc, y, y0), dx = b.create<arith::SubFOp>(loc, x, x0);
  Value ry = b.create<arith::SubFOp>(loc, f(b, loc, 1.0), dy);
  Value rx = b.create<arith::SubFOp>(loc, f(b, loc, 1.0), dx);
  Value sum = f(b, loc, 0.0);
  for (auto [row, rowWeight] : {std::pair{y0, ry}, std::pair{y1, dy}})
    for (auto [column, columnWeight] : {std::pair{x0, rx}, std::pair{x1, dx}}) {
      Value weight = b.create<arith::MulFOp>(loc, rowWeight, columnWeight);
      Value value = pixel(b, loc, s, row, column);
      sum = b.create<arith::AddFOp>(loc, sum, b.create<arith::MulFOp>(loc, value, weight));
    }
  return sum;
}

// The four cubic convolution weights (A = -0.75) of a fraction t.
SmallVector<Value> cubicWeights(OpBuilder &b, Location loc, Value t) {
  const double a = -0.75;
  auto near = [&](Value x) { // |x| <= 1: ((A + 2) x - (A + 3)) x^2 + 1
    Value inner = b.create<arith::SubFOp>(loc, b.create<arith::MulFOp>(loc, f(b, loc, a + 2), x),
                                          f(b, loc, a + 3));
    return b.create<arith::AddFOp>(
        loc, b.create<arith::MulFOp>(loc, b.create<arith::MulFOp>(loc, inner, x), x),
        f(b, loc, 1.0));
  };
  auto far = [&](Value x) { // 1 < |x| < 2: ((A x - 5A) x + 8A) x - 4A
    Value inner = b.create<arith::SubFOp>(loc, b.create<arith::MulFOp>(loc, f(b, loc, a), x),
                                          f(b, loc, 5 * a));
    Value middle =
        b.create<arith::AddFOp>(loc, b.create<arith::MulFOp>(loc, inner, x), f(b, loc, 8 * a));
    return b.create<arith::SubFOp>(loc, b.create<arith::MulFOp>(loc, middle, x), f(b, loc, 4 * a));
  };
  Value one = f(b, loc, 1.0), two = f(b, loc, 2.0);
  Value w0 = far(b.create<arith::AddFOp>(loc, t, one));
  Value w1 = near(t);
  Value w2 = near(b.create<arith::SubFOp>(loc, one, t));
  Value w3 = far(b.create<arith::SubFOp>(loc, two, t));
  return {w0, w1, w2, w3};
}

// Bicubic reads a 4 x 4 neighbourhood of the unpadded coordinate; each
// neighbour is moved inside by the padding mode before it is read.
Value bicubic(OpBuilder &b, Location loc, const Sampler &s, Value y, Value x) {
  Value y0 = b.create<math::FloorOp>(loc, y), x0 = b.create<math::FloorOp>(loc, x);
  SmallVector<Value> rowWeights = cubicWeights(b, loc, b.create<arith::SubFOp>(loc, y, y0));
  SmallVector<Value> columnWeights = cubicWeights(b, loc, b.create<arith::SubFOp>(loc, x, x0));
  Value sum = f(b, loc, 0.0);
  for (int i = 0; i < 4; ++i) {
    Value row = moveInside(b, loc, s, b.create<arith::AddFOp>(loc, y0, f(b, loc, i - 1)), s.height);
    Value rowSum = f(b, loc, 0.0);
    for (int j = 0; j < 4; ++j) {
      Value column =
          moveInside(b, loc, s, b.create<arith::AddFOp>(loc, x0, f(b, loc, j - 1)), s.width);
      Value value = pixel(b, loc, s, row, column);
      rowSum = b.create<arith::AddFOp>(loc, rowSum,
                                       b.create<arith::MulFOp>(loc, value, columnWeights[j]));
    }
    sum = b.create<arith::AddFOp>(loc, sum, b.create<arith::MulFOp>(loc, rowSum, rowWeights[i]));
  }
  return sum;
}

Value sample(OpBuilder &b, Location loc, const Sampler &s, Value gridX, Value gridY) {
  Value x = unnormalize(b, loc, gridX, s.width, s.alignCorners);
  Value y = unnormalize(b, loc, gridY, s.height, s.alignCorners);
  if (s.interpolation == Interpolation::Bicubic)
    return bicubic(b, loc, s, y, x);
  x = moveInside(b, loc, s, x, s.width);
  y = moveInside(b, loc, s, y, s.height);
  if (s.interpolation == Interpolation::Bilinear)
    return bilinear(b, loc, s, y, x);
  Value nearestY = b.create<math::RoundEvenOp>(loc, y);
  Value nearestX = b.create<math::RoundEvenOp>(loc, x);
  return pixel(b, loc, s, nearestY, nearestX);
}

FailureOr<SmallVector<Value>> lowerGridSample(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value image = input(node, 0), grid = input(node, 1);
  auto imageType = cast<RankedTensorType>(image.getType());
  RankedTensorType outType = resultType(node);
  if (imageType.getRank() != 4 || !imageType.getElementType().isF32())
    return unsupported(node, "input other than 2-D float32 images");
  auto attribute = [&](StringRef name, StringRef fallback) {
    auto value = dyn_cast_or_null<StringAttr>(node.attr(name));
    return value ? value.getValue() : fallback;
  };
  StringRef mode = attribute("mode", "bilinear"), padding = attribute("padding_mode", "zeros");
  std::optional<Interpolation> interpolation =
      mode == "nearest"                        ? Interpolation::Nearest
      : mode == "bilinear" || mode == "linear" ? Interpolation::Bilinear
      : mode == "bicubic" || mode == "cubic"   ? std::optional(Interpolation::Bicubic)
                                               : std::nullopt;
  std::optional<Padding> paddingMode = padding == "zeros"    ? Padding::Zeros
                                       : padding == "border" ? Padding::Border
                                       : padding == "reflection"
                                           ? std::optional(Padding::Reflection)
                                           : std::nullopt;
  if (!interpolation || !paddingMode)
    return invalid(node, "mode '" + mode + "' or padding_mode '" + padding + "' is not defined");
  Sampler sampler{*interpolation,
                  *paddingMode,
                  node.intAttr("align_corners", 0) != 0,
                  image,
                  Value(),
                  Value(),
                  imageType.getDimSize(2),
                  imageType.getDimSize(3)};
  MLIRContext *context = b.getContext();
  auto dim = [&](unsigned d) { return getAffineDimExpr(d, context); };
  // Iterates (n, c, h, w); the grid's pair is read with tensor.extract.
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{outType}, ValueRange{}, ValueRange{emptyTensor(b, loc, outType)},
      SmallVector<AffineMap>{AffineMap::get(4, 0, {dim(0), dim(1), dim(2), dim(3)}, context)},
      SmallVector<utils::IteratorType>(4, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange) {
        Value n = nb.create<linalg::IndexOp>(l, 0), h = nb.create<linalg::IndexOp>(l, 2);
        Value w = nb.create<linalg::IndexOp>(l, 3);
        Sampler s = sampler;
        s.n = n;
        s.c = nb.create<linalg::IndexOp>(l, 1);
        Value zero = nb.create<arith::ConstantIndexOp>(l, 0);
        Value one = nb.create<arith::ConstantIndexOp>(l, 1);
        Value gridX = nb.create<tensor::ExtractOp>(l, grid, ValueRange{n, h, w, zero});
        Value gridY = nb.create<tensor::ExtractOp>(l, grid, ValueRange{n, h, w, one});
        nb.create<linalg::YieldOp>(l, sample(nb, l, s, gridX, gridY));
      });
  return SmallVector<Value>{generic.getResult(0)};
}

} // namespace

void registerGridSampleLowerings() { registerLowering("GridSample", lowerGridSample); }

} // namespace graceful::compiler::lowering
