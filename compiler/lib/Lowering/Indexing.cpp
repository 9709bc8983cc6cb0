// Reading and writing at indices the model computes: GatherElements,
// GatherND, ScatterElements (and the older Scatter), ScatterND. Gathers are
// linalg.generic ops over the output reading the data with tensor.extract;
// scatters copy the data and loop over the updates (scf.for), writing each
// one with tensor.insert, in order, so a repeated index is reduced the way
// the ONNX reference does it.
#include "Lowering.h"

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

using utils::IteratorType;

// How a scatter combines the value already there with the update.
using Combine = std::function<Value(OpBuilder &, Location, Value, Value)>;

FailureOr<Combine> scatterReduction(ir::NodeOp node) {
  auto attr = dyn_cast_or_null<StringAttr>(node.attr("reduction"));
  StringRef reduction = attr ? attr.getValue() : "none";
  if (reduction == "none")
    return Combine([](OpBuilder &, Location, Value, Value update) { return update; });
  if (reduction == "add")
    return Combine(add);
  if (reduction == "mul")
    return Combine(mul);
  if (reduction == "max")
    return Combine(maximum);
  if (reduction == "min")
    return Combine(minimum);
  (void)unsupported(node, "reduction '" + reduction + "'");
  return failure();
}

SmallVector<Value> dimIndices(OpBuilder &b, Location loc, unsigned first, unsigned count) {
  SmallVector<Value> indices;
  for (unsigned d = first; d < first + count; ++d)
    indices.push_back(b.create<linalg::IndexOp>(loc, d));
  return indices;
}

// out[i...] = body(i...) over the output's whole iteration space.
Value generate(OpBuilder &b, Location loc, RankedTensorType outType,
               const std::function<Value(OpBuilder &, Location)> &body) {
  unsigned rank = static_cast<unsigned>(outType.getRank());
  return b
      .create<linalg::GenericOp>(loc, TypeRange{outType}, ValueRange{},
                                 ValueRange{emptyTensor(b, loc, outType)},
                                 ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank)},
                                 SmallVector<IteratorType>(rank, IteratorType::parallel),
                                 [&](OpBuilder &nb, Location l, ValueRange) {
                                   nb.create<linalg::YieldOp>(l, body(nb, l));
                                 })
      .getResult(0);
}

// out[i] = data[i with i[axis] replaced by indices[i]].
FailureOr<SmallVector<Value>> lowerGatherElements(ir::NodeOp node, OpBuilder &b) {
  Value data = input(node, 0), indices = input(node, 1);
  auto dataType = cast<RankedTensorType>(data.getType());
  RankedTensorType outType = resultType(node);
  int64_t rank = dataType.getRank();
  int64_t axis = normalizeAxis(node.intAttr("axis", 0), rank);
  return SmallVector<Value>{generate(b, node.getLoc(), outType, [&](OpBuilder &nb, Location l) {
    SmallVector<Value> at = dimIndices(nb, l, 0, static_cast<unsigned>(rank));
    Value index = nb.create<tensor::ExtractOp>(l, indices, at);
    at[axis] = normalizedIndex(nb, l, index, dataType.getDimSize(axis));
    return nb.create<tensor::ExtractOp>(l, data, at).getResult();
  })};
}

// GatherND with batch_dims b: indices [B..., I..., k]; the output
// [B..., I..., data dims after b + k] reads
// data[B..., indices[B..., I..., 0..k), rest...].
FailureOr<SmallVector<Value>> lowerGatherND(ir::NodeOp node, OpBuilder &b) {
  Value data = input(node, 0), indices = input(node, 1);
  auto dataType = cast<RankedTensorType>(data.getType());
  auto indicesType = cast<RankedTensorType>(indices.getType());
  int64_t batch = node.intAttr("batch_dims", 0);
  int64_t q = indicesType.getRank(), k = indicesType.getShape().back();
  if (batch + k > dataType.getRank())
    return invalid(node, "indices reach past the data's rank");
  unsigned leading = static_cast<unsigned>(q - 1);
  unsigned rest = static_cast<unsigned>(dataType.getRank() - batch - k);
  return SmallVector<Value>{
      generate(b, node.getLoc(), resultType(node), [&](OpBuilder &nb, Location l) {
        SmallVector<Value> where = dimIndices(nb, l, 0, leading);
        SmallVector<Value> at(where.begin(), where.begin() + batch);
        where.push_back(Value());
        for (int64_t j = 0; j < k; ++j) {
          where.back() = nb.create<arith::ConstantIndexOp>(l, j);
          Value index = nb.create<tensor::ExtractOp>(l, indices, where);
          at.push_back(normalizedIndex(nb, l, index, dataType.getDimSize(batch + j)));
        }
        at.append(dimIndices(nb, l, leading, rest));
        return nb.create<tensor::ExtractOp>(l, data, at).getResult();
      })};
}

// Writes each update into a copy of the data at the coordinates `target`
// gives for its index, combined with what is there.
using Target = std::function<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;
Value scatter(OpBuilder &b, Location loc, Value data, Value updates, const Target &target,
              const Combine &combine) {
  auto updatesType = cast<RankedTensorType>(updates.getType());
  return loopNest(b, loc, updatesType.getShape(), data,
                  [&](OpBuilder &nb, Location l, ValueRange ivs, Value acc) -> Value {
                    SmallVector<Value> at = target(nb, l, ivs);
                    Value update = nb.create<tensor::ExtractOp>(l, updates, ivs);
                    Value current = nb.create<tensor::ExtractOp>(l, acc, at);
                    return nb.create<tensor::InsertOp>(l, combine(nb, l, current, update), acc, at);
                  });
}

// ScatterElements (and Scatter, its older name): out = data, then
// out[i with i[axis] replaced by indices[i]] = updates[i] for each i.
FailureOr<SmallVector<Value>> lowerScatterElements(ir::NodeOp node, OpBuilder &b) {
  Value data = input(node, 0), indices = input(node, 1), updates = input(node, 2);
  auto dataType = cast<RankedTensorType>(data.getType());
  int64_t axis = normalizeAxis(node.intAttr("axis", 0), dataType.getRank());
  auto combine = scatterReduction(node);
  if (failed(combine))
    return failure();
  Target target = [&](OpBuilder &nb, Location l, ValueRange ivs) {
    SmallVector<Value> at(ivs);
    Value index = nb.create<tensor::ExtractOp>(l, indices, ivs);
    at[axis] = normalizedIndex(nb, l, index, dataType.getDimSize(axis));
    return at;
  };
  return SmallVector<Value>{scatter(b, node.getLoc(), data, updates, target, *combine)};
}

// ScatterND: indices [I..., k], updates [I..., data dims from k]; out =
// data, then out[indices[I...], rest...] = updates[I..., rest...].
FailureOr<SmallVector<Value>> lowerScatterND(ir::NodeOp node, OpBuilder &b) {
  Value data = input(node, 0), indices = input(node, 1), updates = input(node, 2);
  auto dataType = cast<RankedTensorType>(data.getType());
  auto indicesType = cast<RankedTensorType>(indices.getType());
  int64_t q = indicesType.getRank(), k = indicesType.getShape().back();
  if (k > dataType.getRank())
    return invalid(node, "indices reach past the data's rank");
  auto combine = scatterReduction(node);
  if (failed(combine))
    return failure();
  Target target = [&](OpBuilder &nb, Location l, ValueRange ivs) {
    SmallVector<Value> where(ivs.take_front(q - 1)), at;
    where.push_back(Value());
    for (int64_t j = 0; j < k; ++j) {
      where.back() = nb.create<arith::ConstantIndexOp>(l, j);
      Value index = nb.create<tensor::ExtractOp>(l, indices, where);
      at.push_back(normalizedIndex(nb, l, index, dataType.getDimSize(j)));
    }
    at.append(ivs.begin() + (q - 1), ivs.end());
    return at;
  };
  return SmallVector<Value>{scatter(b, node.getLoc(), data, updates, target, *combine)};
}

} // namespace

void registerIndexingLowerings() {
  registerLowering("GatherElements", lowerGatherElements);
  registerLowering("GatherND", lowerGatherND);
  registerLowering("ScatterElements", lowerScatterElements);
  registerLowering("Scatter", lowerScatterElements);
  registerLowering("ScatterND", lowerScatterND);
}

} // namespace graceful::compiler::lowering
