#include "../Jit/Winograd.h"
#include "RuntimeCalls.h"
#include "graceful/compiler/OnnxTypes.h"
#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULLINALGTOBLAS
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

// The body of a product: yield out + a * b.
bool isMultiplyAccumulate(linalg::GenericOp op) {
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  auto sum = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!sum)
    return false;
  Block *body = op.getBody();
  auto product = sum.getRhs().getDefiningOp<arith::MulFOp>();
  return product && sum.getLhs() == body->getArgument(2) &&
         product.getLhs() == body->getArgument(0) && product.getRhs() == body->getArgument(1);
}

// The convolution products graceful-lower-onnx writes: dims (n, m, p, k),
// out[n, m, p] += a[m, k] * b[n, k, p].
bool isPerSampleProduct(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 || op.getNumLoops() != 4 ||
      op.getNumReductionLoops() != 1 || !isF32Buffer(op->getOperand(0), 2) ||
      !isF32Buffer(op->getOperand(1), 3) || !isF32Buffer(op->getOperand(2), 3))
    return false;
  MLIRContext *context = op.getContext();
  auto map = [&](ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> exprs;
    for (unsigned dim : dims)
      exprs.push_back(getAffineDimExpr(dim, context));
    return AffineMap::get(4, 0, exprs, context);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  return maps[0] == map({1, 3}) && maps[1] == map({0, 3, 2}) && maps[2] == map({0, 1, 2}) &&
         isMultiplyAccumulate(op);
}

// Replaces `op` (A, B -> C) by a call to the runtime's `name` on A, `b`
// (what the runtime makes B from) and C.
void callProduct(OpBuilder &builder, ModuleOp module, Operation *op, StringRef name, Value b,
                 SmallVector<int64_t> flags) {
  callKernel(builder, module, op, name, {op->getOperand(0), b},
             startingEpilogue(op, op->getOperand(2)), flags);
}

// The patches a per-sample product multiplies, as graceful-lower-onnx
// gathers them for a convolution (im2col): patches[n, c, i, j, y, x] =
// input[n, c, y * sy + i * dy, x * sx + j * dx], read through a view
// collapsing them to [N, C*KH*KW, OH*OW].
struct Im2col {
  linalg::GenericOp gather;
  Value input;
  int64_t kernelHeight, kernelWidth, outWidth, strideY, strideX, dilationY, dilationX;
};

// d_dim's coefficient in each result of a pure affine `map` without
// constants (the results at the unit vector along dim).
SmallVector<int64_t> coefficients(AffineMap map, unsigned dim) {
  SmallVector<int64_t> point(map.getNumDims(), 0);
  point[dim] = 1;
  return llvm::to_vector(map.compose(point));
}

// True when `map` is (d0..d5) -> (d0, d1, sy*d4 + dy*d2, sx*d5 + dx*d3);
// fills in the strides and dilations.
bool isPatchMap(AffineMap map, Im2col &im2col) {
  if (map.getNumDims() != 6 || map.getNumSymbols() != 0 || map.getNumResults() != 4 ||
      !llvm::all_of(map.getResults(), [](AffineExpr e) { return e.isPureAffine(); }) ||
      !llvm::all_of(map.compose(SmallVector<int64_t>(6, 0)), [](int64_t v) { return v == 0; }))
    return false;
  SmallVector<SmallVector<int64_t>> byDim;
  for (unsigned dim = 0; dim < 6; ++dim)
    byDim.push_back(coefficients(map, dim));
  im2col.dilationY = byDim[2][2], im2col.dilationX = byDim[3][3];
  im2col.strideY = byDim[4][2], im2col.strideX = byDim[5][3];
  SmallVector<SmallVector<int64_t>> expected{{1, 0, 0, 0},
                                             {0, 1, 0, 0},
                                             {0, 0, im2col.dilationY, 0},
                                             {0, 0, 0, im2col.dilationX},
                                             {0, 0, im2col.strideY, 0},
                                             {0, 0, 0, im2col.strideX}};
  return byDim == expected && im2col.strideY > 0 && im2col.strideX > 0 && im2col.dilationY > 0 &&
         im2col.dilationX > 0;
}

std::optional<Im2col> im2colOf(linalg::GenericOp product) {
  Im2col im2col;
  auto view = product.getDpsInputs()[1].getDefiningOp<memref::CollapseShapeOp>();
  if (!view)
    return std::nullopt;
  Value patches = view.getSrc();
  auto type = dyn_cast<MemRefType>(patches.getType());
  SmallVector<ReassociationIndices> reassociation{{0}, {1, 2, 3}, {4, 5}};
  if (!type || type.getRank() != 6 || !type.getLayout().isIdentity() ||
      view.getReassociationIndices() != reassociation)
    return std::nullopt;
  // The patches buffer may be reused for other convolutions' patches: what
  // matters is that the gather writes it last before the product and that
  // the next op using it after the product overwrites it.
  im2col.gather = dyn_cast_or_null<linalg::GenericOp>(lastUseBefore(product, patches));
  Operation *next = nextUseOf(product, patches);
  auto overwriting = dyn_cast_or_null<linalg::GenericOp>(next);
  if (next && !isa<memref::DeallocOp>(next) && !(overwriting && overwrites(overwriting, patches)))
    return std::nullopt;
  linalg::GenericOp gather = im2col.gather;
  if (!gather || gather.getNumDpsInputs() != 1 || gather.getDpsInits()[0] != patches ||
      gather.getNumLoops() != gather.getNumParallelLoops() ||
      gather.getBody()->getTerminator()->getOperand(0) != gather.getBody()->getArgument(0) ||
      !gather.getIndexingMapsArray()[1].isIdentity() ||
      !isPatchMap(gather.getIndexingMapsArray()[0], im2col))
    return std::nullopt;
  im2col.input = gather.getDpsInputs()[0];
  im2col.kernelHeight = type.getDimSize(2), im2col.kernelWidth = type.getDimSize(3);
  im2col.outWidth = type.getDimSize(5);
  if (!isF32Buffer(im2col.input, 4))
    return std::nullopt;
  return im2col;
}

// Convolutions smaller than this, in channels or output pixels per side,
// are faster direct: their Winograd products are too small for BLAS, or
// their tiles mostly padding: with ResNet-18's 7x7 layers included it ran
// 25% slower at batch 1 (bench/models.sh) and compiled 2.5x slower.
constexpr int64_t kWinogradMinimumChannels = 16;
constexpr int64_t kWinogradMinimumSide = 8;

// The constant filters [M, C*9] a 3x3 stride-1 convolution multiplies,
// transformed for winograd::convolve into a new constant global [36, M, C];
// a null value when the convolution is not such a one, its filters are
// not a constant, or they are too small or too large for the transform.
Value winogradFilters(OpBuilder &builder, ModuleOp module, linalg::GenericOp product,
                      const Im2col &im2col) {
  // The filters, [M, C, 3, 3], reach the product as a [M, C*9] view.
  Value filterView = product.getDpsInputs()[0];
  if (auto collapse = filterView.getDefiningOp<memref::CollapseShapeOp>())
    filterView = collapse.getSrc();
  auto filters = filterView.getDefiningOp<memref::GetGlobalOp>();
  auto outputType = cast<MemRefType>(product.getDpsInits()[0].getType());
  auto inputType = cast<MemRefType>(im2col.input.getType());
  if (!filters || im2col.kernelHeight != 3 || im2col.kernelWidth != 3 || im2col.strideY != 1 ||
      im2col.strideX != 1 || im2col.dilationY != 1 || im2col.dilationX != 1 ||
      outputType.isDynamicDim(1) || outputType.isDynamicDim(2) || inputType.isDynamicDim(1))
    return {};
  int64_t outChannels = outputType.getDimSize(1), channels = inputType.getDimSize(1);
  int64_t outHeight = outputType.getDimSize(2) / std::max<int64_t>(im2col.outWidth, 1);
  if (channels < kWinogradMinimumChannels || outChannels < kWinogradMinimumChannels ||
      outHeight < kWinogradMinimumSide || im2col.outWidth < kWinogradMinimumSide)
    return {};
  auto global =
      SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(filters, filters.getNameAttr());
  auto initial = global && global.getConstant()
                     ? dyn_cast_or_null<ElementsAttr>(global.getInitialValueAttr())
                     : ElementsAttr();
  std::optional<std::string> bytes = initial ? rawElementBytes(initial) : std::nullopt;
  if (!bytes || !initial.getElementType().isF32() ||
      static_cast<int64_t>(bytes->size()) != outChannels * channels * 9 * 4)
    return {};
  std::vector<float> weights(static_cast<size_t>(outChannels * channels * 9));
  std::memcpy(weights.data(), bytes->data(), bytes->size());
  std::optional<std::vector<float>> transformed =
      winograd::transformFilters(weights.data(), outChannels, channels);
  if (!transformed)
    return {};
  auto tensorType =
      RankedTensorType::get({winograd::kPoints, outChannels, channels}, builder.getF32Type());
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(reinterpret_cast<const char *>(transformed->data()),
                     transformed->size() * sizeof(float)),
      alignof(std::max_align_t));
  auto value = DenseResourceElementsAttr::get(tensorType, (global.getSymName() + "_winograd").str(),
                                              std::move(blob));
  auto memrefType = MemRefType::get(tensorType.getShape(), builder.getF32Type());
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(global);
  auto transformedGlobal = builder.create<memref::GlobalOp>(
      global.getLoc(), (global.getSymName() + "_winograd").str(), builder.getStringAttr("private"),
      memrefType, value, /*constant=*/true, builder.getI64IntegerAttr(64));
  SymbolTable(module).insert(transformedGlobal);
  builder.setInsertionPoint(product);
  return builder.create<memref::GetGlobalOp>(product.getLoc(), memrefType,
                                             transformedGlobal.getSymName());
}

// Replaces a per-sample product of im2col patches and the gather making
// them by one call that gathers each sample's patches as it multiplies
// them (or, for a 3x3 stride-1 convolution with constant filters, computes
// it by Winograd's algorithm), reading the input's zero padding as offsets
// when it can.
void callConvolution(OpBuilder &builder, ModuleOp module, linalg::GenericOp product,
                     const Im2col &im2col) {
  Value output = product.getDpsInits()[0];
  std::optional<ZeroPadding> padding = zeroPaddingOf(im2col.input, im2col.gather, product, output);
  Value input = padding ? padding->source : im2col.input;
  if (!padding && mayChangeBetween(im2col.gather, product, rootBuffer(input)))
    return callProduct(builder, module, product, "graceful_sgemm_per_sample",
                       product->getOperand(1), {});
  linalg::GenericOp gather = im2col.gather;
  int64_t top = padding ? padding->top : 0, left = padding ? padding->left : 0;
  if (Value transformed = winogradFilters(builder, module, product, im2col))
    callKernel(builder, module, product, "graceful_winograd_conv2d",
               {product->getOperand(0), transformed, input}, startingEpilogue(product, output),
               {im2col.outWidth, top, left});
  else
    callProduct(builder, module, product, "graceful_conv2d", input,
                {im2col.kernelHeight, im2col.kernelWidth, im2col.outWidth, im2col.strideY,
                 im2col.strideX, im2col.dilationY, im2col.dilationX, top, left});
  gather->erase();
  if (padding)
    for (Operation *padOp : padding->padOps)
      padOp->erase();
}

struct LinalgToBlasPass : impl::GracefulLinalgToBlasBase<LinalgToBlasPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<Operation *, bool>> products;
    module.walk([&](Operation *op) {
      bool transposed = isa<linalg::MatmulTransposeBOp>(op);
      if (!isa<linalg::MatmulOp>(op) && !transposed)
        return;
      if (llvm::all_of(op->getOperands(), [](Value v) { return isF32Buffer(v, 2); }))
        products.emplace_back(op, transposed);
    });
    SmallVector<linalg::GenericOp> perSample;
    module.walk([&](linalg::GenericOp op) {
      if (isPerSampleProduct(op))
        perSample.push_back(op);
    });
    OpBuilder builder(&getContext());
    for (linalg::GenericOp op : perSample)
      if (std::optional<Im2col> patches = im2colOf(op))
        callConvolution(builder, module, op, *patches);
      else
        callProduct(builder, module, op, "graceful_sgemm_per_sample", op->getOperand(1), {});
    for (auto [op, transposed] : products)
      callProduct(builder, module, op, "graceful_sgemm", op->getOperand(1), {transposed ? 1 : 0});
  }
};

} // namespace
} // namespace graceful::compiler
