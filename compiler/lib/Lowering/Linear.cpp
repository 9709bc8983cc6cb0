// Products: MatMul, Gemm, Einsum and N-dimensional grouped Conv.
#include "Lowering.h"
#include "graceful/compiler/Einsum.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

using utils::IteratorType;

bool isF32(Value value) { return getElementTypeOrSelf(value.getType()).isF32(); }

} // namespace

Value namedMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs, bool transposeRhs) {
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  int64_t n = transposeRhs ? rhsType.getDimSize(0) : rhsType.getDimSize(1);
  auto outType = RankedTensorType::get({lhsType.getDimSize(0), n}, lhsType.getElementType());
  Value zeros =
      filledTensor(b, loc, outType, scalarConstant(b, loc, outType.getElementType(), 0.0));
  if (transposeRhs)
    return b
        .create<linalg::MatmulTransposeBOp>(loc, TypeRange{outType}, ValueRange{lhs, rhs},
                                            ValueRange{zeros})
        .getResult(0);
  return b
      .create<linalg::MatmulOp>(loc, TypeRange{outType}, ValueRange{lhs, rhs}, ValueRange{zeros})
      .getResult(0);
}

Value matmulOf(OpBuilder &b, Location loc, Value lhs, Value rhs, RankedTensorType outType) {
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  // [..., K] x [K, N] with f32: fold the leading dims into rows, one sgemm.
  if (isF32(lhs) && isF32(rhs) && lhsType.getRank() >= 2 && rhsType.getRank() == 2) {
    int64_t k = lhsType.getShape().back();
    Value rows = reshape(b, loc, lhs, {lhsType.getNumElements() / k, k});
    return reshape(b, loc, namedMatmul(b, loc, rows, rhs, false), outType.getShape());
  }
  if (lhsType.getRank() == 1)
    lhs = reshape(b, loc, lhs, {1, lhsType.getDimSize(0)});
  if (rhsType.getRank() == 1)
    rhs = reshape(b, loc, rhs, {rhsType.getDimSize(0), 1});
  ArrayRef<int64_t> lhsShape = cast<RankedTensorType>(lhs.getType()).getShape();
  ArrayRef<int64_t> rhsShape = cast<RankedTensorType>(rhs.getType()).getShape();
  int64_t batchRank = std::max<int64_t>(lhsShape.size(), rhsShape.size()) - 2;
  SmallVector<int64_t> batch(static_cast<size_t>(batchRank), 1);
  auto mergeBatch = [&](ArrayRef<int64_t> shape) {
    int64_t offset = batchRank - static_cast<int64_t>(shape.size() - 2);
    for (size_t i = 0; i + 2 < shape.size(); ++i)
      batch[offset + i] = std::max(batch[offset + i], shape[i]);
  };
  mergeBatch(lhsShape);
  mergeBatch(rhsShape);
  int64_t m = lhsShape[lhsShape.size() - 2], n = rhsShape.back();
  SmallVector<int64_t> fullShape(batch);
  fullShape.append({m, n});
  // Iteration space: batch..., m, n, k.
  unsigned dims = static_cast<unsigned>(batchRank + 3);
  MLIRContext *context = b.getContext();
  auto operandMap = [&](ArrayRef<int64_t> shape, unsigned row, unsigned column) {
    SmallVector<AffineExpr> exprs;
    int64_t offset = batchRank - static_cast<int64_t>(shape.size() - 2);
    for (size_t i = 0; i + 2 < shape.size(); ++i)
      exprs.push_back(shape[i] == 1 && batch[offset + i] != 1
                          ? getAffineConstantExpr(0, context)
                          : getAffineDimExpr(static_cast<unsigned>(offset + i), context));
    exprs.push_back(getAffineDimExpr(row, context));
    exprs.push_back(getAffineDimExpr(column, context));
    return AffineMap::get(dims, 0, exprs, context);
  };
  unsigned mDim = static_cast<unsigned>(batchRank), nDim = mDim + 1, kDim = mDim + 2;
  SmallVector<AffineExpr> outExprs;
  for (unsigned d = 0; d < kDim; ++d)
    outExprs.push_back(getAffineDimExpr(d, context));
  SmallVector<AffineMap> maps{operandMap(lhsShape, mDim, kDim), operandMap(rhsShape, kDim, nDim),
                              AffineMap::get(dims, 0, outExprs, context)};
  SmallVector<IteratorType> iterators(kDim, IteratorType::parallel);
  iterators.push_back(IteratorType::reduction);
  auto fullType = RankedTensorType::get(fullShape, outType.getElementType());
  Value zero = scalarConstant(b, loc, outType.getElementType(), 0.0);
  Value product =
      b.create<linalg::GenericOp>(loc, TypeRange{fullType}, ValueRange{lhs, rhs},
                                  ValueRange{filledTensor(b, loc, fullType, zero)}, maps, iterators,
                                  [](OpBuilder &nb, Location l, ValueRange args) {
                                    nb.create<linalg::YieldOp>(
                                        l, add(nb, l, args[2], mul(nb, l, args[0], args[1])));
                                  })
          .getResult(0);
  return reshape(b, loc, product, outType.getShape());
}

namespace {

FailureOr<SmallVector<Value>> lowerMatMul(ir::NodeOp node, OpBuilder &b) {
  return SmallVector<Value>{
      matmulOf(b, node.getLoc(), input(node, 0), input(node, 1), resultType(node))};
}

// Gemm: alpha * op(A) * op(B) + beta * C.
FailureOr<SmallVector<Value>> lowerGemm(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  RankedTensorType outType = resultType(node);
  Type element = outType.getElementType();
  bool transA = node.intAttr("transA", 0) != 0, transB = node.intAttr("transB", 0) != 0;
  MLIRContext *context = b.getContext();
  AffineExpr m = getAffineDimExpr(0, context), n = getAffineDimExpr(1, context),
             k = getAffineDimExpr(2, context);
  SmallVector<AffineMap> maps{
      AffineMap::get(3, 0, transA ? ArrayRef<AffineExpr>{k, m} : ArrayRef<AffineExpr>{m, k},
                     context),
      AffineMap::get(3, 0, transB ? ArrayRef<AffineExpr>{n, k} : ArrayRef<AffineExpr>{k, n},
                     context),
      AffineMap::get(3, 0, {m, n}, context)};
  Value zero = scalarConstant(b, loc, element, 0.0);
  Value product =
      isF32(input(node, 0)) && !transA
          ? namedMatmul(b, loc, input(node, 0), input(node, 1), transB)
          : b.create<linalg::GenericOp>(
                 loc, TypeRange{outType}, ValueRange{input(node, 0), input(node, 1)},
                 ValueRange{filledTensor(b, loc, outType, zero)}, maps,
                 ArrayRef<IteratorType>{IteratorType::parallel, IteratorType::parallel,
                                        IteratorType::reduction},
                 [](OpBuilder &nb, Location l, ValueRange args) {
                   nb.create<linalg::YieldOp>(l, add(nb, l, args[2], mul(nb, l, args[0], args[1])));
                 })
                .getResult(0);
  double alpha = node.floatAttr("alpha", 1.0f), beta = node.floatAttr("beta", 1.0f);
  SmallVector<Value> operands{product};
  if (hasInput(node, 2) && beta != 0.0)
    operands.push_back(input(node, 2));
  return SmallVector<Value>{broadcastElementwise(
      b, loc, outType, operands, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value y =
            alpha == 1.0 ? args[0] : mul(nb, l, args[0], scalarConstant(nb, l, element, alpha));
        if (args.size() == 1)
          return y;
        Value c = beta == 1.0 ? args[1] : mul(nb, l, args[1], scalarConstant(nb, l, element, beta));
        return add(nb, l, y, c);
      })};
}

// Begin and end pads of each spatial dim, from `pads` or `auto_pad`.
struct Padding {
  SmallVector<int64_t> begin, end;
};

FailureOr<Padding> spatialPadding(ir::NodeOp node, ArrayRef<int64_t> inputSpatial,
                                  ArrayRef<int64_t> outputSpatial, ArrayRef<int64_t> kernel,
                                  ArrayRef<int64_t> strides, ArrayRef<int64_t> dilations) {
  size_t rank = inputSpatial.size();
  Padding padding{SmallVector<int64_t>(rank, 0), SmallVector<int64_t>(rank, 0)};
  auto autoPad = dyn_cast_or_null<StringAttr>(node.attr("auto_pad"));
  StringRef mode = autoPad ? autoPad.getValue() : "NOTSET";
  if (mode == "NOTSET") {
    SmallVector<int64_t> pads = node.intsAttr("pads");
    if (!pads.empty() && pads.size() != 2 * rank) {
      (void)unsupported(node, "pads must have 2 entries per spatial dim");
      return failure();
    }
    for (size_t i = 0; i < rank && !pads.empty(); ++i) {
      padding.begin[i] = pads[i];
      padding.end[i] = pads[rank + i];
    }
  } else if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
    for (size_t i = 0; i < rank; ++i) {
      int64_t needed = (outputSpatial[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1;
      int64_t total = std::max<int64_t>(0, needed - inputSpatial[i]);
      padding.begin[i] = mode == "SAME_UPPER" ? total / 2 : total - total / 2;
      padding.end[i] = total - padding.begin[i];
    }
  } else if (mode != "VALID") {
    (void)unsupported(node, "auto_pad '" + mode + "'");
    return failure();
  }
  return padding;
}

// The output of a convolution before the sums: each channel's bias, or
// zeros; named linalg convolutions accumulate into it. It gets a buffer of
// its own (alloc_tensor, which CSE leaves alone): from a shared empty
// tensor, bufferization would copy one convolution's zeros into the next's
// output, and a depthwise output could land in the buffer of its own input,
// which graceful-depthwise-to-runtime needs intact.
Value biasInitialized(OpBuilder &b, Location loc, RankedTensorType outType, Value bias) {
  Value into = b.create<bufferization::AllocTensorOp>(loc, outType, ValueRange{});
  if (!bias)
    return filledTensor(b, loc, outType, scalarConstant(b, loc, outType.getElementType(), 0.0),
                        into);
  return gatherAffine(b, loc, bias, outType, {getAffineDimExpr(1, b.getContext())}, into);
}

// The sizes of a 2-D convolution: batch, filters, output height and
// width, channels per filter, kernel height and width.
struct ConvDims {
  int64_t n, m, oh, ow, c, kh, kw;

  static ConvDims of(RankedTensorType outType, Value w) {
    auto wType = cast<RankedTensorType>(w.getType());
    return {outType.getDimSize(0), outType.getDimSize(1), outType.getDimSize(2),
            outType.getDimSize(3), wType.getDimSize(1),   wType.getDimSize(2),
            wType.getDimSize(3)};
  }
};

// out[n, m, p] += sum_k filters[m, k] * patches[n, k, p]: one matrix
// product per sample, so the output is NCHW as it comes out.
// graceful-linalg-to-blas turns it into one sgemm per sample.
Value productPerSample(OpBuilder &b, Location loc, Value filters, Value patches, Value init) {
  MLIRContext *context = b.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
  // Dims: n, m, p, k.
  SmallVector<AffineMap> maps{AffineMap::get(4, 0, {d(1), d(3)}, context),
                              AffineMap::get(4, 0, {d(0), d(3), d(2)}, context),
                              AffineMap::get(4, 0, {d(0), d(1), d(2)}, context)};
  return b
      .create<linalg::GenericOp>(
          loc, TypeRange{init.getType()}, ValueRange{filters, patches}, ValueRange{init}, maps,
          ArrayRef<IteratorType>{IteratorType::parallel, IteratorType::parallel,
                                 IteratorType::parallel, IteratorType::reduction},
          [](OpBuilder &nb, Location l, ValueRange args) {
            nb.create<linalg::YieldOp>(l, add(nb, l, args[2], mul(nb, l, args[0], args[1])));
          })
      .getResult(0);
}

// 2-D convolution as matrix products: the filters as an [M, C*KH*KW]
// matrix times each sample's patches of the padded input, laid out as
// cols[n, c, kh, kw, oh, ow]. A 1x1 convolution with unit strides reads
// the input itself as its patches.
Value im2colConv2d(OpBuilder &b, Location loc, Value padded, Value w, Value bias,
                   RankedTensorType outType, ArrayRef<int64_t> strides,
                   ArrayRef<int64_t> dilations) {
  auto [n, m, oh, ow, c, kh, kw] = ConvDims::of(outType, w);
  Type element = outType.getElementType();
  auto paddedShape = cast<RankedTensorType>(padded.getType()).getShape();
  bool pointwise = kh == 1 && kw == 1 && strides[0] == 1 && strides[1] == 1 &&
                   paddedShape[2] == oh && paddedShape[3] == ow;
  Value cols = padded;
  if (!pointwise) {
    auto d = [&](unsigned i) { return getAffineDimExpr(i, b.getContext()); };
    // Dims of cols: n, c, kh, kw, oh, ow.
    cols = gatherAffine(b, loc, padded, RankedTensorType::get({n, c, kh, kw, oh, ow}, element),
                        {d(0), d(1), d(4) * strides[0] + d(2) * dilations[0],
                         d(5) * strides[1] + d(3) * dilations[1]});
  }
  Value product =
      productPerSample(b, loc, reshape(b, loc, w, {m, c * kh * kw}),
                       reshape(b, loc, cols, {n, c * kh * kw, oh * ow}),
                       reshape(b, loc, biasInitialized(b, loc, outType, bias), {n, m, oh * ow}));
  return reshape(b, loc, product, outType.getShape());
}

// One filter per channel (MobileNet's depthwise convolutions) as
// linalg.depthwise_conv_2d_nchw_chw, which graceful-depthwise-to-runtime
// turns into a call to a vectorized kernel after bufferization.
Value depthwiseConv2d(OpBuilder &b, Location loc, Value padded, Value w, Value bias,
                      RankedTensorType outType, ArrayRef<int64_t> strides,
                      ArrayRef<int64_t> dilations) {
  auto wType = cast<RankedTensorType>(w.getType());
  Value filters =
      reshape(b, loc, w, {wType.getDimSize(0), wType.getDimSize(2), wType.getDimSize(3)});
  SmallVector<NamedAttribute> attributes{
      b.getNamedAttr("strides", b.getI64TensorAttr(strides)),
      b.getNamedAttr("dilations", b.getI64TensorAttr(dilations))};
  return b
      .create<linalg::DepthwiseConv2DNchwChwOp>(
          loc, TypeRange{outType}, ValueRange{padded, filters},
          ValueRange{biasInitialized(b, loc, outType, bias)}, attributes)
      .getResult(0);
}

// Conv over any number of spatial dims of an already padded input, with
// groups, strides and dilations:
// out[n, g, m, o...] = bias[g, m] + sum_{c, k...} x[n, g, c, o*s + k*d] * w[g, m, c, k...].
Value convolvePadded(OpBuilder &b, Location loc, Value padded, Value w, Value bias,
                     RankedTensorType outType, ArrayRef<int64_t> strides,
                     ArrayRef<int64_t> dilations, int64_t groups) {
  auto paddedShape = cast<RankedTensorType>(padded.getType()).getShape();
  auto wType = cast<RankedTensorType>(w.getType());
  Type element = outType.getElementType();
  size_t spatial = paddedShape.size() - 2;
  int64_t batch = paddedShape[0], channels = paddedShape[1], filters = wType.getDimSize(0);
  bool f32 = element.isF32();
  if (spatial == 2 && groups == 1 && f32)
    return im2colConv2d(b, loc, padded, w, bias, outType, strides, dilations);
  if (spatial == 2 && groups == channels && filters == channels && f32)
    return depthwiseConv2d(b, loc, padded, w, bias, outType, strides, dilations);
  int64_t channelsPerGroup = channels / groups, filtersPerGroup = filters / groups;
  SmallVector<int64_t> groupedX{batch, groups, channelsPerGroup};
  groupedX.append(paddedShape.begin() + 2, paddedShape.end());
  SmallVector<int64_t> groupedW{groups, filtersPerGroup, channelsPerGroup};
  groupedW.append(wType.getShape().begin() + 2, wType.getShape().end());
  SmallVector<int64_t> groupedOut{batch, groups, filtersPerGroup};
  groupedOut.append(outType.getShape().begin() + 2, outType.getShape().end());

  // Iteration dims: n, g, m, o_0.., c, k_0..
  MLIRContext *context = b.getContext();
  unsigned dims = static_cast<unsigned>(4 + 2 * spatial);
  auto dim = [&](size_t i) { return getAffineDimExpr(static_cast<unsigned>(i), context); };
  size_t firstOut = 3, channel = 3 + spatial, firstKernel = 4 + spatial;
  SmallVector<AffineExpr> xExprs{dim(0), dim(1), dim(channel)};
  SmallVector<AffineExpr> wExprs{dim(1), dim(2), dim(channel)};
  SmallVector<AffineExpr> outExprs{dim(0), dim(1), dim(2)};
  for (size_t i = 0; i < spatial; ++i) {
    xExprs.push_back(dim(firstOut + i) * strides[i] + dim(firstKernel + i) * dilations[i]);
    wExprs.push_back(dim(firstKernel + i));
    outExprs.push_back(dim(firstOut + i));
  }
  SmallVector<AffineMap> maps{AffineMap::get(dims, 0, xExprs, context),
                              AffineMap::get(dims, 0, wExprs, context),
                              AffineMap::get(dims, 0, outExprs, context)};
  SmallVector<IteratorType> iterators(3 + spatial, IteratorType::parallel);
  iterators.append(1 + spatial, IteratorType::reduction);
  Value init = reshape(b, loc, biasInitialized(b, loc, outType, bias), groupedOut);
  Value sums =
      b.create<linalg::GenericOp>(
           loc, TypeRange{init.getType()},
           ValueRange{reshape(b, loc, padded, groupedX), reshape(b, loc, w, groupedW)},
           ValueRange{init}, maps, iterators,
           [](OpBuilder &nb, Location l, ValueRange args) {
             nb.create<linalg::YieldOp>(l, add(nb, l, args[2], mul(nb, l, args[0], args[1])));
           })
          .getResult(0);
  return reshape(b, loc, sums, outType.getShape());
}

} // namespace

FailureOr<Value> convolveNode(ir::NodeOp node, OpBuilder &b, Value x, Value w, Value bias,
                              RankedTensorType outType) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  size_t spatial = static_cast<size_t>(xType.getRank() - 2);
  SmallVector<int64_t> strides = intsOr(node, "strides", spatial, 1);
  SmallVector<int64_t> dilations = intsOr(node, "dilations", spatial, 1);
  SmallVector<int64_t> kernel(wType.getShape().drop_front(2));
  auto padding = spatialPadding(node, xType.getShape().drop_front(2),
                                outType.getShape().drop_front(2), kernel, strides, dilations);
  if (failed(padding))
    return failure();
  Location loc = node.getLoc();
  SmallVector<int64_t> low{0, 0}, high{0, 0};
  low.append(padding->begin);
  high.append(padding->end);
  Value padded = pad(b, loc, x, low, high, scalarConstant(b, loc, xType.getElementType(), 0.0));
  return convolvePadded(b, loc, padded, w, bias, outType, strides, dilations,
                        node.intAttr("group", 1));
}

namespace {

// What ConvTranspose reads from its node.
struct ConvNode {
  Location loc;
  Value x, w;
  RankedTensorType xType, wType, outType;
  Type element;
  size_t spatial;
  SmallVector<int64_t> strides, dilations;

  static FailureOr<ConvNode> of(ir::NodeOp node) {
    Value x = input(node, 0), w = input(node, 1);
    auto xType = cast<RankedTensorType>(x.getType());
    RankedTensorType outType = resultType(node);
    if (!isa<FloatType>(outType.getElementType())) {
      (void)unsupported(node, "non-floating-point convolution");
      return failure();
    }
    size_t spatial = static_cast<size_t>(xType.getRank() - 2);
    return ConvNode{node.getLoc(),
                    x,
                    w,
                    xType,
                    cast<RankedTensorType>(w.getType()),
                    outType,
                    outType.getElementType(),
                    spatial,
                    intsOr(node, "strides", spatial, 1),
                    intsOr(node, "dilations", spatial, 1)};
  }
};

FailureOr<SmallVector<Value>> lowerConv(ir::NodeOp node, OpBuilder &b) {
  if (!isa<FloatType>(resultType(node).getElementType()))
    return unsupported(node, "non-floating-point convolution");
  auto out =
      convolveNode(node, b, input(node, 0), input(node, 1), input(node, 2), resultType(node));
  if (failed(out))
    return failure();
  return SmallVector<Value>{*out};
}

// ConvTranspose as a convolution: the input spread out by the strides
// (zeros between samples), padded by kernel - 1 - pads on each side (a
// negative amount crops), convolved with unit strides by the filters
// flipped in space and with in and out channels swapped per group.
FailureOr<SmallVector<Value>> lowerConvTranspose(ir::NodeOp node, OpBuilder &b) {
  auto conv = ConvNode::of(node);
  if (failed(conv))
    return failure();
  auto &[loc, x, w, xType, wType, outType, element, spatial, strides, dilations] = *conv;
  int64_t groups = node.intAttr("group", 1);
  int64_t channels = xType.getDimSize(1), channelsPerGroup = channels / groups,
          filtersPerGroup = wType.getDimSize(1);
  SmallVector<int64_t> outputPadding = intsOr(node, "output_padding", spatial, 0);
  SmallVector<int64_t> pads = node.intsAttr("pads");
  auto autoPad = dyn_cast_or_null<StringAttr>(node.attr("auto_pad"));
  StringRef mode = autoPad ? autoPad.getValue() : "NOTSET";
  if (mode != "NOTSET" && mode != "SAME_UPPER" && mode != "SAME_LOWER" && mode != "VALID")
    return unsupported(node, "auto_pad '" + mode + "'");
  bool explicitPads = mode == "NOTSET" && !node.attr("output_shape") && !pads.empty();
  if (explicitPads && pads.size() != 2 * spatial)
    return unsupported(node, "pads must have 2 entries per spatial dim");

  // Spread: x at every stride-th position of a zero tensor.
  SmallVector<int64_t> spreadShape(xType.getShape().take_front(2));
  SmallVector<int64_t> offsets(xType.getRank(), 0), steps{1, 1};
  for (size_t i = 0; i < spatial; ++i) {
    spreadShape.push_back((xType.getDimSize(2 + i) - 1) * strides[i] + 1);
    steps.push_back(strides[i]);
  }
  auto spreadType = RankedTensorType::get(spreadShape, element);
  Value spread = x;
  if (spreadType != xType)
    spread = b.create<tensor::InsertSliceOp>(
        loc, x, filledTensor(b, loc, spreadType, scalarConstant(b, loc, element, 0.0)),
        ValueRange{}, ValueRange{}, ValueRange{}, b.getDenseI64ArrayAttr(offsets),
        b.getDenseI64ArrayAttr(xType.getShape()), b.getDenseI64ArrayAttr(steps));

  // Pad (or crop) so that a unit-stride convolution gives the output size.
  SmallVector<int64_t> low{0, 0}, high{0, 0}, cropOffsets{0, 0},
      cropSizes(outType.getShape().take_front(2));
  cropSizes[1] = channels;
  bool crop = false;
  for (size_t i = 0; i < spatial; ++i) {
    int64_t span = (wType.getDimSize(2 + i) - 1) * dilations[i] + 1;
    int64_t out = outType.getDimSize(2 + i);
    int64_t total = strides[i] * (xType.getDimSize(2 + i) - 1) + outputPadding[i] + span - out;
    // Floor division, as ONNX's reference: a negative total (output_shape
    // larger than the natural size) extends the end.
    int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);
    int64_t begin = explicitPads ? pads[i] : mode == "SAME_UPPER" ? half : total - half;
    int64_t before = span - 1 - begin;
    int64_t after = out + span - 1 - spreadShape[2 + i] - before;
    low.push_back(std::max<int64_t>(0, before));
    high.push_back(std::max<int64_t>(0, after));
    cropOffsets.push_back(std::max<int64_t>(0, -before));
    cropSizes.push_back(out + span - 1);
    crop = crop || before < 0 || after < 0;
  }
  Value padded = pad(b, loc, spread, low, high, scalarConstant(b, loc, element, 0.0));
  if (crop)
    padded = b.create<tensor::ExtractSliceOp>(
        loc, padded, getAsIndexOpFoldResult(b.getContext(), cropOffsets),
        getAsIndexOpFoldResult(b.getContext(), cropSizes),
        getAsIndexOpFoldResult(b.getContext(), SmallVector<int64_t>(cropSizes.size(), 1)));

  // Filters: w[g*C/g + c, m, k...] -> w'[g*M/g + m, c, K-1-k...].
  MLIRContext *context = b.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
  SmallVector<int64_t> grouped{groups, channelsPerGroup, filtersPerGroup};
  SmallVector<int64_t> swapped{groups, filtersPerGroup, channelsPerGroup};
  SmallVector<AffineExpr> exprs{d(0), d(2), d(1)};
  for (size_t i = 0; i < spatial; ++i) {
    int64_t size = wType.getDimSize(2 + i);
    grouped.push_back(size);
    swapped.push_back(size);
    exprs.push_back(size - 1 - d(static_cast<unsigned>(3 + i)));
  }
  Value flipped = gatherAffine(b, loc, reshape(b, loc, w, grouped),
                               RankedTensorType::get(swapped, element), exprs);
  SmallVector<int64_t> filterShape{groups * filtersPerGroup, channelsPerGroup};
  filterShape.append(swapped.begin() + 3, swapped.end());
  return SmallVector<Value>{convolvePadded(b, loc, padded, reshape(b, loc, flipped, filterShape),
                                           input(node, 2), outType,
                                           SmallVector<int64_t>(spatial, 1), dilations, groups)};
}

} // namespace

// Einsum as one linalg.generic: a loop per label (the output's, then the
// summed ones), each operand read at its labels (a size-1 dim that
// broadcasts at 0), the product of the operands added into the output.
FailureOr<SmallVector<Value>> lowerEinsum(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  auto equationAttr = dyn_cast_or_null<StringAttr>(node.attr("equation"));
  SmallVector<Value> operands;
  std::vector<int64_t> ranks;
  std::vector<std::vector<int64_t>> shapes;
  for (Value operand : node.getInputs()) {
    auto type = cast<RankedTensorType>(operand.getType());
    operands.push_back(operand);
    ranks.push_back(type.getRank());
    shapes.emplace_back(type.getShape().begin(), type.getShape().end());
  }
  auto equation = equationAttr ? parseEinsum(equationAttr.getValue().str(), ranks) : std::nullopt;
  auto sizes = equation ? einsumSizes(*equation, shapes) : std::nullopt;
  if (!sizes)
    return invalid(node, "the equation does not parse or does not fit the operands' shapes");
  // Loop dims: the output's labels, then each summed label once.
  SmallVector<int> loops(equation->output.begin(), equation->output.end());
  for (const std::vector<int> &labels : equation->inputs)
    for (int label : labels)
      if (!llvm::is_contained(loops, label))
        loops.push_back(label);
  auto dimOf = [&](int label) {
    return b.getAffineDimExpr(static_cast<unsigned>(llvm::find(loops, label) - loops.begin()));
  };
  unsigned count = static_cast<unsigned>(loops.size());
  SmallVector<AffineMap> maps;
  for (size_t i = 0; i < operands.size(); ++i) {
    SmallVector<AffineExpr> exprs;
    for (size_t d = 0; d < equation->inputs[i].size(); ++d) {
      int label = equation->inputs[i][d];
      bool broadcast = shapes[i][d] == 1 && (*sizes)[static_cast<size_t>(label)] != 1;
      exprs.push_back(broadcast ? b.getAffineConstantExpr(0) : dimOf(label));
    }
    maps.push_back(AffineMap::get(count, 0, exprs, b.getContext()));
  }
  SmallVector<AffineExpr> outExprs;
  for (int label : equation->output)
    outExprs.push_back(dimOf(label));
  maps.push_back(AffineMap::get(count, 0, outExprs, b.getContext()));
  SmallVector<IteratorType> iterators;
  for (size_t d = 0; d < loops.size(); ++d)
    iterators.push_back(d < equation->output.size() ? IteratorType::parallel
                                                    : IteratorType::reduction);
  RankedTensorType outType = resultType(node);
  Value init = filledTensor(b, loc, outType, scalarConstant(b, loc, outType.getElementType(), 0.0));
  return SmallVector<Value>{
      b.create<linalg::GenericOp>(loc, TypeRange{outType}, operands, ValueRange{init}, maps,
                                  iterators,
                                  [&](OpBuilder &nb, Location l, ValueRange args) {
                                    Value product = args[0];
                                    for (Value arg : args.drop_front().drop_back())
                                      product = mul(nb, l, product, arg);
                                    nb.create<linalg::YieldOp>(l, add(nb, l, args.back(), product));
                                  })
          .getResult(0)};
}

void registerLinearLowerings() {
  registerLowering("Einsum", lowerEinsum);
  registerLowering("MatMul", lowerMatMul);
  registerLowering("Gemm", lowerGemm);
  registerLowering("Conv", lowerConv);
  registerLowering("ConvTranspose", lowerConvTranspose);
}

} // namespace graceful::compiler::lowering
