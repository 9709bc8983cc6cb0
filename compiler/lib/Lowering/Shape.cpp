// Data movement: reshapes, transposes, slicing, gathering, padding, tiling
// and constants. Shapes are static here, so result types say what to build.
#include "Lowering.h"
#include "graceful/compiler/OnnxTypes.h"

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

using utils::IteratorType;

FailureOr<SmallVector<Value>> lowerReshapeLike(ir::NodeOp node, OpBuilder &b) {
  RankedTensorType type = resultType(node);
  if (!type || !type.hasStaticShape())
    return unsupported(node, "the result shape must be known when compiling");
  auto inType = cast<RankedTensorType>(input(node, 0).getType());
  if (inType.hasStaticShape() && inType.getNumElements() != type.getNumElements())
    return invalid(node, "its input has " + llvm::Twine(inType.getNumElements()) +
                             " elements, the shape asked for holds " +
                             llvm::Twine(type.getNumElements()));
  return SmallVector<Value>{reshape(b, node.getLoc(), input(node, 0), type.getShape())};
}

FailureOr<SmallVector<Value>> lowerTranspose(ir::NodeOp node, OpBuilder &b) {
  RankedTensorType outType = resultType(node);
  int64_t rank = outType.getRank();
  SmallVector<int64_t> perm = node.intsAttr("perm");
  if (perm.empty())
    for (int64_t d = rank - 1; d >= 0; --d)
      perm.push_back(d);
  // out[i] = in[j] with j[perm[k]] = i[k].
  SmallVector<AffineExpr> exprs(static_cast<size_t>(rank));
  for (int64_t k = 0; k < rank; ++k)
    exprs[perm[k]] = b.getAffineDimExpr(static_cast<unsigned>(k));
  return SmallVector<Value>{gatherAffine(b, node.getLoc(), input(node, 0), outType, exprs)};
}

// Where a part of shape `part` sits in a whole that concatenates parts
// along `axis`: from `offset` on that axis, whole along the others.
struct AxisSlice {
  SmallVector<OpFoldResult> offsets, sizes, strides;
};
AxisSlice axisSlice(OpBuilder &b, RankedTensorType part, int64_t axis, int64_t offset) {
  int64_t rank = part.getRank();
  AxisSlice slice{SmallVector<OpFoldResult>(rank, b.getIndexAttr(0)),
                  {},
                  SmallVector<OpFoldResult>(rank, b.getIndexAttr(1))};
  for (int64_t d = 0; d < rank; ++d)
    slice.sizes.push_back(b.getIndexAttr(part.getDimSize(d)));
  slice.offsets[axis] = b.getIndexAttr(offset);
  return slice;
}

FailureOr<SmallVector<Value>> lowerConcat(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  RankedTensorType outType = resultType(node);
  int64_t rank = outType.getRank();
  int64_t axis = normalizeAxis(node.intAttr("axis", 0), rank);
  Value result = emptyTensor(b, loc, outType);
  int64_t offset = 0;
  for (Value part : node.getInputs()) {
    auto partType = cast<RankedTensorType>(part.getType());
    AxisSlice slice = axisSlice(b, partType, axis, offset);
    result = b.create<tensor::InsertSliceOp>(loc, part, result, slice.offsets, slice.sizes,
                                             slice.strides);
    offset += partType.getDimSize(axis);
  }
  return SmallVector<Value>{result};
}

FailureOr<SmallVector<Value>> lowerSplit(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value in = input(node, 0);
  int64_t rank = cast<RankedTensorType>(in.getType()).getRank();
  int64_t axis = normalizeAxis(node.intAttr("axis", 0), rank);
  SmallVector<Value> results;
  int64_t offset = 0;
  for (Value result : node.getResults()) {
    auto type = cast<RankedTensorType>(result.getType());
    AxisSlice slice = axisSlice(b, type, axis, offset);
    results.push_back(
        b.create<tensor::ExtractSliceOp>(loc, type, in, slice.offsets, slice.sizes, slice.strides));
    offset += type.getDimSize(axis);
  }
  return results;
}

// Slice with constant starts/ends/axes/steps (negative steps too): out[i]
// on a sliced axis reads in[start + i * step].
FailureOr<SmallVector<Value>> lowerSlice(ir::NodeOp node, OpBuilder &b) {
  Value in = input(node, 0);
  auto inType = cast<RankedTensorType>(in.getType());
  int64_t rank = inType.getRank();
  auto starts = constantInts(input(node, 1));
  auto ends = constantInts(input(node, 2));
  if (!starts || !ends)
    return unsupported(node, "starts and ends must be constants");
  SmallVector<int64_t> axes, steps(starts->size(), 1);
  for (int64_t i = 0; i < static_cast<int64_t>(starts->size()); ++i)
    axes.push_back(i);
  if (hasInput(node, 3)) {
    auto given = constantInts(input(node, 3));
    if (!given)
      return unsupported(node, "axes must be a constant");
    axes = *given;
  }
  if (hasInput(node, 4)) {
    auto given = constantInts(input(node, 4));
    if (!given)
      return unsupported(node, "steps must be a constant");
    steps = *given;
  }
  // Forward steps as one tensor.extract_slice; backward steps then as a
  // gather on what is left (its other dims already have their final size).
  RankedTensorType outType = resultType(node);
  SmallVector<int64_t> offsets(rank, 0), strides(rank, 1);
  SmallVector<int64_t> sizes(inType.getShape());
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < rank; ++d)
    exprs.push_back(b.getAffineDimExpr(static_cast<unsigned>(d)));
  bool forward = false, backward = false;
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t axis = normalizeAxis(axes[i], rank);
    int64_t size = inType.getDimSize(axis), step = steps[i], start = (*starts)[i];
    if (start < 0)
      start += size;
    if (step > 0) {
      offsets[axis] = std::clamp<int64_t>(start, 0, size);
      strides[axis] = step;
      sizes[axis] = outType.getDimSize(axis);
      forward = true;
    } else {
      start = std::clamp<int64_t>(start, 0, size - 1);
      exprs[axis] = b.getAffineDimExpr(static_cast<unsigned>(axis)) * step + start;
      backward = true;
    }
  }
  Location loc = node.getLoc();
  Value sliced = in;
  if (forward)
    sliced = b.create<tensor::ExtractSliceOp>(
        loc, RankedTensorType::get(sizes, inType.getElementType()), in, ValueRange{}, ValueRange{},
        ValueRange{}, b.getDenseI64ArrayAttr(offsets), b.getDenseI64ArrayAttr(sizes),
        b.getDenseI64ArrayAttr(strides));
  if (!backward)
    return SmallVector<Value>{sliced};
  return SmallVector<Value>{gatherAffine(b, loc, sliced, outType, exprs)};
}

FailureOr<SmallVector<Value>> lowerExpand(ir::NodeOp node, OpBuilder &b) {
  return SmallVector<Value>{
      broadcastElementwise(b, node.getLoc(), resultType(node), {input(node, 0)},
                           [](OpBuilder &, Location, ValueRange args) { return args[0]; })};
}

FailureOr<SmallVector<Value>> lowerTile(ir::NodeOp node, OpBuilder &b) {
  Value in = input(node, 0);
  auto inType = cast<RankedTensorType>(in.getType());
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < inType.getRank(); ++d)
    exprs.push_back(b.getAffineDimExpr(static_cast<unsigned>(d)) % inType.getDimSize(d));
  return SmallVector<Value>{gatherAffine(b, node.getLoc(), in, resultType(node), exprs)};
}

// DepthToSpace: out[n, c, h, w] = in[n, depth, h / b, w / b] with the block
// position (h % b, w % b) taking the channel's high part (DCR: depth =
// (h % b * b + w % b) * C' + c) or its low part (CRD: depth = c * b * b +
// h % b * b + w % b).
FailureOr<SmallVector<Value>> lowerDepthToSpace(ir::NodeOp node, OpBuilder &b) {
  RankedTensorType outType = resultType(node);
  if (outType.getRank() != 4)
    return invalid(node, "the input must be 4-D");
  int64_t block = node.intAttr("blocksize", 0);
  auto modeAttr = dyn_cast_or_null<StringAttr>(node.attr("mode"));
  StringRef mode = modeAttr ? modeAttr.getValue() : "DCR";
  if (block <= 0 || (mode != "DCR" && mode != "CRD"))
    return invalid(node, "needs a positive blocksize and mode DCR or CRD");
  AffineExpr n = b.getAffineDimExpr(0), c = b.getAffineDimExpr(1), h = b.getAffineDimExpr(2),
             w = b.getAffineDimExpr(3);
  AffineExpr offset = h % block * block + w % block;
  AffineExpr depth =
      mode == "DCR" ? offset * outType.getDimSize(1) + c : c * block * block + offset;
  return SmallVector<Value>{gatherAffine(b, node.getLoc(), input(node, 0), outType,
                                         {n, depth, h.floorDiv(block), w.floorDiv(block)})};
}

// SpaceToDepth, DepthToSpace's DCR inverse: out[n, c, h, w] = in[n, c % C,
// h * b + c / C / b, w * b + c / C % b].
FailureOr<SmallVector<Value>> lowerSpaceToDepth(ir::NodeOp node, OpBuilder &b) {
  RankedTensorType outType = resultType(node);
  auto inType = cast<RankedTensorType>(input(node, 0).getType());
  int64_t block = node.intAttr("blocksize", 0);
  if (outType.getRank() != 4 || block <= 0)
    return invalid(node, "needs a 4-D input and a positive blocksize");
  int64_t channels = inType.getDimSize(1);
  AffineExpr n = b.getAffineDimExpr(0), c = b.getAffineDimExpr(1), h = b.getAffineDimExpr(2),
             w = b.getAffineDimExpr(3);
  AffineExpr offset = c.floorDiv(channels);
  return SmallVector<Value>{gatherAffine(
      b, node.getLoc(), input(node, 0), outType,
      {n, c % channels, h * block + offset.floorDiv(block), w * block + offset % block})};
}

// Gather along `axis` with runtime indices (negative ones count from the end).
FailureOr<SmallVector<Value>> lowerGather(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value data = input(node, 0), indices = input(node, 1);
  auto dataType = cast<RankedTensorType>(data.getType());
  auto indicesType = cast<RankedTensorType>(indices.getType());
  RankedTensorType outType = resultType(node);
  int64_t axis = normalizeAxis(node.intAttr("axis", 0), dataType.getRank());
  int64_t q = indicesType.getRank();
  unsigned rank = static_cast<unsigned>(outType.getRank());
  SmallVector<AffineExpr> indexExprs;
  for (int64_t j = 0; j < q; ++j)
    indexExprs.push_back(b.getAffineDimExpr(static_cast<unsigned>(axis + j)));
  SmallVector<AffineMap> maps{AffineMap::get(rank, 0, indexExprs, b.getContext()),
                              b.getMultiDimIdentityMap(rank)};
  int64_t axisSize = dataType.getDimSize(axis);
  if (failed(checkIndexedDims(node, dataType, {axis}, outType)))
    return failure();
  return SmallVector<Value>{
      b.create<linalg::GenericOp>(
           loc, TypeRange{outType}, ValueRange{indices}, ValueRange{emptyTensor(b, loc, outType)},
           maps, SmallVector<IteratorType>(rank, IteratorType::parallel),
           [&](OpBuilder &nb, Location l, ValueRange args) {
             Value index = checkedIndex(nb, l, node, args[0], axis, axisSize);
             SmallVector<Value> coordinates;
             for (int64_t d = 0; d < dataType.getRank(); ++d) {
               if (d == axis)
                 coordinates.push_back(index);
               else
                 coordinates.push_back(nb.create<linalg::IndexOp>(
                     l, static_cast<uint64_t>(d < axis ? d : d + q - 1)));
             }
             nb.create<linalg::YieldOp>(
                 l, nb.create<tensor::ExtractOp>(l, data, coordinates).getResult());
           })
          .getResult(0)};
}

// Edge and reflect padding: each output element reads the input at its
// position less the low pad, clamped to the edge or mirrored at it
// (reflect: -1 reads 1, size reads size - 2).
Value padByIndex(OpBuilder &b, Location loc, Value in, RankedTensorType outType,
                 ArrayRef<int64_t> low, bool reflect) {
  auto inType = cast<RankedTensorType>(in.getType());
  unsigned rank = static_cast<unsigned>(outType.getRank());
  return b
      .create<linalg::GenericOp>(
          loc, TypeRange{outType}, ValueRange{}, ValueRange{emptyTensor(b, loc, outType)},
          ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank)},
          SmallVector<IteratorType>(rank, IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange) {
            Value zero = nb.create<arith::ConstantIndexOp>(l, 0);
            SmallVector<Value> coordinates;
            for (unsigned d = 0; d < rank; ++d) {
              Value last = nb.create<arith::ConstantIndexOp>(l, inType.getDimSize(d) - 1);
              Value at = nb.create<arith::SubIOp>(l, nb.create<linalg::IndexOp>(l, d),
                                                  nb.create<arith::ConstantIndexOp>(l, low[d]));
              if (reflect) {
                // |at|, then last - |last - at| folds the far side back.
                at = nb.create<arith::MaxSIOp>(l, at, nb.create<arith::SubIOp>(l, zero, at));
                Value beyond = nb.create<arith::SubIOp>(l, last, at);
                at = nb.create<arith::SubIOp>(
                    l, last,
                    nb.create<arith::MaxSIOp>(l, beyond,
                                              nb.create<arith::SubIOp>(l, zero, beyond)));
              } else {
                at = nb.create<arith::MinSIOp>(l, nb.create<arith::MaxSIOp>(l, at, zero), last);
              }
              coordinates.push_back(at);
            }
            nb.create<linalg::YieldOp>(
                l, nb.create<tensor::ExtractOp>(l, in, coordinates).getResult());
          })
      .getResult(0);
}

FailureOr<SmallVector<Value>> lowerPad(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value in = input(node, 0);
  auto inType = cast<RankedTensorType>(in.getType());
  int64_t rank = inType.getRank();
  auto modeAttr = dyn_cast_or_null<StringAttr>(node.attr("mode"));
  StringRef mode = modeAttr ? modeAttr.getValue() : "constant";
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    return unsupported(node, "pad mode '" + mode + "'");
  SmallVector<int64_t> pads = node.intsAttr("pads");
  if (hasInput(node, 1)) {
    auto given = constantInts(input(node, 1));
    if (!given)
      return unsupported(node, "pads must be a constant");
    pads = *given;
  }
  SmallVector<int64_t> axes;
  if (hasInput(node, 3)) {
    auto given = constantInts(input(node, 3));
    if (!given)
      return unsupported(node, "axes must be a constant");
    axes = *given;
  } else {
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
  }
  SmallVector<int64_t> low(rank, 0), high(rank, 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    low[normalizeAxis(axes[i], rank)] = pads[i];
    high[normalizeAxis(axes[i], rank)] = pads[axes.size() + i];
  }
  if (llvm::any_of(pads, [](int64_t p) { return p < 0; }))
    return unsupported(node, "negative pads");
  if (mode == "reflect")
    for (int64_t d = 0; d < rank; ++d)
      if (std::max(low[d], high[d]) >= inType.getDimSize(d))
        return unsupported(node, "reflect pads as large as the padded dim");
  if (mode != "constant")
    return SmallVector<Value>{padByIndex(b, loc, in, resultType(node), low, mode == "reflect")};
  Type element = inType.getElementType();
  Value padValue = scalarConstant(b, loc, element, node.floatAttr("value", 0.0f));
  if (hasInput(node, 2)) {
    Value given = input(node, 2);
    if (auto floats = constantFloats(given); floats && floats->size() == 1)
      padValue = scalarConstant(b, loc, element, (*floats)[0]);
    else if (auto ints = constantInts(given); ints && ints->size() == 1)
      padValue = scalarConstant(b, loc, element, static_cast<double>((*ints)[0]));
    else // a value the model computes or takes as input
      padValue = b.create<tensor::ExtractOp>(loc, given, ValueRange{});
  }
  return SmallVector<Value>{pad(b, loc, in, low, high, padValue)};
}

// A compile-time constant result (Shape, Size, Constant, ConstantOfShape).
Value denseConstant(OpBuilder &b, Location loc, RankedTensorType type, ArrayRef<int64_t> values) {
  return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(type, values));
}

FailureOr<SmallVector<Value>> lowerShape(ir::NodeOp node, OpBuilder &b) {
  auto inType = cast<RankedTensorType>(input(node, 0).getType());
  int64_t rank = inType.getRank();
  int64_t start = node.intAttr("start", 0), end = node.intAttr("end", rank);
  start = std::clamp<int64_t>(normalizeAxis(start, rank), 0, rank);
  end = std::clamp<int64_t>(normalizeAxis(end, rank), 0, rank);
  SmallVector<int64_t> dims(inType.getShape().begin() + start,
                            inType.getShape().begin() + std::max(start, end));
  return SmallVector<Value>{denseConstant(b, node.getLoc(), resultType(node), dims)};
}

FailureOr<SmallVector<Value>> lowerSize(ir::NodeOp node, OpBuilder &b) {
  auto inType = cast<RankedTensorType>(input(node, 0).getType());
  return SmallVector<Value>{
      denseConstant(b, node.getLoc(), resultType(node), {inType.getNumElements()})};
}

// A Constant's tensor as the type its value has in lowered code: halves
// widened to float32, unsigned integers signless.
FailureOr<ElementsAttr> loweredValue(ElementsAttr value, RankedTensorType type) {
  Type element = value.getElementType();
  if (element == type.getElementType())
    return value;
  if (element.isF16() || element.isBF16())
    return widenHalfElements(value);
  auto dense = dyn_cast<DenseElementsAttr>(value);
  if (dense && element.isUnsignedInteger())
    return cast<ElementsAttr>(dense.bitcast(type.getElementType()));
  return failure();
}

FailureOr<SmallVector<Value>> lowerConstant(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  RankedTensorType type = resultType(node);
  if (auto value = dyn_cast_or_null<ElementsAttr>(node.attr("value"))) {
    auto lowered = loweredValue(value, type);
    if (failed(lowered))
      return unsupported(node, "a value of this element type");
    return SmallVector<Value>{b.create<arith::ConstantOp>(loc, cast<TypedAttr>(*lowered))};
  }
  if (auto value = dyn_cast_or_null<FloatAttr>(node.attr("value_float")))
    return SmallVector<Value>{b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(
                 type, ArrayRef<float>{static_cast<float>(value.getValueAsDouble())}))};
  if (auto value = dyn_cast_or_null<DenseF32ArrayAttr>(node.attr("value_floats")))
    return SmallVector<Value>{
        b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(type, value.asArrayRef()))};
  if (auto value = dyn_cast_or_null<IntegerAttr>(node.attr("value_int")))
    return SmallVector<Value>{denseConstant(b, loc, type, {value.getInt()})};
  if (auto value = dyn_cast_or_null<DenseI64ArrayAttr>(node.attr("value_ints")))
    return SmallVector<Value>{denseConstant(b, loc, type, value.asArrayRef())};
  return unsupported(node, "value kinds other than value, value_float(s) and value_int(s)");
}

FailureOr<SmallVector<Value>> lowerConstantOfShape(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  RankedTensorType type = resultType(node);
  double fill = 0.0;
  if (auto value = dyn_cast_or_null<ElementsAttr>(node.attr("value"))) {
    auto bytes = rawElementBytes(value);
    Type element = value.getElementType();
    if (!bytes || bytes->empty())
      return unsupported(node, "value must hold one element");
    if (element.isF32())
      fill = *reinterpret_cast<const float *>(bytes->data());
    else if (element.isF64())
      fill = *reinterpret_cast<const double *>(bytes->data());
    else if (element.isInteger(64))
      fill = static_cast<double>(*reinterpret_cast<const int64_t *>(bytes->data()));
    else if (element.isInteger(32))
      fill = *reinterpret_cast<const int32_t *>(bytes->data());
    else if (element.isInteger(1) || element.isInteger(8))
      fill = static_cast<double>(static_cast<unsigned char>((*bytes)[0]));
    else
      return unsupported(node, "value has an unsupported element type");
  }
  return SmallVector<Value>{
      filledTensor(b, loc, type, scalarConstant(b, loc, type.getElementType(), fill))};
}

} // namespace

void registerShapeLowerings() {
  for (StringRef op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze"})
    registerLowering(op, lowerReshapeLike);
  registerLowering("Transpose", lowerTranspose);
  registerLowering("Concat", lowerConcat);
  registerLowering("Split", lowerSplit);
  registerLowering("Slice", lowerSlice);
  registerLowering("Expand", lowerExpand);
  registerLowering("Tile", lowerTile);
  registerLowering("Gather", lowerGather);
  registerLowering("DepthToSpace", lowerDepthToSpace);
  registerLowering("SpaceToDepth", lowerSpaceToDepth);
  registerLowering("Pad", lowerPad);
  registerLowering("Shape", lowerShape);
  registerLowering("Size", lowerSize);
  registerLowering("Constant", lowerConstant);
  registerLowering("ConstantOfShape", lowerConstantOfShape);
}

} // namespace graceful::compiler::lowering
