// DFT and STFT (opset 17) as sums against cosine and sine tables computed
// when compiling (the lengths are static): X[k] = sum_n x[n] e^(-+2 pi i k
// n / N), the inverse divided by N; the last dim holds (real, imaginary).
// MelWeightMatrix, a table computed when compiling.
#include "Lowering.h"

#include <cmath>
#include <tuple>
#include <vector>

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

using utils::IteratorType;

// A table's elements beyond this are refused (two tables of floats).
constexpr int64_t kMaxTableElements = 1 << 24;

// cos or sin of 2 pi k n / length for k < bins, n < length; k n is reduced
// modulo length first so large products keep their precision.
Value trigTable(OpBuilder &b, Location loc, int64_t bins, int64_t length, bool sine) {
  SmallVector<float> values;
  values.reserve(static_cast<size_t>(bins * length));
  for (int64_t k = 0; k < bins; ++k)
    for (int64_t n = 0; n < length; ++n) {
      double angle = 2 * M_PI * static_cast<double>((k * n) % length) / static_cast<double>(length);
      values.push_back(static_cast<float>(sine ? std::sin(angle) : std::cos(angle)));
    }
  auto type = RankedTensorType::get({bins, length}, b.getF32Type());
  return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(type, ArrayRef<float>(values)));
}

// One spectral sum. The iteration space is the output's dims followed by
// n; `real` and `imaginary` (null for a real signal) and `window` (or
// null) are read through their maps.
struct SpectralSum {
  RankedTensorType outType; // [..., 2]
  unsigned kDim;            // the frequency's iteration dim
  Value real, imaginary, window;
  AffineMap realMap, imaginaryMap, windowMap;
  int64_t length; // N: the reduction's extent
  bool inverse;
};

Value spectralSum(OpBuilder &b, Location loc, const SpectralSum &sum) {
  int64_t bins = sum.outType.getDimSize(static_cast<int64_t>(sum.kDim));
  unsigned dims = static_cast<unsigned>(sum.outType.getRank()) + 1;
  MLIRContext *context = b.getContext();
  AffineMap tableMap = AffineMap::get(
      dims, 0, {getAffineDimExpr(sum.kDim, context), getAffineDimExpr(dims - 1, context)}, context);
  SmallVector<Value> inputs{trigTable(b, loc, bins, sum.length, false),
                            trigTable(b, loc, bins, sum.length, true), sum.real};
  SmallVector<AffineMap> maps{tableMap, tableMap, sum.realMap};
  if (sum.imaginary) {
    inputs.push_back(sum.imaginary);
    maps.push_back(sum.imaginaryMap);
  }
  if (sum.window) {
    inputs.push_back(sum.window);
    maps.push_back(sum.windowMap);
  }
  SmallVector<AffineExpr> outExprs;
  for (unsigned d = 0; d + 1 < dims; ++d)
    outExprs.push_back(getAffineDimExpr(d, context));
  maps.push_back(AffineMap::get(dims, 0, outExprs, context));
  SmallVector<IteratorType> iterators(dims - 1, IteratorType::parallel);
  iterators.push_back(IteratorType::reduction);
  Value zeros = filledTensor(b, loc, sum.outType, scalarConstant(b, loc, b.getF32Type(), 0.0));
  // Forward multiplies by cos - i sin, inverse by cos + i sin.
  double sign = sum.inverse ? -1.0 : 1.0;
  Value added =
      b.create<linalg::GenericOp>(
           loc, TypeRange{sum.outType}, inputs, ValueRange{zeros}, maps, iterators,
           [&](OpBuilder &nb, Location l, ValueRange args) {
             Value cosine = args[0];
             Value sine =
                 nb.create<arith::MulFOp>(l, args[1], scalarConstant(nb, l, nb.getF32Type(), sign));
             Value re = args[2];
             Value im = sum.imaginary ? args[3] : scalarConstant(nb, l, nb.getF32Type(), 0.0);
             if (sum.window) {
               Value weight = args[sum.imaginary ? 4 : 3];
               re = nb.create<arith::MulFOp>(l, re, weight);
               im = nb.create<arith::MulFOp>(l, im, weight);
             }
             Value realPart = nb.create<arith::AddFOp>(l, nb.create<arith::MulFOp>(l, re, cosine),
                                                       nb.create<arith::MulFOp>(l, im, sine));
             Value imaginaryPart = nb.create<arith::SubFOp>(
                 l, nb.create<arith::MulFOp>(l, im, cosine), nb.create<arith::MulFOp>(l, re, sine));
             Value component = nb.create<linalg::IndexOp>(l, dims - 2);
             Value isReal = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, component,
                                                     nb.create<arith::ConstantIndexOp>(l, 0));
             Value term = nb.create<arith::SelectOp>(l, isReal, realPart, imaginaryPart);
             nb.create<linalg::YieldOp>(l,
                                        nb.create<arith::AddFOp>(l, args.back(), term).getResult());
           })
          .getResult(0);
  if (!sum.inverse)
    return added;
  double scale = 1.0 / static_cast<double>(sum.length);
  return broadcastElementwise(
      b, loc, sum.outType, {added}, [scale](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return nb.create<arith::MulFOp>(l, args[0], scalarConstant(nb, l, nb.getF32Type(), scale));
      });
}

// A map reading x's component `component` (of its last dim) at the
// iteration's indices, `signal` dims replaced by `at`.
AffineMap componentMap(MLIRContext *context, unsigned dims, int64_t rank,
                       llvm::function_ref<AffineExpr(int64_t)> at, int64_t component) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d + 1 < rank; ++d)
    exprs.push_back(at(d));
  exprs.push_back(getAffineConstantExpr(component, context));
  return AffineMap::get(dims, 0, exprs, context);
}

std::optional<int64_t> constantScalar(ir::NodeOp node, unsigned index) {
  auto values = constantInts(input(node, index));
  if (!values || values->size() != 1)
    return std::nullopt;
  return (*values)[0];
}

// DFT(x, dft_length?, axis attribute) of [..., N, ..., 1 or 2].
FailureOr<SmallVector<Value>> lowerDft(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  auto type = cast<RankedTensorType>(x.getType());
  RankedTensorType outType = resultType(node);
  int64_t rank = type.getRank();
  if (!type.getElementType().isF32() || rank < 2)
    return unsupported(node, "input other than float32 [..., N, ..., 1 or 2]");
  int64_t axis = normalizeAxis(node.intAttr("axis", 1), rank);
  if (axis < 0 || axis >= rank - 1)
    return invalid(node, "axis must name a dim before the last");
  int64_t signal = type.getDimSize(axis), length = signal;
  if (hasInput(node, 1)) {
    auto given = constantScalar(node, 1);
    if (!given || *given <= 0)
      return unsupported(node, "a dft_length not known when compiling");
    length = *given;
  }
  bool inverse = node.intAttr("inverse", 0) != 0;
  int64_t bins = outType.getDimSize(axis);
  if (bins * length > kMaxTableElements)
    return unsupported(node, "a transform this long (its tables would exceed 16M elements)");
  // Zero-pad or truncate the signal to the transform's length.
  if (length != signal) {
    SmallVector<int64_t> shape(type.getShape());
    shape[static_cast<size_t>(axis)] = std::min(signal, length);
    if (length < signal) {
      SmallVector<OpFoldResult> offsets(static_cast<size_t>(rank), b.getIndexAttr(0));
      SmallVector<OpFoldResult> strides(static_cast<size_t>(rank), b.getIndexAttr(1));
      SmallVector<OpFoldResult> sizes;
      for (int64_t size : shape)
        sizes.push_back(b.getIndexAttr(size));
      x = b.create<tensor::ExtractSliceOp>(loc, x, offsets, sizes, strides);
    } else {
      SmallVector<int64_t> low(static_cast<size_t>(rank), 0), high(static_cast<size_t>(rank), 0);
      high[static_cast<size_t>(axis)] = length - signal;
      x = pad(b, loc, x, low, high, scalarConstant(b, loc, type.getElementType(), 0.0));
    }
  }
  MLIRContext *context = b.getContext();
  unsigned dims = static_cast<unsigned>(rank) + 1;
  auto at = [&](int64_t d) {
    return getAffineDimExpr(static_cast<unsigned>(d == axis ? rank : d), context);
  };
  bool complex = type.getShape().back() == 2;
  SpectralSum sum{outType,
                  static_cast<unsigned>(axis),
                  x,
                  complex ? x : Value(),
                  Value(),
                  componentMap(context, dims, rank, at, 0),
                  componentMap(context, dims, rank, at, 1),
                  AffineMap(),
                  length,
                  inverse};
  return SmallVector<Value>{spectralSum(b, loc, sum)};
}

// STFT(signal [B, L, 1 or 2], frame_step, window?, frame_length?):
// [B, frames, bins, 2], frame f starting at f * frame_step.
FailureOr<SmallVector<Value>> lowerStft(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  auto type = cast<RankedTensorType>(x.getType());
  RankedTensorType outType = resultType(node);
  if (!type.getElementType().isF32() || type.getRank() != 3)
    return unsupported(node, "signals other than float32 [batch, length, 1 or 2]");
  auto step = constantScalar(node, 1);
  if (!step || *step <= 0)
    return unsupported(node, "a frame_step not known when compiling");
  int64_t frameLength = outType.getDimSize(2);
  if (hasInput(node, 2))
    frameLength = cast<RankedTensorType>(input(node, 2).getType()).getDimSize(0);
  else if (hasInput(node, 3)) {
    auto given = constantScalar(node, 3);
    if (!given || *given <= 0)
      return unsupported(node, "a frame_length not known when compiling");
    frameLength = *given;
  }
  int64_t bins = node.intAttr("onesided", 1) != 0 ? frameLength / 2 + 1 : frameLength;
  if (outType.getDimSize(2) != bins)
    return invalid(node, "an output of " + Twine(outType.getDimSize(2)) +
                             " bins where the spec gives " + Twine(bins));
  int64_t frames = outType.getDimSize(1);
  if ((frames - 1) * *step + frameLength > type.getDimSize(1))
    return invalid(node, "the frames reach past the end of the signal");
  if (outType.getDimSize(2) * frameLength > kMaxTableElements)
    return unsupported(node, "frames this long (their tables would exceed 16M elements)");
  MLIRContext *context = b.getContext();
  unsigned dims = 5; // b, f, k, c, n
  auto at = [&](int64_t d) {
    return d == 0 ? getAffineDimExpr(0, context)
                  : getAffineDimExpr(1, context) * *step + getAffineDimExpr(4, context);
  };
  bool complex = type.getShape().back() == 2;
  SpectralSum sum{outType,
                  2,
                  x,
                  complex ? x : Value(),
                  hasInput(node, 2) ? input(node, 2) : Value(),
                  componentMap(context, dims, 3, at, 0),
                  componentMap(context, dims, 3, at, 1),
                  AffineMap::get(dims, 0, {getAffineDimExpr(4, context)}, context),
                  frameLength,
                  false};
  return SmallVector<Value>{spectralSum(b, loc, sum)};
}

// One triangle's weight per spectrogram bin and mel band, as the spec's
// reference computes it: band edges equally spaced on the mel scale
// (mel(f) = 2595 log10(1 + f / 700)), mapped to bin floor((dft_length + 1)
// f / sample_rate), rising from its left edge to 1 at its centre and
// falling to its right edge. Empty when an edge's bin is out of range.
std::vector<double> melWeights(int64_t bands, int64_t dftLength, int64_t sampleRate, double lowHz,
                               double highHz) {
  auto toMel = [](double hz) { return 2595 * std::log10(1 + hz / 700); };
  int64_t bins = dftLength / 2 + 1;
  double lowMel = toMel(lowHz), step = (toMel(highHz) - lowMel) / static_cast<double>(bands + 2);
  std::vector<int64_t> edges;
  for (int64_t i = 0; i < bands + 2; ++i) {
    double hz = 700 * (std::pow(10.0, (lowMel + step * static_cast<double>(i)) / 2595) - 1);
    double bin =
        std::floor(static_cast<double>(dftLength + 1) * hz / static_cast<double>(sampleRate));
    if (!(bin >= 0 && bin < static_cast<double>(bins)))
      return {};
    edges.push_back(static_cast<int64_t>(bin));
  }
  std::vector<double> weights(static_cast<size_t>(bins * bands), 0.0);
  auto at = [&](int64_t bin, int64_t band) -> double & {
    return weights[static_cast<size_t>(bin * bands + band)];
  };
  for (int64_t band = 0; band < bands; ++band) {
    int64_t left = edges[band], centre = edges[band + 1], right = edges[band + 2];
    if (centre == left)
      at(centre, band) = 1;
    for (int64_t j = left; centre > left && j <= centre; ++j)
      at(j, band) = static_cast<double>(j - left) / static_cast<double>(centre - left);
    for (int64_t j = centre; j < right; ++j)
      at(j, band) = static_cast<double>(right - j) / static_cast<double>(right - centre);
  }
  return weights;
}

// MelWeightMatrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
// upper_edge_hertz): a table computed when compiling, so every input must
// be a constant by then.
FailureOr<SmallVector<Value>> lowerMelWeightMatrix(ir::NodeOp node, OpBuilder &b) {
  RankedTensorType outType = resultType(node);
  std::optional<int64_t> sizes[3] = {constantScalar(node, 0), constantScalar(node, 1),
                                     constantScalar(node, 2)};
  auto low = constantFloats(input(node, 3)), high = constantFloats(input(node, 4));
  if (!sizes[0] || !sizes[1] || !sizes[2] || !low || low->size() != 1 || !high || high->size() != 1)
    return unsupported(node, "inputs not known when compiling");
  auto [bands, dftLength, sampleRate] = std::tuple(*sizes[0], *sizes[1], *sizes[2]);
  if (bands < 1 || dftLength < 1 || sampleRate < 1 || outType.getRank() != 2 ||
      outType.getDimSize(0) != dftLength / 2 + 1 || outType.getDimSize(1) != bands)
    return invalid(node, "sizes that do not give its output's shape");
  if (outType.getNumElements() > kMaxTableElements)
    return unsupported(node, "tables of more than 16M elements");
  std::vector<double> weights = melWeights(bands, dftLength, sampleRate, (*low)[0], (*high)[0]);
  if (weights.empty())
    return invalid(node, "a band edge outside the spectrogram's bins");
  Type element = outType.getElementType();
  SmallVector<Attribute> values;
  for (double weight : weights)
    values.push_back(isa<FloatType>(element)
                         ? Attribute(b.getFloatAttr(element, weight))
                         : b.getIntegerAttr(element, static_cast<int64_t>(weight)));
  return SmallVector<Value>{
      b.create<arith::ConstantOp>(node.getLoc(), DenseElementsAttr::get(outType, values))};
}

} // namespace

void registerSpectralLowerings() {
  registerLowering("MelWeightMatrix", lowerMelWeightMatrix);
  registerLowering("DFT", lowerDft);
  registerLowering("STFT", lowerStft);
}

} // namespace graceful::compiler::lowering
