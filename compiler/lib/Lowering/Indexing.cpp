// Ops that work with positions: reading and writing at indices the model
// computes (GatherElements, GatherND, ScatterElements and the older
// Scatter, ScatterND, MaxUnpool), values made from positions (Trilu, EyeLike, OneHot,
// Range, the window functions) and ops that compare along an axis (Hardmax,
// CumSum, TopK, ReverseSequence).
// Gathers are linalg.generic ops over the output reading the data with
// tensor.extract; scatters copy the data and loop over the updates
// (scf.for), writing each one with tensor.insert, in order, so a repeated
// index is reduced the way the ONNX reference does it.
#include "Lowering.h"

#include <cmath>

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
  Signedness signedness = inputSignedness(node);
  if (reduction == "max" || reduction == "min")
    return Combine(
        [signedness, max = reduction == "max"](OpBuilder &b, Location loc, Value x, Value y) {
          return max ? maximum(b, loc, x, y, signedness) : minimum(b, loc, x, y, signedness);
        });
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
  if (failed(checkIndexedDims(node, dataType, {axis}, outType)))
    return failure();
  return SmallVector<Value>{generate(b, node.getLoc(), outType, [&](OpBuilder &nb, Location l) {
    SmallVector<Value> at = dimIndices(nb, l, 0, static_cast<unsigned>(rank));
    Value index = nb.create<tensor::ExtractOp>(l, indices, at);
    at[axis] = checkedIndex(nb, l, node, index, axis, dataType.getDimSize(axis));
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
  if (failed(checkIndexedDims(node, dataType, llvm::to_vector(llvm::seq(batch, batch + k)),
                              resultType(node))))
    return failure();
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
          at.push_back(checkedIndex(nb, l, node, index, batch + j, dataType.getDimSize(batch + j)));
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
  if (failed(combine) ||
      failed(checkIndexedDims(node, dataType, {axis}, cast<RankedTensorType>(updates.getType()))))
    return failure();
  Target target = [&](OpBuilder &nb, Location l, ValueRange ivs) {
    SmallVector<Value> at(ivs);
    Value index = nb.create<tensor::ExtractOp>(l, indices, ivs);
    at[axis] = checkedIndex(nb, l, node, index, axis, dataType.getDimSize(axis));
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
  if (failed(combine) ||
      failed(checkIndexedDims(node, dataType, llvm::to_vector(llvm::seq(int64_t{0}, k)),
                              cast<RankedTensorType>(updates.getType()))))
    return failure();
  Target target = [&](OpBuilder &nb, Location l, ValueRange ivs) {
    SmallVector<Value> where(ivs.take_front(q - 1)), at;
    where.push_back(Value());
    for (int64_t j = 0; j < k; ++j) {
      where.back() = nb.create<arith::ConstantIndexOp>(l, j);
      Value index = nb.create<tensor::ExtractOp>(l, indices, where);
      at.push_back(checkedIndex(nb, l, node, index, j, dataType.getDimSize(j)));
    }
    at.append(ivs.begin() + (q - 1), ivs.end());
    return at;
  };
  return SmallVector<Value>{scatter(b, node.getLoc(), data, updates, target, *combine)};
}

// MaxUnpool(X, I, output_shape?): zeros, with X[i] written at I[i], an
// index into the whole output read flat (as MaxPool's Indices are); a later
// write to the same place wins.
FailureOr<SmallVector<Value>> lowerMaxUnpool(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0), indices = input(node, 1);
  RankedTensorType outType = resultType(node);
  if (cast<RankedTensorType>(indices.getType()).getShape() !=
      cast<RankedTensorType>(x.getType()).getShape())
    return invalid(node, "indices whose shape is not the input's");
  int64_t total = outType.getNumElements();
  auto flatType = RankedTensorType::get({total}, outType.getElementType());
  if (total == 0 && cast<RankedTensorType>(x.getType()).getNumElements() > 0)
    return invalid(node, "an empty output for a non-empty input");
  Value zeros =
      filledTensor(b, loc, flatType, scalarConstant(b, loc, flatType.getElementType(), 0));
  Target target = [&](OpBuilder &nb, Location l, ValueRange ivs) {
    Value index = nb.create<tensor::ExtractOp>(l, indices, ivs);
    return SmallVector<Value>{checkedIndex(nb, l, node, index, 0, total, IndexedPlace::FlatOutput)};
  };
  Combine replace = [](OpBuilder &, Location, Value, Value update) { return update; };
  Value flat = scatter(b, loc, zeros, x, target, replace);
  return SmallVector<Value>{reshape(b, loc, flat, outType.getShape())};
}

Value indexAsInt(OpBuilder &b, Location loc, unsigned dim) {
  return b.create<arith::IndexCastOp>(loc, b.getI64Type(), b.create<linalg::IndexOp>(loc, dim));
}

Value zeroOrOne(OpBuilder &b, Location loc, Value condition, Type element) {
  return b.create<arith::SelectOp>(loc, condition, scalarConstant(b, loc, element, 1.0),
                                   scalarConstant(b, loc, element, 0.0));
}

// A scalar operand given as a constant (Trilu's k, CumSum's axis, TopK's K).
FailureOr<int64_t> constantScalar(ir::NodeOp node, unsigned index, StringRef what) {
  auto values = constantInts(input(node, index));
  if (!values || values->size() != 1) {
    (void)unsupported(node, what + " must be a constant");
    return failure();
  }
  return (*values)[0];
}

// Trilu keeps x where j - i >= k (upper) or j - i <= k (lower), over the
// last two dims, and writes 0 elsewhere.
FailureOr<SmallVector<Value>> lowerTrilu(ir::NodeOp node, OpBuilder &b) {
  int64_t k = 0;
  if (hasInput(node, 1)) {
    auto given = constantScalar(node, 1, "k");
    if (failed(given))
      return failure();
    k = *given;
  }
  bool upper = node.intAttr("upper", 1) != 0;
  RankedTensorType type = resultType(node);
  unsigned rank = static_cast<unsigned>(type.getRank());
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  return SmallVector<Value>{
      b.create<linalg::GenericOp>(
           node.getLoc(), TypeRange{type}, ValueRange{input(node, 0)},
           ValueRange{emptyTensor(b, node.getLoc(), type)}, SmallVector<AffineMap>(2, identity),
           SmallVector<IteratorType>(rank, IteratorType::parallel),
           [&](OpBuilder &nb, Location l, ValueRange args) {
             Value offset = nb.create<arith::SubIOp>(l, indexAsInt(nb, l, rank - 1),
                                                     indexAsInt(nb, l, rank - 2));
             Value kValue = scalarConstant(nb, l, nb.getI64Type(), static_cast<double>(k));
             Value keep = nb.create<arith::CmpIOp>(
                 l, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle, offset, kValue);
             Value zero = scalarConstant(nb, l, args[0].getType(), 0.0);
             nb.create<linalg::YieldOp>(
                 l, nb.create<arith::SelectOp>(l, keep, args[0], zero).getResult());
           })
          .getResult(0)};
}

// EyeLike: ones where j - i == k.
FailureOr<SmallVector<Value>> lowerEyeLike(ir::NodeOp node, OpBuilder &b) {
  RankedTensorType type = resultType(node);
  if (type.getRank() != 2)
    return invalid(node, "the input must be 2-D");
  int64_t k = node.intAttr("k", 0);
  return SmallVector<Value>{generate(b, node.getLoc(), type, [&](OpBuilder &nb, Location l) {
    Value offset = nb.create<arith::SubIOp>(l, indexAsInt(nb, l, 1), indexAsInt(nb, l, 0));
    Value onDiagonal =
        nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, offset,
                                 scalarConstant(nb, l, nb.getI64Type(), static_cast<double>(k)));
    return zeroOrOne(nb, l, onDiagonal, type.getElementType());
  })};
}

// OneHot: out[..., a, ...] (a at `axis`) is values[1] where the index there
// (negative ones count from depth) is a, else values[0].
FailureOr<SmallVector<Value>> lowerOneHot(ir::NodeOp node, OpBuilder &b) {
  Value indices = input(node, 0), values = input(node, 2);
  RankedTensorType outType = resultType(node);
  unsigned rank = static_cast<unsigned>(outType.getRank());
  unsigned axis = static_cast<unsigned>(normalizeAxis(node.intAttr("axis", -1), rank));
  int64_t depth = outType.getDimSize(axis);
  Type element = outType.getElementType();
  return SmallVector<Value>{generate(b, node.getLoc(), outType, [&](OpBuilder &nb, Location l) {
    SmallVector<Value> at;
    for (unsigned d = 0; d < rank; ++d)
      if (d != axis)
        at.push_back(nb.create<linalg::IndexOp>(l, d));
    Value index =
        convertScalar(nb, l, nb.create<tensor::ExtractOp>(l, indices, at), nb.getI64Type());
    Value depthValue = scalarConstant(nb, l, nb.getI64Type(), static_cast<double>(depth));
    Value zero = scalarConstant(nb, l, nb.getI64Type(), 0.0);
    Value negative = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, index, zero);
    index = nb.create<arith::SelectOp>(l, negative, nb.create<arith::AddIOp>(l, index, depthValue),
                                       index);
    Value hot =
        nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, index, indexAsInt(nb, l, axis));
    Value off = nb.create<tensor::ExtractOp>(l, values,
                                             ValueRange{nb.create<arith::ConstantIndexOp>(l, 0)});
    Value on = nb.create<tensor::ExtractOp>(l, values,
                                            ValueRange{nb.create<arith::ConstantIndexOp>(l, 1)});
    return convertScalar(nb, l, nb.create<arith::SelectOp>(l, hot, on, off), element);
  })};
}

// Range: out[i] = start + i * delta (its length is in the result type).
FailureOr<SmallVector<Value>> lowerRange(ir::NodeOp node, OpBuilder &b) {
  RankedTensorType outType = resultType(node);
  Value start = input(node, 0), delta = input(node, 2);
  return SmallVector<Value>{generate(b, node.getLoc(), outType, [&](OpBuilder &nb, Location l) {
    Value first = nb.create<tensor::ExtractOp>(l, start, ValueRange{});
    Value step = nb.create<tensor::ExtractOp>(l, delta, ValueRange{});
    Value i = convertScalar(nb, l, indexAsInt(nb, l, 0), outType.getElementType());
    return add(nb, l, first, mul(nb, l, i, step));
  })};
}

// A linalg.generic over the dims of `shape` and one more, last, reduction
// dim along `axis`: each input is read at the position with its `axis`
// coordinate replaced by the new dim (or at the position itself when
// `alongAxis` is false); the outputs are indexed by the position.
linalg::GenericOp overAxis(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, int64_t axis,
                           ArrayRef<std::pair<Value, bool>> inputs, ValueRange inits,
                           function_ref<void(OpBuilder &, Location, ValueRange)> body) {
  unsigned rank = static_cast<unsigned>(shape.size());
  SmallVector<AffineExpr> position, along;
  for (unsigned d = 0; d < rank; ++d) {
    position.push_back(b.getAffineDimExpr(d));
    along.push_back(b.getAffineDimExpr(d == axis ? rank : d));
  }
  SmallVector<AffineMap> maps;
  SmallVector<Value> operands;
  for (auto [value, alongAxis] : inputs) {
    operands.push_back(value);
    maps.push_back(AffineMap::get(rank + 1, 0, alongAxis ? along : position, b.getContext()));
  }
  for (size_t i = 0; i < inits.size(); ++i)
    maps.push_back(AffineMap::get(rank + 1, 0, position, b.getContext()));
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  iterators.push_back(IteratorType::reduction);
  return b.create<linalg::GenericOp>(loc, inits.getTypes(), operands, inits, maps, iterators, body);
}

// CumSum: out[i] sums x[j] along the axis for j <= i (j < i when exclusive;
// j >= i, j > i when reversed), as one reduction over the axis.
FailureOr<SmallVector<Value>> lowerCumSum(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  RankedTensorType type = resultType(node);
  auto axisValue = constantScalar(node, 1, "axis");
  if (failed(axisValue))
    return failure();
  int64_t rank = type.getRank();
  unsigned axis = static_cast<unsigned>(normalizeAxis(*axisValue, rank));
  bool exclusive = node.intAttr("exclusive", 0) != 0, reverse = node.intAttr("reverse", 0) != 0;
  arith::CmpIPredicate predicate =
      reverse ? (exclusive ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::uge)
              : (exclusive ? arith::CmpIPredicate::ult : arith::CmpIPredicate::ule);
  Value zero = scalarConstant(b, loc, type.getElementType(), 0.0);
  auto generic = overAxis(b, loc, type.getShape(), axis, {{x, true}},
                          ValueRange{filledTensor(b, loc, type, zero)},
                          [&](OpBuilder &nb, Location l, ValueRange args) {
                            Value j = nb.create<linalg::IndexOp>(l, static_cast<unsigned>(rank));
                            Value i = nb.create<linalg::IndexOp>(l, axis);
                            Value counts = nb.create<arith::CmpIOp>(l, predicate, j, i);
                            Value term = nb.create<arith::SelectOp>(
                                l, counts, args[0], scalarConstant(nb, l, args[0].getType(), 0.0));
                            nb.create<linalg::YieldOp>(l, add(nb, l, args[1], term));
                          });
  return SmallVector<Value>{generic.getResult(0)};
}

// Whether x at position `other` comes before x at position `self` in the
// order asked for: larger (or smaller) first, the lower index first among
// equals.
Value comesBefore(OpBuilder &b, Location loc, Value other, Value self, Value otherIndex,
                  Value selfIndex, bool largest) {
  bool isFloat = isa<FloatType>(other.getType());
  Value strictly =
      isFloat
          ? b.create<arith::CmpFOp>(
                 loc, largest ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT, other, self)
                .getResult()
          : b.create<arith::CmpIOp>(
                 loc, largest ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::slt, other, self)
                .getResult();
  Value equal =
      isFloat ? b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ, other, self).getResult()
              : b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, other, self).getResult();
  Value earlier = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, otherIndex, selfIndex);
  return b.create<arith::OrIOp>(loc, strictly, b.create<arith::AndIOp>(loc, equal, earlier));
}

// Each element's rank along the axis in the order `largest` asks for (0
// first): how many elements come before it.
Value ranksAlong(OpBuilder &b, Location loc, Value x, int64_t axis, bool largest) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = static_cast<unsigned>(type.getRank());
  auto rankType = RankedTensorType::get(type.getShape(), b.getI64Type());
  Value zero = scalarConstant(b, loc, b.getI64Type(), 0.0);
  return overAxis(b, loc, type.getShape(), axis, {{x, false}, {x, true}},
                  ValueRange{filledTensor(b, loc, rankType, zero)},
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    Value before = comesBefore(
                        nb, l, args[1], args[0], nb.create<linalg::IndexOp>(l, rank),
                        nb.create<linalg::IndexOp>(l, static_cast<unsigned>(axis)), largest);
                    Value one = convertScalar(nb, l, before, nb.getI64Type());
                    nb.create<linalg::YieldOp>(l, add(nb, l, args[2], one));
                  })
      .getResult(0);
}

// TopK: the elements ranked 0..K-1 along the axis and their indices,
// picked out of the ranks by one reduction over the axis (the order is
// sorted whatever `sorted` says, which ONNX allows).
FailureOr<SmallVector<Value>> lowerTopK(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  RankedTensorType valuesType = resultType(node, 0), indicesType = resultType(node, 1);
  int64_t axis = normalizeAxis(node.intAttr("axis", -1), valuesType.getRank());
  bool largest = node.intAttr("largest", 1) != 0;
  Value ranks = ranksAlong(b, loc, x, axis, largest);
  unsigned rank = static_cast<unsigned>(valuesType.getRank());
  Value valueInit =
      filledTensor(b, loc, valuesType, scalarConstant(b, loc, valuesType.getElementType(), 0.0));
  Value indexInit =
      filledTensor(b, loc, indicesType, scalarConstant(b, loc, indicesType.getElementType(), 0.0));
  auto generic = overAxis(
      b, loc, valuesType.getShape(), axis, {{x, true}, {ranks, true}},
      ValueRange{valueInit, indexInit}, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value wanted = indexAsInt(nb, l, static_cast<unsigned>(axis));
        Value match = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, args[1], wanted);
        Value value = nb.create<arith::SelectOp>(l, match, args[0], args[2]);
        Value index = nb.create<arith::SelectOp>(l, match, indexAsInt(nb, l, rank), args[3]);
        nb.create<linalg::YieldOp>(l, ValueRange{value, index});
      });
  return SmallVector<Value>{generic.getResult(0), generic.getResult(1)};
}

// Hardmax: 1 at the first maximum along the axis, 0 elsewhere.
FailureOr<SmallVector<Value>> lowerHardmax(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  RankedTensorType type = resultType(node);
  int64_t axis = normalizeAxis(node.intAttr("axis", -1), type.getRank());
  Value ranks = ranksAlong(b, loc, x, axis, true);
  return SmallVector<Value>{broadcastElementwise(
      b, loc, type, {ranks}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value first = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, args[0],
                                               scalarConstant(nb, l, nb.getI64Type(), 0.0));
        return zeroOrOne(nb, l, first, type.getElementType());
      })};
}

// ReverseSequence: out[t, b] = x[len[b] - 1 - t, b] for t < len[b], else
// x[t, b] (time and batch axes as the node says).
FailureOr<SmallVector<Value>> lowerReverseSequence(ir::NodeOp node, OpBuilder &b) {
  Value x = input(node, 0), lengths = input(node, 1);
  RankedTensorType type = resultType(node);
  unsigned rank = static_cast<unsigned>(type.getRank());
  unsigned timeAxis = static_cast<unsigned>(node.intAttr("time_axis", 0));
  unsigned batchAxis = static_cast<unsigned>(node.intAttr("batch_axis", 1));
  if (rank < 2 || timeAxis > 1 || batchAxis > 1 || timeAxis == batchAxis)
    return invalid(node, "time_axis and batch_axis must be 0 and 1 of an input of rank 2 or more");
  int64_t steps = type.getDimSize(timeAxis);
  return SmallVector<Value>{generate(b, node.getLoc(), type, [&](OpBuilder &nb, Location l) {
    SmallVector<Value> at = dimIndices(nb, l, 0, rank);
    Value length = nb.create<arith::IndexCastOp>(
        l, nb.getIndexType(),
        checkedLength(nb, l, node,
                      nb.create<tensor::ExtractOp>(l, lengths, ValueRange{at[batchAxis]}), steps));
    Value t = at[timeAxis];
    Value reversed = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, t, length);
    Value mirrored = nb.create<arith::SubIOp>(
        l, nb.create<arith::SubIOp>(l, length, nb.create<arith::ConstantIndexOp>(l, 1)), t);
    at[timeAxis] = nb.create<arith::SelectOp>(l, reversed, mirrored, t);
    return nb.create<tensor::ExtractOp>(l, x, at).getResult();
  })};
}

// Hann, Hamming and Blackman windows: sum_k a_k cos(2 pi k n / D) with D
// the size (periodic) or the size - 1 (symmetric), computed in double.
LowerFn cosineWindow(std::vector<double> terms) {
  return [terms](ir::NodeOp node, OpBuilder &b) -> FailureOr<SmallVector<Value>> {
    RankedTensorType type = resultType(node);
    int64_t size = type.getDimSize(0);
    bool periodic = node.intAttr("periodic", 1) != 0;
    double denominator = static_cast<double>(periodic ? size : size - 1);
    return SmallVector<Value>{generate(b, node.getLoc(), type, [&](OpBuilder &nb, Location l) {
      Type f64 = nb.getF64Type();
      Value n = convertScalar(nb, l, indexAsInt(nb, l, 0), f64);
      Value angle =
          nb.create<arith::MulFOp>(l, n, scalarConstant(nb, l, f64, 2 * M_PI / denominator));
      Value sum = scalarConstant(nb, l, f64, terms[0]);
      for (size_t k = 1; k < terms.size(); ++k) {
        Value harmonic = nb.create<arith::MulFOp>(l, angle, scalarConstant(nb, l, f64, double(k)));
        Value term = nb.create<arith::MulFOp>(l, scalarConstant(nb, l, f64, terms[k]),
                                              nb.create<math::CosOp>(l, harmonic));
        sum = nb.create<arith::AddFOp>(l, sum, term);
      }
      return convertScalar(nb, l, sum, type.getElementType());
    })};
  };
}

} // namespace

void registerIndexingLowerings() {
  registerLowering("GatherElements", lowerGatherElements);
  registerLowering("GatherND", lowerGatherND);
  registerLowering("ScatterElements", lowerScatterElements);
  registerLowering("Scatter", lowerScatterElements);
  registerLowering("ScatterND", lowerScatterND);
  registerLowering("MaxUnpool", lowerMaxUnpool);
  registerLowering("Trilu", lowerTrilu);
  registerLowering("EyeLike", lowerEyeLike);
  registerLowering("OneHot", lowerOneHot);
  registerLowering("Range", lowerRange);
  registerLowering("CumSum", lowerCumSum);
  registerLowering("TopK", lowerTopK);
  registerLowering("Hardmax", lowerHardmax);
  registerLowering("ReverseSequence", lowerReverseSequence);
  registerLowering("HannWindow", cosineWindow({0.5, -0.5}));
  registerLowering("HammingWindow", cosineWindow({25.0 / 46.0, -21.0 / 46.0}));
  registerLowering("BlackmanWindow", cosineWindow({0.42, -0.5, 0.08}));
}

} // namespace graceful::compiler::lowering
