// RoiAlign (opsets 10 and 16): each output bin of a region averages (or
// takes the largest of) bilinear samples on a regular grid inside it, as
// ONNX Runtime's CPU kernel computes them, which the spec follows: regions
// are (x1, y1, x2, y2) scaled by spatial_scale; a sample more than one
// pixel outside the image counts as 0; one nearer is clamped onto it. With
// sampling_ratio 0 the grid adapts to the region (ceil(size / bins) points
// per bin), so its extent is computed in the generated code.
#include "Lowering.h"

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

// More sampling points than this per bin and axis fail the run (a region
// of absurd size would otherwise loop for hours).
constexpr int64_t kMaxGridPoints = 1 << 12;

struct Region {
  Value image; // [N, C, H, W]
  Value n, c;  // index
  Value startY, startX, binHeight, binWidth;
  Value gridY, gridX; // index: sampling points per bin along each axis
  int64_t height, width;
};

Value constant(OpBuilder &b, Location loc, Type type, double value) {
  return scalarConstant(b, loc, type, value);
}

// The bilinear sample at (y, x), ONNX Runtime's way: 0 when the point is
// more than a pixel outside the image; the four weighted corners summed,
// or (largest) the greatest of them, as its max mode takes.
Value sample(OpBuilder &b, Location loc, const Region &r, Value y, Value x, bool largest) {
  Type type = y.getType();
  auto at = [&](double v) { return constant(b, loc, type, v); };
  auto cmp = [&](arith::CmpFPredicate p, Value u, Value v) {
    return b.create<arith::CmpFOp>(loc, p, u, v);
  };
  Value outside = b.create<arith::OrIOp>(
      loc,
      b.create<arith::OrIOp>(loc, cmp(arith::CmpFPredicate::ULT, y, at(-1.0)),
                             cmp(arith::CmpFPredicate::UGT, y, at(static_cast<double>(r.height)))),
      b.create<arith::OrIOp>(loc, cmp(arith::CmpFPredicate::ULT, x, at(-1.0)),
                             cmp(arith::CmpFPredicate::UGT, x, at(static_cast<double>(r.width)))));
  // Corner (low, high) along an axis of `size`, and the fraction past low.
  auto axis = [&](Value v, int64_t size) {
    Value last = at(static_cast<double>(size - 1));
    Value inside = clamp(b, loc, v, at(0.0), at(static_cast<double>(size))); // NaN: outside anyway
    Value safe = b.create<arith::SelectOp>(loc, outside, at(0.0), inside);
    Value low = b.create<math::FloorOp>(loc, safe);
    Value atEdge = cmp(arith::CmpFPredicate::OGE, low, last);
    low = b.create<arith::SelectOp>(loc, atEdge, last, low);
    Value high =
        b.create<arith::SelectOp>(loc, atEdge, last, b.create<arith::AddFOp>(loc, low, at(1.0)));
    Value fraction =
        b.create<arith::SelectOp>(loc, atEdge, at(0.0), b.create<arith::SubFOp>(loc, safe, low));
    auto index = [&](Value coordinate) -> Value {
      return b.create<arith::IndexCastOp>(
          loc, b.getIndexType(), b.create<arith::FPToSIOp>(loc, b.getI64Type(), coordinate));
    };
    return std::tuple{index(low), index(high), fraction};
  };
  auto [y0, y1, ly] = axis(y, r.height);
  auto [x0, x1, lx] = axis(x, r.width);
  Value hy = b.create<arith::SubFOp>(loc, at(1.0), ly),
        hx = b.create<arith::SubFOp>(loc, at(1.0), lx);
  Value result;
  for (auto [row, rowWeight] : {std::pair{y0, hy}, std::pair{y1, ly}})
    for (auto [column, columnWeight] : {std::pair{x0, hx}, std::pair{x1, lx}}) {
      Value weight = b.create<arith::MulFOp>(loc, rowWeight, columnWeight);
      Value pixel = b.create<tensor::ExtractOp>(loc, r.image, ValueRange{r.n, r.c, row, column});
      Value weighted = b.create<arith::MulFOp>(loc, pixel, weight);
      result = !result   ? weighted
               : largest ? b.create<arith::MaximumFOp>(loc, result, weighted).getResult()
                         : b.create<arith::AddFOp>(loc, result, weighted).getResult();
    }
  return b.create<arith::SelectOp>(loc, outside, at(0.0), result);
}

// The bin (linalg dims 2 and 3) of the region: the mean or the largest of
// its samples.
Value binValue(OpBuilder &b, Location loc, const Region &r, bool largest) {
  Type type = r.startY.getType();
  auto asFloat = [&](Value index) -> Value {
    return b.create<arith::SIToFPOp>(loc, type,
                                     b.create<arith::IndexCastOp>(loc, b.getI64Type(), index));
  };
  // start + bin * size + (i + 0.5) * size / points, as ONNX Runtime orders it.
  auto coordinate = [&](OpBuilder &nb, Location l, Value start, Value bin, Value size, Value i,
                        Value points) -> Value {
    Value offset = nb.create<arith::AddFOp>(l, start, nb.create<arith::MulFOp>(l, bin, size));
    Value middle = nb.create<arith::AddFOp>(l, asFloat(i), constant(nb, l, type, 0.5));
    Value within =
        nb.create<arith::DivFOp>(l, nb.create<arith::MulFOp>(l, middle, size), asFloat(points));
    return nb.create<arith::AddFOp>(l, offset, within);
  };
  Value binY = asFloat(b.create<linalg::IndexOp>(loc, 2));
  Value binX = asFloat(b.create<linalg::IndexOp>(loc, 3));
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
  Value init = largest ? lowestValue(b, loc, type) : constant(b, loc, type, 0.0);
  Value total =
      forLoop(b, loc, zero, r.gridY, ValueRange{init},
              [&](OpBuilder &nb, Location l, Value iy, ValueRange rowAcc) {
                Value y = coordinate(nb, l, r.startY, binY, r.binHeight, iy, r.gridY);
                return SmallVector<Value>{forLoop(
                    nb, l, zero, r.gridX, rowAcc,
                    [&](OpBuilder &ib, Location il, Value ix, ValueRange acc) {
                      Value x = coordinate(ib, il, r.startX, binX, r.binWidth, ix, r.gridX);
                      Value value = sample(ib, il, r, y, x, largest);
                      Value next = largest
                                       ? ib.create<arith::MaximumFOp>(il, acc[0], value).getResult()
                                       : ib.create<arith::AddFOp>(il, acc[0], value).getResult();
                      return SmallVector<Value>{next};
                    })[0]};
              })[0];
  // A bin without samples is 0 in either mode, as ONNX Runtime gives it.
  Value count = b.create<arith::MulIOp>(loc, r.gridY, r.gridX);
  Value empty = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, count, zero);
  Value value = largest ? total
                        : b.create<arith::DivFOp>(
                              loc, total,
                              asFloat(b.create<arith::MaxSIOp>(
                                  loc, count, b.create<arith::ConstantIndexOp>(loc, 1))));
  return b.create<arith::SelectOp>(loc, empty, constant(b, loc, type, 0.0), value);
}

// The sampling points per bin along an axis: the attribute's, or
// ceil(size / bins), none for an empty or inverted region; too many fail
// the run.
Value gridPoints(OpBuilder &b, Location loc, ir::NodeOp node, int64_t ratio, Value size,
                 int64_t bins) {
  if (ratio > 0)
    return b.create<arith::ConstantIndexOp>(loc, ratio);
  Type type = size.getType();
  Value points = b.create<math::CeilOp>(
      loc, b.create<arith::DivFOp>(loc, size, constant(b, loc, type, static_cast<double>(bins))));
  Value limit = constant(b, loc, type, static_cast<double>(kMaxGridPoints));
  Value tooMany = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, points, limit);
  // A region of no or negative size has no points (its bins are 0).
  Value counted = b.create<arith::FPToSIOp>(
      loc, b.getI64Type(), clamp(b, loc, points, constant(b, loc, type, 0.0), limit));
  failRunIf(b, loc, node, tooMany, counted,
            "a region needs more than {} sampling points per bin along an axis");
  Value isNaN = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNO, points, points);
  Value safe =
      b.create<arith::SelectOp>(loc, isNaN, b.create<arith::ConstantIntOp>(loc, 0, 64), counted);
  return b.create<arith::IndexCastOp>(loc, b.getIndexType(), safe);
}

// The default ONNX opset the model imports.
int64_t modelOpset(ir::NodeOp node) {
  auto module = node->getParentOfType<ModuleOp>();
  auto opsets = module ? module->getAttrOfType<DictionaryAttr>("onnx.opset_import") : nullptr;
  auto version = opsets ? opsets.getAs<IntegerAttr>("ai.onnx") : nullptr;
  return version ? version.getInt() : 0;
}

FailureOr<SmallVector<Value>> lowerRoiAlign(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0), rois = input(node, 1), batchIndices = input(node, 2);
  auto imageType = cast<RankedTensorType>(x.getType());
  RankedTensorType outType = resultType(node);
  Type element = imageType.getElementType();
  if (!isa<FloatType>(element) || imageType.getRank() != 4 || outType.getRank() != 4)
    return unsupported(node, "inputs other than float [N, C, H, W]");
  auto roisType = cast<RankedTensorType>(rois.getType());
  if (roisType.getRank() != 2 || roisType.getDimSize(1) != 4 ||
      roisType.getElementType() != element)
    return invalid(node, "rois that are not [num_rois, 4] of the input's type");
  auto modeAttr = dyn_cast_or_null<StringAttr>(node.attr("mode"));
  StringRef mode = modeAttr ? modeAttr.getValue() : "avg";
  if (mode != "avg" && mode != "max")
    return unsupported(node, "mode '" + mode + "'");
  auto transformAttr = dyn_cast_or_null<StringAttr>(node.attr("coordinate_transformation_mode"));
  StringRef transform = transformAttr            ? transformAttr.getValue()
                        : modelOpset(node) >= 16 ? "half_pixel"
                                                 : "output_half_pixel";
  if (transform != "half_pixel" && transform != "output_half_pixel")
    return unsupported(node, "coordinate_transformation_mode '" + transform + "'");
  bool halfPixel = transform == "half_pixel", largest = mode == "max";
  int64_t ratio = node.intAttr("sampling_ratio", 0);
  double scale = node.floatAttr("spatial_scale", 1.0f);
  int64_t binsY = outType.getDimSize(2), binsX = outType.getDimSize(3);
  int64_t batch = imageType.getDimSize(0);
  if (failed(checkIndexedDims(node, imageType, {0}, outType)))
    return failure();
  if (imageType.getDimSize(2) == 0 || imageType.getDimSize(3) == 0)
    return invalid(node, "an image of no pixels to sample");
  return SmallVector<Value>{
      b.create<linalg::GenericOp>(
           loc, TypeRange{outType}, ValueRange{}, ValueRange{emptyTensor(b, loc, outType)},
           ArrayRef<AffineMap>{b.getMultiDimIdentityMap(4)},
           SmallVector<utils::IteratorType>(4, utils::IteratorType::parallel),
           [&](OpBuilder &nb, Location l, ValueRange) {
             auto at = [&](double v) { return constant(nb, l, element, v); };
             Value roi = nb.create<linalg::IndexOp>(l, 0);
             Region r{x,
                      {},
                      nb.create<linalg::IndexOp>(l, 1),
                      {},
                      {},
                      {},
                      {},
                      {},
                      {},
                      imageType.getDimSize(2),
                      imageType.getDimSize(3)};
             Value index = nb.create<tensor::ExtractOp>(l, batchIndices, ValueRange{roi});
             r.n = checkedIndex(nb, l, node, index, 0, batch, IndexedPlace::DataDimFromStart);
             SmallVector<Value> corners;
             for (int64_t k = 0; k < 4; ++k) {
               Value raw = nb.create<tensor::ExtractOp>(
                   l, rois, ValueRange{roi, nb.create<arith::ConstantIndexOp>(l, k)});
               corners.push_back(nb.create<arith::SubFOp>(
                   l, nb.create<arith::MulFOp>(l, raw, at(scale)), at(halfPixel ? 0.5 : 0.0)));
             }
             Value height = nb.create<arith::SubFOp>(l, corners[3], corners[1]);
             Value width = nb.create<arith::SubFOp>(l, corners[2], corners[0]);
             if (!halfPixel) {
               height = nb.create<arith::MaximumFOp>(l, height, at(1.0));
               width = nb.create<arith::MaximumFOp>(l, width, at(1.0));
             }
             r.startY = corners[1];
             r.startX = corners[0];
             r.binHeight = nb.create<arith::DivFOp>(l, height, at(static_cast<double>(binsY)));
             r.binWidth = nb.create<arith::DivFOp>(l, width, at(static_cast<double>(binsX)));
             r.gridY = gridPoints(nb, l, node, ratio, height, binsY);
             r.gridX = gridPoints(nb, l, node, ratio, width, binsX);
             nb.create<linalg::YieldOp>(l, binValue(nb, l, r, largest));
           })
          .getResult(0)};
}

} // namespace

void registerRoiAlignLowerings() { registerLowering("RoiAlign", lowerRoiAlign); }

} // namespace graceful::compiler::lowering
