// Windows and reductions: pooling, normalisations, softmax, Reduce*, ArgMax.
#include "Lowering.h"

#include <cmath>

namespace graceful::compiler::lowering {

using namespace mlir;

Value softmax(OpBuilder &b, Location loc, Value x, int64_t axis, bool logarithm) {
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  Value peak = reduce(
      b, loc, x, {axis}, true, scalarConstant(b, loc, element, -INFINITY),
      [](OpBuilder &nb, Location l, ValueRange args) { return maximum(nb, l, args[0], args[1]); });
  Value shifted =
      broadcastElementwise(b, loc, type, {x, peak}, [](OpBuilder &nb, Location l, ValueRange args) {
        return sub(nb, l, args[0], args[1]);
      });
  Value exps = broadcastElementwise(b, loc, type, {shifted},
                                    [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                                      return nb.create<math::ExpOp>(l, args[0]);
                                    });
  Value total = reduce(
      b, loc, exps, {axis}, true, scalarConstant(b, loc, element, 0.0),
      [](OpBuilder &nb, Location l, ValueRange args) { return add(nb, l, args[0], args[1]); });
  if (logarithm)
    return broadcastElementwise(
        b, loc, type, {shifted, total}, [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return nb.create<arith::SubFOp>(l, args[0], nb.create<math::LogOp>(l, args[1]));
        });
  return broadcastElementwise(b, loc, type, {exps, total},
                              [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                                return nb.create<arith::DivFOp>(l, args[0], args[1]);
                              });
}

namespace {

using utils::IteratorType;

// out[n, c, o...] = combine over k... of x[n, c, o*s + k*d]; x is already
// padded so every window fits.
Value windowReduce(OpBuilder &b, Location loc, Value padded, RankedTensorType outType,
                   ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides, ArrayRef<int64_t> dilations,
                   Value init, const ScalarBody &combine) {
  size_t spatial = kernel.size();
  MLIRContext *context = b.getContext();
  unsigned dims = static_cast<unsigned>(2 + 2 * spatial);
  auto dim = [&](size_t i) { return getAffineDimExpr(static_cast<unsigned>(i), context); };
  SmallVector<AffineExpr> xExprs{dim(0), dim(1)}, outExprs{dim(0), dim(1)}, windowExprs;
  for (size_t i = 0; i < spatial; ++i) {
    xExprs.push_back(dim(2 + i) * strides[i] + dim(2 + spatial + i) * dilations[i]);
    outExprs.push_back(dim(2 + i));
    windowExprs.push_back(dim(2 + spatial + i));
  }
  // The window operand only gives the kernel loops their bounds.
  Value window = b.create<tensor::EmptyOp>(loc, kernel, outType.getElementType());
  SmallVector<AffineMap> maps{AffineMap::get(dims, 0, xExprs, context),
                              AffineMap::get(dims, 0, windowExprs, context),
                              AffineMap::get(dims, 0, outExprs, context)};
  SmallVector<IteratorType> iterators(2 + spatial, IteratorType::parallel);
  iterators.append(spatial, IteratorType::reduction);
  return b
      .create<linalg::GenericOp>(
          loc, TypeRange{outType}, ValueRange{padded, window},
          ValueRange{filledTensor(b, loc, outType, init)}, maps, iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            nb.create<linalg::YieldOp>(l, combine(nb, l, ValueRange{args[2], args[0]}));
          })
      .getResult(0);
}

struct PoolGeometry {
  SmallVector<int64_t> kernel, strides, dilations, low, high, ceilExtra;
};

// Explicit pads (pads / auto_pad) plus, for ceil_mode, the extra end
// padding the last windows need; both in NC... layout (zeros for N, C).
FailureOr<PoolGeometry> poolGeometry(ir::NodeOp node) {
  auto xType = cast<RankedTensorType>(input(node, 0).getType());
  RankedTensorType outType = resultType(node);
  size_t spatial = static_cast<size_t>(xType.getRank() - 2);
  PoolGeometry g;
  g.kernel = node.intsAttr("kernel_shape");
  if (g.kernel.size() != spatial) {
    (void)unsupported(node, "kernel_shape must give one size per spatial dim");
    return failure();
  }
  g.strides = intsOr(node, "strides", spatial, 1);
  g.dilations = intsOr(node, "dilations", spatial, 1);
  g.low.assign(2, 0);
  g.high.assign(2, 0);
  g.ceilExtra.assign(2 + spatial, 0);
  auto autoPad = dyn_cast_or_null<StringAttr>(node.attr("auto_pad"));
  StringRef mode = autoPad ? autoPad.getValue() : "NOTSET";
  SmallVector<int64_t> pads = node.intsAttr("pads");
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = xType.getDimSize(2 + i), out = outType.getDimSize(2 + i);
    int64_t needed = (out - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1;
    int64_t begin = 0, end = 0;
    if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
      int64_t total = std::max<int64_t>(0, needed - in);
      begin = mode == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    } else if (!pads.empty()) {
      begin = pads[i];
      end = pads[spatial + i];
    }
    g.low.push_back(begin);
    g.high.push_back(end);
    g.ceilExtra[2 + i] = std::max<int64_t>(0, needed - (in + begin + end));
  }
  return g;
}

// MaxPool with its Indices output: each window's first maximum, and where
// it is in the input, flattened with padding not counted (storage_order 1
// reads the spatial dims column-major).
SmallVector<Value> maxPoolWithIndices(OpBuilder &b, ir::NodeOp node, const PoolGeometry &g,
                                      Value padded, Value lowest, Signedness signedness) {
  Location loc = node.getLoc();
  RankedTensorType outType = resultType(node), indexType = resultType(node, 1);
  auto inShape = cast<RankedTensorType>(input(node, 0).getType()).getShape();
  size_t spatial = g.kernel.size();
  MLIRContext *context = b.getContext();
  unsigned dims = static_cast<unsigned>(2 + 2 * spatial);
  auto dim = [&](size_t i) { return getAffineDimExpr(static_cast<unsigned>(i), context); };
  SmallVector<AffineExpr> xExprs{dim(0), dim(1)}, outExprs{dim(0), dim(1)}, windowExprs;
  for (size_t i = 0; i < spatial; ++i) {
    xExprs.push_back(dim(2 + i) * g.strides[i] + dim(2 + spatial + i) * g.dilations[i]);
    outExprs.push_back(dim(2 + i));
    windowExprs.push_back(dim(2 + spatial + i));
  }
  AffineMap outMap = AffineMap::get(dims, 0, outExprs, context);
  Value window = b.create<tensor::EmptyOp>(loc, g.kernel, outType.getElementType());
  SmallVector<IteratorType> iterators(2 + spatial, IteratorType::parallel);
  iterators.append(spatial, IteratorType::reduction);
  bool columnMajor = node.intAttr("storage_order", 0) != 0;
  bool isFloat = isa<FloatType>(outType.getElementType());
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{outType, indexType}, ValueRange{padded, window},
      ValueRange{filledTensor(b, loc, outType, lowest),
                 filledTensor(b, loc, indexType, scalarConstant(b, loc, b.getI64Type(), 0))},
      SmallVector<AffineMap>{AffineMap::get(dims, 0, xExprs, context),
                             AffineMap::get(dims, 0, windowExprs, context), outMap, outMap},
      iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        auto i64 = [&](int64_t value) { return scalarConstant(nb, l, nb.getI64Type(), value); };
        auto indexOf = [&](size_t d) -> Value {
          return nb.create<arith::IndexCastOp>(l, nb.getI64Type(),
                                               nb.create<linalg::IndexOp>(l, d));
        };
        Value flat = indexOf(0);
        flat = nb.create<arith::AddIOp>(l, nb.create<arith::MulIOp>(l, flat, i64(inShape[1])),
                                        indexOf(1));
        for (size_t k = 0; k < spatial; ++k) {
          size_t i = columnMajor ? spatial - 1 - k : k;
          Value position = nb.create<arith::AddIOp>(
              l, nb.create<arith::MulIOp>(l, indexOf(2 + i), i64(g.strides[i])),
              nb.create<arith::MulIOp>(l, indexOf(2 + spatial + i), i64(g.dilations[i])));
          position = nb.create<arith::SubIOp>(l, position, i64(g.low[2 + i]));
          flat = nb.create<arith::AddIOp>(l, nb.create<arith::MulIOp>(l, flat, i64(inShape[2 + i])),
                                          position);
        }
        Value candidate = args[0], best = args[2];
        Value better =
            isFloat
                ? nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, candidate, best)
                      .getResult()
                : nb.create<arith::CmpIOp>(l, orderPredicate(arith::CmpIPredicate::sgt, signedness),
                                           candidate, best)
                      .getResult();
        nb.create<linalg::YieldOp>(
            l, ValueRange{nb.create<arith::SelectOp>(l, better, candidate, best),
                          nb.create<arith::SelectOp>(l, better, flat, args[3])});
      });
  return {generic.getResult(0), generic.getResult(1)};
}

FailureOr<SmallVector<Value>> lowerMaxPool(ir::NodeOp node, OpBuilder &b) {
  auto g = poolGeometry(node);
  if (failed(g))
    return failure();
  Location loc = node.getLoc();
  RankedTensorType outType = resultType(node);
  Type element = outType.getElementType();
  Signedness signedness = inputSignedness(node);
  Value lowest = lowestValue(b, loc, element, signedness);
  SmallVector<int64_t> high(g->high);
  for (size_t i = 0; i < high.size(); ++i)
    high[i] += g->ceilExtra[i];
  Value padded = pad(b, loc, input(node, 0), g->low, high, lowest);
  if (node.getNumResults() == 2)
    return maxPoolWithIndices(b, node, *g, padded, lowest, signedness);
  return SmallVector<Value>{windowReduce(b, loc, padded, outType, g->kernel, g->strides,
                                         g->dilations, lowest,
                                         [signedness](OpBuilder &nb, Location l, ValueRange args) {
                                           return maximum(nb, l, args[0], args[1], signedness);
                                         })};
}

// Average: window sums divided by how many elements each window counts —
// the same window sum over a mask of ones that is 1 on real elements (and
// on explicit pads when count_include_pad) and 0 on ceil_mode's overhang.
FailureOr<SmallVector<Value>> lowerAveragePool(ir::NodeOp node, OpBuilder &b) {
  auto g = poolGeometry(node);
  if (failed(g))
    return failure();
  Location loc = node.getLoc();
  RankedTensorType outType = resultType(node);
  Type element = outType.getElementType();
  Value zero = scalarConstant(b, loc, element, 0.0), one = scalarConstant(b, loc, element, 1.0);
  Value x = input(node, 0);
  SmallVector<int64_t> none(g->low.size(), 0);
  Value padded = pad(b, loc, pad(b, loc, x, g->low, g->high, zero), none, g->ceilExtra, zero);
  bool includePad = node.intAttr("count_include_pad", 0) != 0;
  Value ones = filledTensor(b, loc, cast<RankedTensorType>(x.getType()), one);
  Value mask = pad(b, loc, pad(b, loc, ones, g->low, g->high, includePad ? one : zero), none,
                   g->ceilExtra, zero);
  ScalarBody sum = [](OpBuilder &nb, Location l, ValueRange args) {
    return add(nb, l, args[0], args[1]);
  };
  Value sums =
      windowReduce(b, loc, padded, outType, g->kernel, g->strides, g->dilations, zero, sum);
  Value counts =
      windowReduce(b, loc, mask, outType, g->kernel, g->strides, g->dilations, zero, sum);
  return SmallVector<Value>{broadcastElementwise(
      b, loc, outType, {sums, counts}, [](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return nb.create<arith::DivFOp>(l, args[0], args[1]);
      })};
}

SmallVector<int64_t> spatialAxes(int64_t rank) {
  SmallVector<int64_t> axes;
  for (int64_t d = 2; d < rank; ++d)
    axes.push_back(d);
  return axes;
}

int64_t elementsOver(RankedTensorType type, ArrayRef<int64_t> axes) {
  int64_t count = 1;
  for (int64_t axis : axes)
    count *= type.getDimSize(axis);
  return count;
}

Value divideBy(OpBuilder &b, Location loc, Value x, double divisor) {
  auto type = cast<RankedTensorType>(x.getType());
  return broadcastElementwise(b, loc, type, {x}, [&](OpBuilder &nb, Location l, ValueRange args) {
    return nb
        .create<arith::DivFOp>(l, args[0], scalarConstant(nb, l, type.getElementType(), divisor))
        .getResult();
  });
}

Value mean(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> axes) {
  auto type = cast<RankedTensorType>(x.getType());
  Value zero = scalarConstant(b, loc, type.getElementType(), 0.0);
  Value sums = reduce(
      b, loc, x, axes, /*keepDims=*/true, zero,
      [](OpBuilder &nb, Location l, ValueRange args) { return add(nb, l, args[0], args[1]); });
  return divideBy(b, loc, sums, static_cast<double>(elementsOver(type, axes)));
}

FailureOr<SmallVector<Value>> lowerGlobalPool(ir::NodeOp node, OpBuilder &b, bool average) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> axes = spatialAxes(type.getRank());
  if (average)
    return SmallVector<Value>{mean(b, loc, x, axes)};
  Signedness signedness = inputSignedness(node);
  Value lowest = lowestValue(b, loc, type.getElementType(), signedness);
  return SmallVector<Value>{reduce(b, loc, x, axes, true, lowest,
                                   [signedness](OpBuilder &nb, Location l, ValueRange args) {
                                     return maximum(nb, l, args[0], args[1], signedness);
                                   })};
}

// (x - mean) / sqrt(var + eps), with statistics over `axes` (kept as size
// 1): returns it, the mean, 1 / sqrt(var + eps) and the variance.
SmallVector<Value> normalize(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> axes,
                             double epsilon) {
  auto type = cast<RankedTensorType>(x.getType());
  Value mu = mean(b, loc, x, axes);
  Value centered =
      broadcastElementwise(b, loc, type, {x, mu}, [](OpBuilder &nb, Location l, ValueRange args) {
        return sub(nb, l, args[0], args[1]);
      });
  Value squares = broadcastElementwise(
      b, loc, type, {centered},
      [](OpBuilder &nb, Location l, ValueRange args) { return mul(nb, l, args[0], args[0]); });
  Value variance = mean(b, loc, squares, axes);
  auto statType = cast<RankedTensorType>(variance.getType());
  Value invStd = broadcastElementwise(
      b, loc, statType, {variance}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value eps = scalarConstant(nb, l, statType.getElementType(), epsilon);
        return nb.create<math::RsqrtOp>(l, nb.create<arith::AddFOp>(l, args[0], eps));
      });
  Value normalized = broadcastElementwise(
      b, loc, type, {centered, invStd},
      [](OpBuilder &nb, Location l, ValueRange args) { return mul(nb, l, args[0], args[1]); });
  return {normalized, mu, invStd, variance};
}

// A [C] parameter as [C, 1, ..., 1], to broadcast over an NC... tensor.
Value channelParameter(OpBuilder &b, Location loc, Value parameter, int64_t rank) {
  auto type = cast<RankedTensorType>(parameter.getType());
  SmallVector<int64_t> shape{type.getDimSize(0)};
  shape.append(static_cast<size_t>(rank - 2), 1);
  return reshape(b, loc, parameter, shape);
}

Value affine(OpBuilder &b, Location loc, Value x, Value scale, Value bias) {
  return broadcastElementwise(b, loc, cast<RankedTensorType>(x.getType()), {x, scale, bias},
                              [](OpBuilder &nb, Location l, ValueRange args) {
                                return add(nb, l, mul(nb, l, args[0], args[1]), args[2]);
                              });
}

// Training mode (opset 14+, three outputs): normalized by the batch's own
// statistics over every axis but the channels; the running statistics
// move towards them by 1 - momentum.
FailureOr<SmallVector<Value>> lowerTrainingBatchNorm(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  SmallVector<int64_t> axes{0};
  axes.append(spatialAxes(rank));
  SmallVector<Value> parts = normalize(b, loc, x, axes, node.floatAttr("epsilon", 1e-5f));
  auto parameter = [&](unsigned i) {
    return rank > 2 ? channelParameter(b, loc, input(node, i), rank) : input(node, i);
  };
  Value y = affine(b, loc, parts[0], parameter(1), parameter(2));
  double momentum = node.floatAttr("momentum", 0.9f);
  auto running = [&](unsigned inputIndex, Value batchStatistic, unsigned resultIndex) {
    RankedTensorType type = resultType(node, resultIndex);
    Value current = reshape(b, loc, batchStatistic, type.getShape());
    return broadcastElementwise(
        b, loc, type, {input(node, inputIndex), current},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value kept = nb.create<arith::MulFOp>(
              l, args[0], scalarConstant(nb, l, type.getElementType(), momentum));
          Value moved = nb.create<arith::MulFOp>(
              l, args[1], scalarConstant(nb, l, type.getElementType(), 1.0 - momentum));
          return nb.create<arith::AddFOp>(l, kept, moved);
        });
  };
  Value runningMean = running(3, parts[1], 1);
  Value runningVariance = running(4, parts[3], 2);
  return SmallVector<Value>{y, runningMean, runningVariance};
}

FailureOr<SmallVector<Value>> lowerBatchNorm(ir::NodeOp node, OpBuilder &b) {
  if (node.getNumResults() == 3)
    return lowerTrainingBatchNorm(node, b);
  if (node.getNumResults() > 1)
    return unsupported(node, "the saved mean and variance outputs of opsets before 14");
  Location loc = node.getLoc();
  Value x = input(node, 0);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  double epsilon = node.floatAttr("epsilon", 1e-5f);
  SmallVector<Value> params;
  for (unsigned i = 1; i <= 4; ++i)
    params.push_back(rank > 2 ? channelParameter(b, loc, input(node, i), rank) : input(node, i));
  return SmallVector<Value>{broadcastElementwise(
      b, loc, type, {x, params[0], params[1], params[2], params[3]},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value eps = scalarConstant(nb, l, type.getElementType(), epsilon);
        Value invStd = nb.create<math::RsqrtOp>(l, nb.create<arith::AddFOp>(l, args[4], eps));
        Value centered = nb.create<arith::SubFOp>(l, args[0], args[3]);
        return nb.create<arith::AddFOp>(
            l, nb.create<arith::MulFOp>(l, nb.create<arith::MulFOp>(l, centered, invStd), args[1]),
            args[2]);
      })};
}

// (x - mean) / sqrt(var + 1e-9) over `axes` (default N, H, W), as ONNX's
// function body for it defines.
FailureOr<SmallVector<Value>> lowerMeanVarianceNormalization(ir::NodeOp node, OpBuilder &b) {
  Value x = input(node, 0);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  SmallVector<int64_t> axes = node.intsAttr("axes");
  if (!node.attr("axes"))
    axes = {0, 2, 3};
  for (int64_t &axis : axes)
    axis = normalizeAxis(axis, rank);
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  if (llvm::any_of(axes, [&](int64_t axis) { return axis < 0 || axis >= rank; }))
    return invalid(node, "an axis is out of range");
  return SmallVector<Value>{normalize(b, node.getLoc(), x, axes, 1e-9)[0]};
}

FailureOr<SmallVector<Value>> lowerInstanceNorm(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  double epsilon = node.floatAttr("epsilon", 1e-5f);
  Value normalized = normalize(b, loc, x, spatialAxes(rank), epsilon)[0];
  return SmallVector<Value>{affine(b, loc, normalized,
                                   channelParameter(b, loc, input(node, 1), rank),
                                   channelParameter(b, loc, input(node, 2), rank))};
}

// LRN: x / (bias + alpha / size * sum of x^2 over the channels c -
// floor((size - 1) / 2) .. c + ceil((size - 1) / 2))^beta.
FailureOr<SmallVector<Value>> lowerLrn(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  int64_t size = node.intAttr("size", 0), rank = type.getRank();
  if (size <= 0 || rank < 3 || !isa<FloatType>(element))
    return invalid(node, "needs a positive size and a floating-point input of rank 3 or more");
  Value squares =
      broadcastElementwise(b, loc, type, {x}, [](OpBuilder &nb, Location l, ValueRange args) {
        return mul(nb, l, args[0], args[0]);
      });
  SmallVector<int64_t> low(rank, 0), high(rank, 0);
  low[1] = (size - 1) / 2;
  high[1] = size - 1 - low[1];
  Value padded = pad(b, loc, squares, low, high, scalarConstant(b, loc, element, 0.0));
  // sums[n, c, ...] = sum_k padded[n, c + k, ...].
  unsigned dims = static_cast<unsigned>(rank);
  SmallVector<AffineExpr> window, position;
  for (unsigned d = 0; d < dims; ++d) {
    position.push_back(b.getAffineDimExpr(d));
    window.push_back(d == 1 ? b.getAffineDimExpr(1) + b.getAffineDimExpr(dims)
                            : b.getAffineDimExpr(d));
  }
  SmallVector<IteratorType> iterators(dims, IteratorType::parallel);
  iterators.push_back(IteratorType::reduction);
  auto kernelType = RankedTensorType::get({size}, element);
  Value sums = b.create<linalg::GenericOp>(
                    loc, TypeRange{type}, ValueRange{padded, emptyTensor(b, loc, kernelType)},
                    ValueRange{filledTensor(b, loc, type, scalarConstant(b, loc, element, 0.0))},
                    SmallVector<AffineMap>{
                        AffineMap::get(dims + 1, 0, window, b.getContext()),
                        AffineMap::get(dims + 1, 0, {b.getAffineDimExpr(dims)}, b.getContext()),
                        AffineMap::get(dims + 1, 0, position, b.getContext())},
                    iterators,
                    [](OpBuilder &nb, Location l, ValueRange args) {
                      nb.create<linalg::YieldOp>(l, add(nb, l, args[2], args[0]));
                    })
                   .getResult(0);
  double alpha = node.floatAttr("alpha", 1e-4f), beta = node.floatAttr("beta", 0.75f),
         bias = node.floatAttr("bias", 1.0f);
  return SmallVector<Value>{broadcastElementwise(
      b, loc, type, {x, sums}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value scaled = nb.create<arith::MulFOp>(
            l, args[1], scalarConstant(nb, l, element, alpha / static_cast<double>(size)));
        Value base = nb.create<arith::AddFOp>(l, scaled, scalarConstant(nb, l, element, bias));
        Value denominator = nb.create<math::PowFOp>(l, base, scalarConstant(nb, l, element, beta));
        return nb.create<arith::DivFOp>(l, args[0], denominator);
      })};
}

FailureOr<SmallVector<Value>> lowerLayerNorm(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  int64_t axis = normalizeAxis(node.intAttr("axis", -1), rank);
  SmallVector<int64_t> axes;
  for (int64_t d = axis; d < rank; ++d)
    axes.push_back(d);
  double epsilon = node.floatAttr("epsilon", 1e-5f);
  SmallVector<Value> parts = normalize(b, loc, x, axes, epsilon);
  Value y = parts[0];
  Value scale = input(node, 1);
  Value bias = hasInput(node, 2)
                   ? input(node, 2)
                   : filledTensor(b, loc, cast<RankedTensorType>(scale.getType()),
                                  scalarConstant(b, loc, getElementTypeOrSelf(scale), 0.0));
  SmallVector<Value> results{affine(b, loc, y, scale, bias)};
  if (node.getNumResults() > 1)
    results.push_back(parts[1]);
  if (node.getNumResults() > 2)
    results.push_back(parts[2]);
  return results;
}

FailureOr<SmallVector<Value>> lowerSoftmax(ir::NodeOp node, OpBuilder &b, bool logarithm) {
  Value x = input(node, 0);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  int64_t axis = normalizeAxis(node.intAttr("axis", -1), rank);
  return SmallVector<Value>{softmax(b, node.getLoc(), x, axis, logarithm)};
}

// Axes of a Reduce* node: the `axes` input (newer opsets) or attribute;
// none means all, unless noop_with_empty_axes.
FailureOr<SmallVector<int64_t>> reductionAxes(ir::NodeOp node, int64_t rank) {
  SmallVector<int64_t> axes = node.intsAttr("axes");
  if (hasInput(node, 1)) {
    auto constant = constantInts(input(node, 1));
    if (!constant) {
      (void)unsupported(node, "axes must be a constant");
      return failure();
    }
    axes = *constant;
  }
  if (axes.empty() && node.intAttr("noop_with_empty_axes", 0) == 0)
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
  for (int64_t &axis : axes)
    axis = normalizeAxis(axis, rank);
  llvm::sort(axes);
  return axes;
}

enum class Reduction { Sum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum, LogSumExp };

LowerFn reduction(Reduction kind) {
  return [kind](ir::NodeOp node, OpBuilder &b) -> FailureOr<SmallVector<Value>> {
    Location loc = node.getLoc();
    Value x = input(node, 0);
    auto type = cast<RankedTensorType>(x.getType());
    Type element = type.getElementType();
    auto axes = reductionAxes(node, type.getRank());
    if (failed(axes))
      return failure();
    if (axes->empty())
      return SmallVector<Value>{x};
    bool keepDims = node.intAttr("keepdims", 1) != 0;
    bool isFloat = isa<FloatType>(element);
    if (!isFloat && kind != Reduction::Sum && kind != Reduction::Max && kind != Reduction::Min &&
        kind != Reduction::Prod)
      return unsupported(node, "this reduction needs floating-point input");
    // Pre-map each element, fold, post-map the result.
    auto premap = [&](Value tensor) -> Value {
      if (kind == Reduction::L1 || kind == Reduction::L2 || kind == Reduction::SumSquare ||
          kind == Reduction::LogSumExp)
        return broadcastElementwise(b, loc, type, {tensor},
                                    [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                                      if (kind == Reduction::L1)
                                        return nb.create<math::AbsFOp>(l, args[0]);
                                      if (kind == Reduction::LogSumExp)
                                        return nb.create<math::ExpOp>(l, args[0]);
                                      return mul(nb, l, args[0], args[0]);
                                    });
      return tensor;
    };
    Value init = scalarConstant(b, loc, element, 0.0);
    ScalarBody combine = [](OpBuilder &nb, Location l, ValueRange args) {
      return add(nb, l, args[0], args[1]);
    };
    if (kind == Reduction::Max || kind == Reduction::Min) {
      bool max = kind == Reduction::Max;
      Signedness signedness = inputSignedness(node);
      init = max ? lowestValue(b, loc, element, signedness)
                 : highestValue(b, loc, element, signedness);
      combine = [max, signedness](OpBuilder &nb, Location l, ValueRange args) {
        return max ? maximum(nb, l, args[0], args[1], signedness)
                   : minimum(nb, l, args[0], args[1], signedness);
      };
    } else if (kind == Reduction::Prod) {
      init = scalarConstant(b, loc, element, 1.0);
      combine = [](OpBuilder &nb, Location l, ValueRange args) {
        return mul(nb, l, args[0], args[1]);
      };
    }
    Value folded = reduce(b, loc, premap(x), *axes, keepDims, init, combine);
    auto foldedType = cast<RankedTensorType>(folded.getType());
    switch (kind) {
    case Reduction::Mean:
      return SmallVector<Value>{
          divideBy(b, loc, folded, static_cast<double>(elementsOver(type, *axes)))};
    case Reduction::L2:
      return SmallVector<Value>{broadcastElementwise(
          b, loc, foldedType, {folded}, [](OpBuilder &nb, Location l, ValueRange args) -> Value {
            return nb.create<math::SqrtOp>(l, args[0]);
          })};
    case Reduction::LogSum:
    case Reduction::LogSumExp:
      return SmallVector<Value>{broadcastElementwise(
          b, loc, foldedType, {folded}, [](OpBuilder &nb, Location l, ValueRange args) -> Value {
            return nb.create<math::LogOp>(l, args[0]);
          })};
    default:
      return SmallVector<Value>{folded};
    }
  };
}

// ArgMax/ArgMin: a reduction carrying (best value, its index).
LowerFn argReduction(bool max) {
  return [max](ir::NodeOp node, OpBuilder &b) -> FailureOr<SmallVector<Value>> {
    Location loc = node.getLoc();
    Value x = input(node, 0);
    auto type = cast<RankedTensorType>(x.getType());
    Type element = type.getElementType();
    int64_t rank = type.getRank();
    int64_t axis = normalizeAxis(node.intAttr("axis", 0), rank);
    bool last = node.intAttr("select_last_index", 0) != 0;
    SmallVector<int64_t> reducedShape;
    SmallVector<AffineExpr> outExprs;
    SmallVector<IteratorType> iterators;
    for (int64_t d = 0; d < rank; ++d) {
      iterators.push_back(d == axis ? IteratorType::reduction : IteratorType::parallel);
      if (d != axis) {
        reducedShape.push_back(type.getDimSize(d));
        outExprs.push_back(b.getAffineDimExpr(static_cast<unsigned>(d)));
      }
    }
    auto valueType = RankedTensorType::get(reducedShape, element);
    auto indexType = RankedTensorType::get(reducedShape, b.getI64Type());
    bool isFloat = isa<FloatType>(element);
    Signedness signedness = inputSignedness(node);
    Value start =
        max ? lowestValue(b, loc, element, signedness) : highestValue(b, loc, element, signedness);
    AffineMap outMap = AffineMap::get(static_cast<unsigned>(rank), 0, outExprs, b.getContext());
    auto generic = b.create<linalg::GenericOp>(
        loc, TypeRange{valueType, indexType}, ValueRange{x},
        ValueRange{filledTensor(b, loc, valueType, start),
                   filledTensor(b, loc, indexType, scalarConstant(b, loc, b.getI64Type(), 0))},
        SmallVector<AffineMap>{b.getMultiDimIdentityMap(static_cast<unsigned>(rank)), outMap,
                               outMap},
        iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
          Value candidate = args[0], best = args[1], bestIndex = args[2];
          Value index = nb.create<arith::IndexCastOp>(
              l, nb.getI64Type(), nb.create<linalg::IndexOp>(l, static_cast<uint64_t>(axis)));
          Value better;
          if (isFloat)
            better = nb.create<arith::CmpFOp>(
                l,
                max ? (last ? arith::CmpFPredicate::OGE : arith::CmpFPredicate::OGT)
                    : (last ? arith::CmpFPredicate::OLE : arith::CmpFPredicate::OLT),
                candidate, best);
          else
            better = nb.create<arith::CmpIOp>(
                l,
                orderPredicate(max ? (last ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sgt)
                                   : (last ? arith::CmpIPredicate::sle : arith::CmpIPredicate::slt),
                               signedness),
                candidate, best);
          nb.create<linalg::YieldOp>(
              l, ValueRange{nb.create<arith::SelectOp>(l, better, candidate, best),
                            nb.create<arith::SelectOp>(l, better, index, bestIndex)});
        });
    return SmallVector<Value>{reshape(b, loc, generic.getResult(1), resultType(node).getShape())};
  };
}

} // namespace

void registerWindowLowerings() {
  registerLowering("MaxPool", lowerMaxPool);
  registerLowering("AveragePool", lowerAveragePool);
  registerLowering("GlobalAveragePool",
                   [](ir::NodeOp node, OpBuilder &b) { return lowerGlobalPool(node, b, true); });
  registerLowering("GlobalMaxPool",
                   [](ir::NodeOp node, OpBuilder &b) { return lowerGlobalPool(node, b, false); });
  registerLowering("BatchNormalization", lowerBatchNorm);
  registerLowering("InstanceNormalization", lowerInstanceNorm);
  registerLowering("MeanVarianceNormalization", lowerMeanVarianceNormalization);
  registerLowering("LayerNormalization", lowerLayerNorm);
  registerLowering("LRN", lowerLrn);
  registerLowering("Softmax",
                   [](ir::NodeOp node, OpBuilder &b) { return lowerSoftmax(node, b, false); });
  registerLowering("LogSoftmax",
                   [](ir::NodeOp node, OpBuilder &b) { return lowerSoftmax(node, b, true); });
  registerLowering("ReduceSum", reduction(Reduction::Sum));
  registerLowering("ReduceMean", reduction(Reduction::Mean));
  registerLowering("ReduceMax", reduction(Reduction::Max));
  registerLowering("ReduceMin", reduction(Reduction::Min));
  registerLowering("ReduceProd", reduction(Reduction::Prod));
  registerLowering("ReduceL1", reduction(Reduction::L1));
  registerLowering("ReduceL2", reduction(Reduction::L2));
  registerLowering("ReduceSumSquare", reduction(Reduction::SumSquare));
  registerLowering("ReduceLogSum", reduction(Reduction::LogSum));
  registerLowering("ReduceLogSumExp", reduction(Reduction::LogSumExp));
  registerLowering("ArgMax", argReduction(true));
  registerLowering("ArgMin", argReduction(false));
}

} // namespace graceful::compiler::lowering
