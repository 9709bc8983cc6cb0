// Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (its
// LogSoftmax over the classes, then the same loss).
#include "Lowering.h"

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

using utils::IteratorType;

// Each sample's loss -x[n, t, d...] * w[t] for t = target[n, d...], and the
// weight w[t] it counts with; a target equal to ignore_index counts 0 and
// reads class 0 (it may be out of range).
std::pair<Value, Value> weightedLosses(OpBuilder &b, Location loc, ir::NodeOp node, Value x,
                                       Value target, Value weight) {
  auto targetType = cast<RankedTensorType>(target.getType());
  Type element = cast<RankedTensorType>(x.getType()).getElementType();
  auto lossType = RankedTensorType::get(targetType.getShape(), element);
  std::optional<int64_t> ignoreIndex;
  if (node.attr("ignore_index"))
    ignoreIndex = node.intAttr("ignore_index", 0);
  unsigned rank = static_cast<unsigned>(targetType.getRank());
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{lossType, lossType}, ValueRange{target},
      ValueRange{emptyTensor(b, loc, lossType), emptyTensor(b, loc, lossType)},
      SmallVector<AffineMap>(3, identity), SmallVector<IteratorType>(rank, IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value t = args[0];
        Value classIndex = nb.create<arith::IndexCastOp>(l, nb.getIndexType(), t);
        Value ignored = scalarConstant(nb, l, nb.getI1Type(), 0);
        if (ignoreIndex) {
          ignored = nb.create<arith::CmpIOp>(
              l, arith::CmpIPredicate::eq, t,
              scalarConstant(nb, l, t.getType(), static_cast<double>(*ignoreIndex)));
          classIndex = nb.create<arith::SelectOp>(
              l, ignored, nb.create<arith::ConstantIndexOp>(l, 0), classIndex);
        }
        SmallVector<Value> at{nb.create<linalg::IndexOp>(l, 0), classIndex};
        for (unsigned d = 1; d < rank; ++d)
          at.push_back(nb.create<linalg::IndexOp>(l, d));
        Value value = nb.create<tensor::ExtractOp>(l, x, at);
        Value zero = scalarConstant(nb, l, element, 0.0);
        Value w = weight
                      ? nb.create<tensor::ExtractOp>(l, weight, ValueRange{classIndex}).getResult()
                      : scalarConstant(nb, l, element, 1.0);
        w = nb.create<arith::SelectOp>(l, ignored, zero, w);
        Value loss = nb.create<arith::MulFOp>(l, nb.create<arith::NegFOp>(l, value), w);
        nb.create<linalg::YieldOp>(l, ValueRange{loss, w});
      });
  return {generic.getResult(0), generic.getResult(1)};
}

Value sumAll(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<int64_t> axes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    axes.push_back(d);
  return reduce(
      b, loc, tensor, axes, false, scalarConstant(b, loc, type.getElementType(), 0.0),
      [](OpBuilder &nb, Location l, ValueRange args) { return add(nb, l, args[0], args[1]); });
}

// The loss of log-probabilities x [N, C, d...] against target [N, d...],
// reduced as the node asks (none, sum, or mean weighted by the weights).
FailureOr<Value> negativeLogLikelihood(ir::NodeOp node, OpBuilder &b, Value x, Value target,
                                       Value weight) {
  Location loc = node.getLoc();
  if (!isa<FloatType>(cast<RankedTensorType>(x.getType()).getElementType()))
    return invalid(node, "the input must be floating-point");
  auto attr = dyn_cast_or_null<StringAttr>(node.attr("reduction"));
  StringRef reduction = attr ? attr.getValue() : "mean";
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    return unsupported(node, "reduction '" + reduction + "'");
  auto [losses, weights] = weightedLosses(b, loc, node, x, target, weight);
  if (reduction == "none")
    return losses;
  Value total = sumAll(b, loc, losses);
  if (reduction == "sum")
    return total;
  Value totalWeight = sumAll(b, loc, weights);
  return broadcastElementwise(b, loc, cast<RankedTensorType>(total.getType()), {total, totalWeight},
                              [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                                return nb.create<arith::DivFOp>(l, args[0], args[1]);
                              });
}

FailureOr<SmallVector<Value>> lowerNegativeLogLikelihood(ir::NodeOp node, OpBuilder &b) {
  auto loss = negativeLogLikelihood(node, b, input(node, 0), input(node, 1), input(node, 2));
  if (failed(loss))
    return failure();
  return SmallVector<Value>{*loss};
}

FailureOr<SmallVector<Value>> lowerSoftmaxCrossEntropy(ir::NodeOp node, OpBuilder &b) {
  Value scores = input(node, 0);
  if (!isa<FloatType>(cast<RankedTensorType>(scores.getType()).getElementType()))
    return invalid(node, "the scores must be floating-point");
  Value logProbabilities = softmax(b, node.getLoc(), scores, 1, true);
  auto loss = negativeLogLikelihood(node, b, logProbabilities, input(node, 1), input(node, 2));
  if (failed(loss))
    return failure();
  SmallVector<Value> results{*loss};
  if (node.getNumResults() > 1)
    results.push_back(logProbabilities);
  return results;
}

} // namespace

void registerLossLowerings() {
  registerLowering("NegativeLogLikelihoodLoss", lowerNegativeLogLikelihood);
  registerLowering("SoftmaxCrossEntropyLoss", lowerSoftmaxCrossEntropy);
}

} // namespace graceful::compiler::lowering
