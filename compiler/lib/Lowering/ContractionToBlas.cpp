#include "RuntimeCalls.h"
#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULCONTRACTIONTOBLAS
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

// What an SSA value of a generic's body depends on: the loop dims, through
// the operands' indexing maps, and the body's ops that compute it (in body
// order). Nullopt when it depends on the output, on linalg.index, on an op
// with regions or effects, or on an operand through a map that is not a
// projected permutation (each result one dim, or a constant).
struct Slice {
  llvm::SmallBitVector dims;
  llvm::SmallPtrSet<Operation *, 8> ops;
};

std::optional<Slice> sliceOf(linalg::GenericOp op, Value value) {
  Block *body = op.getBody();
  Slice slice{llvm::SmallBitVector(op.getNumLoops()), {}};
  SmallVector<Value> pending{value};
  llvm::DenseSet<Value> seen;
  while (!pending.empty()) {
    Value v = pending.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    if (auto argument = dyn_cast<BlockArgument>(v)) {
      if (argument.getOwner() != body)
        continue; // defined outside the body: the same in every iteration
      if (argument.getArgNumber() >= op.getNumDpsInputs())
        return std::nullopt;
      for (AffineExpr result : op.getIndexingMapsArray()[argument.getArgNumber()].getResults()) {
        if (auto dim = dyn_cast<AffineDimExpr>(result))
          slice.dims.set(dim.getPosition());
        else if (!isa<AffineConstantExpr>(result))
          return std::nullopt;
      }
      continue;
    }
    Operation *def = v.getDefiningOp();
    if (def->getBlock() != body)
      continue;
    if (isa<linalg::IndexOp>(def) || def->getNumRegions() != 0 || !isPure(def))
      return std::nullopt;
    slice.ops.insert(def);
    llvm::append_range(pending, def->getOperands());
  }
  return slice;
}

// A generic of static loop ranges computing out[batch..., m, n] (+)=
// sum_k x[batch..., m, k] * y[batch..., k, n] (dims in any order in each
// operand), where x and y are values of its body: an operand each, or
// elementwise functions of operands (attention's scaled queries, softmax's
// division by the row sums). The batch dims may include dims only one
// factor has (weights shared by the samples).
struct Contraction {
  Value x, y; // the factors, values of the body
  Slice xSlice, ySlice;
  int64_t m = -1, n = -1, k = -1; // loop dims
  SmallVector<int64_t> batch;     // loop dims
};

std::optional<Contraction> contractionOf(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 1 ||
      !isF32Buffer(op.getDpsInits()[0], op.getNumLoops() - 1) ||
      !op.getIndexingMapsArray().back().isProjectedPermutation(/*allowZeroInResults=*/false) ||
      llvm::any_of(op.getStaticLoopRanges(), ShapedType::isDynamic))
    return std::nullopt;
  Value outRoot = rootBuffer(op.getDpsInits()[0]);
  if (llvm::any_of(op.getDpsInputs(), [&](Value in) { return rootBuffer(in) == outRoot; }))
    return std::nullopt;
  Block *body = op.getBody();
  auto sum =
      cast<linalg::YieldOp>(body->getTerminator()).getOperand(0).getDefiningOp<arith::AddFOp>();
  BlockArgument out = body->getArguments().back();
  if (!sum || sum->getBlock() != body || (sum.getLhs() != out && sum.getRhs() != out) ||
      !out.hasOneUse())
    return std::nullopt;
  auto product = (sum.getLhs() == out ? sum.getRhs() : sum.getLhs()).getDefiningOp<arith::MulFOp>();
  if (!product || product->getBlock() != body)
    return std::nullopt;
  std::optional<Slice> xSlice = sliceOf(op, product.getLhs()),
                       ySlice = sliceOf(op, product.getRhs());
  if (!xSlice || !ySlice)
    return std::nullopt;
  Contraction c{
      product.getLhs(), product.getRhs(), std::move(*xSlice), std::move(*ySlice), -1, -1, -1, {}};
  // Of the dims only one factor has, the innermost is its matrix's rows
  // (m) or columns (n); the others are looped over like the batch dims.
  auto iterators = op.getIteratorTypesArray();
  SmallVector<int64_t> xOnly, yOnly;
  for (int64_t d = 0, loops = op.getNumLoops(); d < loops; ++d) {
    bool inX = c.xSlice.dims[d], inY = c.ySlice.dims[d];
    if (iterators[d] == utils::IteratorType::reduction && inX && inY)
      c.k = d;
    else if (iterators[d] == utils::IteratorType::reduction || (!inX && !inY))
      return std::nullopt; // a reduction one factor lacks, or a dim only the output has
    else if (inX && inY)
      c.batch.push_back(d);
    else
      (inX ? xOnly : yOnly).push_back(d);
  }
  // The output has every parallel dim: then it lacks k.
  if (xOnly.empty() || yOnly.empty() || op.getIndexingMapsArray().back().isFunctionOfDim(c.k))
    return std::nullopt;
  c.m = xOnly.pop_back_val(), c.n = yOnly.pop_back_val();
  llvm::append_range(c.batch, xOnly);
  llvm::append_range(c.batch, yOnly);
  return c;
}

// A buffer the products read or write, with the loop dim of each of its
// dims.
struct Operand {
  Value buffer;
  SmallVector<int64_t> dims;
};

// The static stride of `operand`'s dim that is loop dim `dim`.
std::optional<int64_t> strideOf(const Operand &operand, int64_t dim) {
  auto type = cast<MemRefType>(operand.buffer.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (!type.hasStaticShape() || failed(getStridesAndOffset(type, strides, offset)))
    return std::nullopt;
  auto *at = llvm::find(operand.dims, dim);
  if (at == operand.dims.end() || ShapedType::isDynamic(strides[at - operand.dims.begin()]))
    return std::nullopt;
  return strides[at - operand.dims.begin()];
}

// The loop dim of each result of `map`, a projected permutation.
SmallVector<int64_t> loopDims(AffineMap map) {
  SmallVector<int64_t> dims;
  for (AffineExpr result : map.getResults())
    dims.push_back(cast<AffineDimExpr>(result).getPosition());
  return dims;
}

// The factor as the operand it is, when it is one read through a projected
// permutation.
std::optional<Operand> operandOf(linalg::GenericOp op, Value factor) {
  auto argument = dyn_cast<BlockArgument>(factor);
  if (!argument || argument.getOwner() != op.getBody())
    return std::nullopt;
  AffineMap map = op.getIndexingMapsArray()[argument.getArgNumber()];
  if (!map.isProjectedPermutation(/*allowZeroInResults=*/false))
    return std::nullopt;
  return Operand{op.getDpsInputs()[argument.getArgNumber()], loopDims(map)};
}

// Computes the factor into a new row-major buffer over the loop dims
// `dims`, in that order, by a generic of the body's ops it depends on.
Operand materialize(OpBuilder &builder, linalg::GenericOp op, Value factor, const Slice &slice,
                    ArrayRef<int64_t> dims) {
  Location loc = op.getLoc();
  MLIRContext *context = op.getContext();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges(), shape;
  SmallVector<AffineExpr> renumbered(op.getNumLoops(), getAffineConstantExpr(0, context));
  for (auto [position, dim] : llvm::enumerate(dims)) {
    renumbered[dim] = getAffineDimExpr(position, context);
    shape.push_back(ranges[dim]);
  }
  Value buffer = builder.create<memref::AllocOp>(loc, MemRefType::get(shape, builder.getF32Type()));
  // The inputs the factor reads, with their maps over the kept dims.
  Block *body = op.getBody();
  auto reads = [&](BlockArgument argument) {
    return argument == factor || llvm::any_of(argument.getUsers(), [&](Operation *user) {
             return slice.ops.contains(user);
           });
  };
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  SmallVector<BlockArgument> arguments;
  for (OpOperand *input : op.getDpsInputOperands()) {
    BlockArgument argument = op.getMatchingBlockArgument(input);
    if (!reads(argument))
      continue;
    inputs.push_back(input->get());
    arguments.push_back(argument);
    maps.push_back(
        op.getMatchingIndexingMap(input).replaceDimsAndSymbols(renumbered, {}, dims.size(), 0));
  }
  maps.push_back(builder.getMultiDimIdentityMap(dims.size()));
  SmallVector<utils::IteratorType> iterators(dims.size(), utils::IteratorType::parallel);
  builder.create<linalg::GenericOp>(loc, TypeRange{}, inputs, ValueRange{buffer}, maps, iterators,
                                    [&](OpBuilder &nested, Location, ValueRange args) {
                                      IRMapping mapping;
                                      for (auto [argument, arg] : llvm::zip(arguments, args))
                                        mapping.map(argument, arg);
                                      for (Operation &inner : body->without_terminator())
                                        if (slice.ops.contains(&inner))
                                          nested.clone(inner, mapping);
                                      nested.create<linalg::YieldOp>(
                                          loc, mapping.lookupOrDefault(factor));
                                    });
  return {buffer, SmallVector<int64_t>(dims)};
}

// The 2-D view of `operand` at the batch indices `at` (loop dim -> index),
// its dims ordered as `rows`, `columns`.
Value matrixAt(OpBuilder &builder, Location loc, const Operand &operand,
               const llvm::DenseMap<int64_t, Value> &at, int64_t rows, int64_t columns) {
  auto type = cast<MemRefType>(operand.buffer.getType());
  SmallVector<OpFoldResult> offsets, sizes, strides(type.getRank(), builder.getIndexAttr(1));
  SmallVector<int64_t> kept;
  for (auto [position, dim] : llvm::enumerate(operand.dims)) {
    if (auto index = at.find(dim); index != at.end()) {
      offsets.push_back(index->second);
      sizes.push_back(builder.getIndexAttr(1));
    } else {
      offsets.push_back(builder.getIndexAttr(0));
      sizes.push_back(builder.getIndexAttr(type.getDimSize(position)));
      kept.push_back(dim);
    }
  }
  SmallVector<int64_t> shape;
  for (int64_t dim : kept)
    shape.push_back(type.getDimSize(llvm::find(operand.dims, dim) - operand.dims.begin()));
  auto viewType = cast<MemRefType>(
      memref::SubViewOp::inferRankReducedResultType(shape, type, offsets, sizes, strides));
  Value view =
      builder.create<memref::SubViewOp>(loc, viewType, operand.buffer, offsets, sizes, strides);
  if (kept == SmallVector<int64_t>{rows, columns})
    return view;
  AffineMap swap = AffineMap::getPermutationMap(ArrayRef<unsigned>{1, 0}, builder.getContext());
  return builder.create<memref::TransposeOp>(loc, view, AffineMapAttr::get(swap));
}

// The dims of a factor's row-major buffer: its batch dims, then `rows`
// and `columns`.
SmallVector<int64_t> matrixDims(const Contraction &c, const Slice &factor, int64_t rows,
                                int64_t columns) {
  SmallVector<int64_t> dims;
  for (int64_t d : c.batch)
    if (factor.dims[d])
      dims.push_back(d);
  dims.append({rows, columns});
  return dims;
}

// The factors and the output as operands BLAS can take: x with unit stride
// along k, y along n (or k: then the product transposes it), the output
// along n. Factors that are not such operands are computed into buffers
// that are.
struct Operands {
  Operand x, y, out;
  bool transposeY = false;
  SmallVector<Value> computed; // buffers to free after the products
};

std::optional<Operands> operandsFor(OpBuilder &builder, linalg::GenericOp op,
                                    const Contraction &c) {
  Operand out{op.getDpsInits()[0], loopDims(op.getIndexingMapsArray().back())};
  if (strideOf(out, c.n) != 1)
    return std::nullopt;
  Operands operands{{}, {}, out, false, {}};
  std::optional<Operand> x = operandOf(op, c.x), y = operandOf(op, c.y);
  if (x && strideOf(*x, c.k) == 1) {
    operands.x = *x;
  } else {
    operands.x = materialize(builder, op, c.x, c.xSlice, matrixDims(c, c.xSlice, c.m, c.k));
    operands.computed.push_back(operands.x.buffer);
  }
  if (y && (strideOf(*y, c.n) == 1 || strideOf(*y, c.k) == 1)) {
    operands.y = *y;
    operands.transposeY = strideOf(*y, c.n) != 1;
  } else {
    operands.y = materialize(builder, op, c.y, c.ySlice, matrixDims(c, c.ySlice, c.k, c.n));
    operands.computed.push_back(operands.y.buffer);
  }
  return operands;
}

// Replaces `op` by one graceful_sgemm per batch index, in loops over the
// batch dims.
void callProducts(OpBuilder &builder, ModuleOp module, linalg::GenericOp op, const Contraction &c) {
  Location loc = op.getLoc();
  builder.setInsertionPoint(op);
  std::optional<Operands> operands = operandsFor(builder, op, c);
  if (!operands)
    return;
  int64_t accumulate = eraseZeroFillBefore(op, operands->out.buffer) ? 0 : 1;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  llvm::DenseMap<int64_t, Value> at;
  OpBuilder::InsertionGuard guard(builder);
  for (int64_t dim : c.batch) {
    Value zero = builder.create<arith::ConstantIndexOp>(loc, 0);
    Value size = builder.create<arith::ConstantIndexOp>(loc, ranges[dim]);
    Value one = builder.create<arith::ConstantIndexOp>(loc, 1);
    auto loop = builder.create<scf::ForOp>(loc, zero, size, one);
    builder.setInsertionPointToStart(loop.getBody());
    at[dim] = loop.getInductionVar();
  }
  Value x = matrixAt(builder, loc, operands->x, at, c.m, c.k);
  Value y = operands->transposeY ? matrixAt(builder, loc, operands->y, at, c.n, c.k)
                                 : matrixAt(builder, loc, operands->y, at, c.k, c.n);
  Value out = matrixAt(builder, loc, operands->out, at, c.m, c.n);
  float infinity = std::numeric_limits<float>::infinity();
  callRuntime(builder, module, loc, "graceful_sgemm", {x, y, out},
              {operands->transposeY ? 1 : 0, accumulate}, {-infinity, infinity});
  builder.setInsertionPointAfter(op);
  for (Value buffer : operands->computed)
    builder.create<memref::DeallocOp>(loc, buffer);
  op->erase();
}

struct ContractionToBlasPass : impl::GracefulContractionToBlasBase<ContractionToBlasPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<linalg::GenericOp, Contraction>, 4> contractions;
    module.walk([&](linalg::GenericOp op) {
      if (std::optional<Contraction> c = contractionOf(op))
        contractions.emplace_back(op, std::move(*c));
    });
    OpBuilder builder(&getContext());
    for (auto &[op, c] : contractions)
      callProducts(builder, module, op, c);
  }
};

} // namespace
} // namespace graceful::compiler
