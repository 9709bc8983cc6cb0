// Det: each matrix of [..., M, M] reduced by Gaussian elimination with
// partial pivoting (the row of largest magnitude becomes the pivot, as
// LAPACK's getrf and Eigen's PartialPivLU choose it), the determinant being
// the product of the pivots with a sign flip per row swap. scf loops carry
// the matrix being reduced; a zero pivot makes the determinant 0 and stops
// the elimination that would divide by it.
#include "Lowering.h"

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

Value absolute(OpBuilder &b, Location loc, Value x) { return b.create<math::AbsFOp>(loc, x); }

// Row `pivot` of the matrix `a` swapped with row `k` (the same row: no-op).
Value swapRows(OpBuilder &b, Location loc, Value a, Value k, Value pivot, Value zero, Value size) {
  return forLoop(b, loc, zero, size, ValueRange{a},
                 [&](OpBuilder &nb, Location l, Value j, ValueRange carried) {
                   Value m = carried[0];
                   Value atK = nb.create<tensor::ExtractOp>(l, m, ValueRange{k, j});
                   Value atPivot = nb.create<tensor::ExtractOp>(l, m, ValueRange{pivot, j});
                   Value first = nb.create<tensor::InsertOp>(l, atPivot, m, ValueRange{k, j});
                   Value second = nb.create<tensor::InsertOp>(l, atK, first, ValueRange{pivot, j});
                   return SmallVector<Value>{second};
                 })[0];
}

// Subtracts from each row below k its multiple of row k that zeroes its
// column k (the pivot a[k][k] is non-zero).
Value eliminateBelow(OpBuilder &b, Location loc, Value a, Value k, Value pivotValue, Value size) {
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  Value next = b.create<arith::AddIOp>(loc, k, one);
  return forLoop(
      b, loc, next, size, ValueRange{a}, [&](OpBuilder &nb, Location l, Value i, ValueRange rows) {
        Value below = nb.create<tensor::ExtractOp>(l, rows[0], ValueRange{i, k});
        Value factor = nb.create<arith::DivFOp>(l, below, pivotValue);
        return SmallVector<Value>{forLoop(
            nb, l, next, size, rows, [&](OpBuilder &ib, Location il, Value j, ValueRange columns) {
              Value m = columns[0];
              Value top = ib.create<tensor::ExtractOp>(il, m, ValueRange{k, j});
              Value here = ib.create<tensor::ExtractOp>(il, m, ValueRange{i, j});
              Value updated =
                  ib.create<arith::SubFOp>(il, here, ib.create<arith::MulFOp>(il, factor, top));
              return SmallVector<Value>{
                  ib.create<tensor::InsertOp>(il, updated, m, ValueRange{i, j})};
            })[0]};
      })[0];
}

// The determinant of the [M, M] tensor `matrix`.
Value determinant(OpBuilder &b, Location loc, Value matrix, int64_t size) {
  Type element = cast<RankedTensorType>(matrix.getType()).getElementType();
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
  Value sizeValue = b.create<arith::ConstantIndexOp>(loc, size);
  Value oneValue = scalarConstant(b, loc, element, 1.0);
  Value zeroValue = scalarConstant(b, loc, element, 0.0);
  ValueRange reduced = forLoop(
      b, loc, zero, sizeValue, ValueRange{matrix, oneValue},
      [&](OpBuilder &nb, Location l, Value k, ValueRange carried) {
        Value a = carried[0], det = carried[1];
        Value start = nb.create<tensor::ExtractOp>(l, a, ValueRange{k, k});
        ValueRange best =
            forLoop(nb, l, k, sizeValue, ValueRange{k, absolute(nb, l, start)},
                    [&](OpBuilder &pb, Location pl, Value i, ValueRange sofar) {
                      Value candidate =
                          absolute(pb, pl, pb.create<tensor::ExtractOp>(pl, a, ValueRange{i, k}));
                      Value larger = pb.create<arith::CmpFOp>(pl, arith::CmpFPredicate::OGT,
                                                              candidate, sofar[1]);
                      return SmallVector<Value>{
                          pb.create<arith::SelectOp>(pl, larger, i, sofar[0]),
                          pb.create<arith::SelectOp>(pl, larger, candidate, sofar[1])};
                    });
        Value pivotRow = best[0];
        Value swapped = swapRows(nb, l, a, k, pivotRow, zero, sizeValue);
        Value moved = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::ne, pivotRow, k);
        Value signedDet =
            nb.create<arith::SelectOp>(l, moved, nb.create<arith::NegFOp>(l, det), det);
        Value pivot = nb.create<tensor::ExtractOp>(l, swapped, ValueRange{k, k});
        Value product = nb.create<arith::MulFOp>(l, signedDet, pivot);
        Value singular = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, pivot, zeroValue);
        auto eliminated = nb.create<scf::IfOp>(
            l, singular, [&](OpBuilder &tb, Location tl) { tb.create<scf::YieldOp>(tl, swapped); },
            [&](OpBuilder &eb, Location el) {
              eb.create<scf::YieldOp>(el, eliminateBelow(eb, el, swapped, k, pivot, sizeValue));
            });
        return SmallVector<Value>{eliminated.getResult(0), product};
      });
  return reduced[1];
}

// Det(x [..., M, M]) -> [...].
FailureOr<SmallVector<Value>> lowerDet(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  auto type = cast<RankedTensorType>(x.getType());
  RankedTensorType outType = resultType(node);
  int64_t rank = type.getRank();
  if (!isa<FloatType>(type.getElementType()))
    return unsupported(node, "a non-float input");
  if (rank < 2 || type.getDimSize(rank - 1) != type.getDimSize(rank - 2))
    return invalid(node, "an input whose last two dims are not a square matrix");
  int64_t size = type.getDimSize(rank - 1), count = outType.getNumElements();
  Value matrices = reshape(b, loc, x, {count, size, size});
  auto flatType = RankedTensorType::get({count}, outType.getElementType());
  Value dets =
      loopNest(b, loc, {count}, emptyTensor(b, loc, flatType),
               [&](OpBuilder &nb, Location l, ValueRange ivs, Value acc) -> Value {
                 SmallVector<OpFoldResult> offsets{ivs[0], nb.getIndexAttr(0), nb.getIndexAttr(0)};
                 SmallVector<OpFoldResult> sizes{nb.getIndexAttr(1), nb.getIndexAttr(size),
                                                 nb.getIndexAttr(size)};
                 SmallVector<OpFoldResult> strides(3, nb.getIndexAttr(1));
                 auto matrixType = RankedTensorType::get({size, size}, type.getElementType());
                 Value matrix = nb.create<tensor::ExtractSliceOp>(l, matrixType, matrices, offsets,
                                                                  sizes, strides);
                 Value det = size == 0 ? scalarConstant(nb, l, type.getElementType(), 1.0)
                                       : determinant(nb, l, matrix, size);
                 return nb.create<tensor::InsertOp>(l, det, acc, ivs);
               });
  return SmallVector<Value>{reshape(b, loc, dets, outType.getShape())};
}

} // namespace

void registerDeterminantLowerings() { registerLowering("Det", lowerDet); }

} // namespace graceful::compiler::lowering
