// Recurrent layers: RNN, GRU and LSTM, in ONNX's layouts and gate orders.
//
// Per direction, the inputs' share of every step is one matrix product over
// the whole sequence (X [S*B, I] by W^T, which the BLAS pass turns into one
// sgemm), and the recurrence is an scf.for over the steps carrying the
// hidden state (and LSTM's cell state) and the output sequence; each step
// adds the product of the hidden state by R^T and applies the cell's gates.
#include "Lowering.h"

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

enum class Cell { Rnn, Gru, Lstm };

int64_t gatesOf(Cell cell) { return cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 3 : 4; }

using Activation = std::function<Value(OpBuilder &, Location, Value)>;

// The cell's activation functions in ONNX's order (f, g, h), per direction.
std::vector<std::string> defaultActivations(Cell cell) {
  switch (cell) {
  case Cell::Rnn:
    return {"Tanh"};
  case Cell::Gru:
    return {"Sigmoid", "Tanh"};
  case Cell::Lstm:
    return {"Sigmoid", "Tanh", "Tanh"};
  }
  return {};
}

// The values activation_alpha and activation_beta give, consumed in the
// order of the activations that take one (as ONNX says).
struct Parameters {
  ArrayRef<float> alphas, betas;
  size_t nextAlpha = 0, nextBeta = 0;

  float alpha(float fallback) { return nextAlpha < alphas.size() ? alphas[nextAlpha++] : fallback; }
  float beta(float fallback) { return nextBeta < betas.size() ? betas[nextBeta++] : fallback; }
};

Value constantOf(OpBuilder &b, Location loc, Value like, double value) {
  return scalarConstant(b, loc, like.getType(), value);
}

FailureOr<Activation> activationNamed(ir::NodeOp node, StringRef name, Parameters &parameters) {
  if (name == "Sigmoid")
    return Activation(sigmoid);
  if (name == "Tanh")
    return Activation(
        [](OpBuilder &b, Location loc, Value x) { return b.create<math::TanhOp>(loc, x); });
  if (name == "Relu")
    return Activation([](OpBuilder &b, Location loc, Value x) {
      return clamp(b, loc, x, constantOf(b, loc, x, 0.0),
                   constantOf(b, loc, x, std::numeric_limits<double>::infinity()));
    });
  if (name == "HardSigmoid") {
    double alpha = parameters.alpha(0.2f), beta = parameters.beta(0.5f);
    return Activation([alpha, beta](OpBuilder &b, Location loc, Value x) {
      Value linear = b.create<arith::AddFOp>(
          loc, b.create<arith::MulFOp>(loc, constantOf(b, loc, x, alpha), x),
          constantOf(b, loc, x, beta));
      return clamp(b, loc, linear, constantOf(b, loc, x, 0.0), constantOf(b, loc, x, 1.0));
    });
  }
  return unsupported(node, "activation '" + name + "'");
}

// One direction's activations, from the node's list (which names them for
// every direction in turn) or the cell's defaults.
FailureOr<std::vector<Activation>> activationsFor(ir::NodeOp node, Cell cell, int64_t directions,
                                                  int64_t direction) {
  std::vector<std::string> names;
  auto listed = dyn_cast_or_null<ArrayAttr>(node.attr("activations"));
  size_t perDirection = defaultActivations(cell).size();
  if (listed) {
    if (listed.size() != perDirection * static_cast<size_t>(directions))
      return invalid(node, "activations lists " + Twine(listed.size()) + " functions, expected " +
                               Twine(perDirection * directions));
    for (Attribute attribute : listed)
      names.push_back(cast<StringAttr>(attribute).str());
  } else {
    for (int64_t d = 0; d < directions; ++d)
      for (const std::string &name : defaultActivations(cell))
        names.push_back(name);
  }
  Parameters parameters;
  if (auto alphas = dyn_cast_or_null<DenseF32ArrayAttr>(node.attr("activation_alpha")))
    parameters.alphas = alphas.asArrayRef();
  if (auto betas = dyn_cast_or_null<DenseF32ArrayAttr>(node.attr("activation_beta")))
    parameters.betas = betas.asArrayRef();
  std::vector<Activation> all;
  for (const std::string &name : names) {
    auto activation = activationNamed(node, name, parameters);
    if (failed(activation))
      return failure();
    all.push_back(*activation);
  }
  auto first = all.begin() + static_cast<ptrdiff_t>(perDirection * direction);
  return std::vector<Activation>(first, first + static_cast<ptrdiff_t>(perDirection));
}

SmallVector<OpFoldResult> foldResults(OpBuilder &b, ArrayRef<int64_t> values) {
  SmallVector<OpFoldResult> results;
  for (int64_t value : values)
    results.push_back(b.getIndexAttr(value));
  return results;
}

// `value` at [offsets] of `sizes`, with the dims in `dropped` (of size 1)
// left out of the result.
Value slice(OpBuilder &b, Location loc, Value value, SmallVector<OpFoldResult> offsets,
            ArrayRef<int64_t> sizes, ArrayRef<int64_t> resultShape) {
  auto type = cast<RankedTensorType>(value.getType());
  auto resultType = RankedTensorType::get(resultShape, type.getElementType());
  SmallVector<OpFoldResult> ones(sizes.size(), b.getIndexAttr(1));
  return b.create<tensor::ExtractSliceOp>(loc, resultType, value, offsets, foldResults(b, sizes),
                                          ones);
}

// Entry `index` of a tensor's first dim: [n, rest...] -> [rest...].
Value entryOf(OpBuilder &b, Location loc, Value value, int64_t index) {
  auto shape = cast<RankedTensorType>(value.getType()).getShape();
  SmallVector<int64_t> offsets(shape.size(), 0), sizes(shape);
  offsets[0] = index;
  sizes[0] = 1;
  return slice(b, loc, value, foldResults(b, offsets), sizes, shape.drop_front());
}

// Columns [first, first + count) of a matrix.
Value columns(OpBuilder &b, Location loc, Value matrix, int64_t first, int64_t count) {
  int64_t rows = cast<RankedTensorType>(matrix.getType()).getDimSize(0);
  return slice(b, loc, matrix, foldResults(b, {0, first}), {rows, count}, {rows, count});
}

// `source` written into `dest` at `offsets`, `source` lacking the dims of
// `dest` that `sizes` makes 1.
Value insert(OpBuilder &b, Location loc, Value source, Value dest,
             SmallVector<OpFoldResult> offsets, ArrayRef<int64_t> sizes) {
  SmallVector<OpFoldResult> ones(sizes.size(), b.getIndexAttr(1));
  return b.create<tensor::InsertSliceOp>(loc, source, dest, offsets, foldResults(b, sizes), ones);
}

Value zeros(OpBuilder &b, Location loc, RankedTensorType type) {
  return filledTensor(b, loc, type, scalarConstant(b, loc, type.getElementType(), 0.0));
}

// out = body(inputs...) elementwise, numpy broadcasting onto `like`'s shape.
Value elementwise(OpBuilder &b, Location loc, Value like, ValueRange inputs,
                  const ScalarBody &body) {
  return broadcastElementwise(b, loc, cast<RankedTensorType>(like.getType()), inputs, body);
}

Value sum(OpBuilder &b, Location loc, Value x, Value y) {
  return elementwise(b, loc, x, {x, y}, [](OpBuilder &nb, Location l, ValueRange args) {
    return add(nb, l, args[0], args[1]);
  });
}

// What every step of one direction reads.
struct Direction {
  Value inputShare;          // [S*B, G*H]: X W^T and the biases that go with it
  Value recurrence;          // [G*H, H] (GRU without linear_before_reset: [2H, H])
  Value candidateRecurrence; // GRU without linear_before_reset: [H, H]
  Value recurrenceBias;      // GRU with linear_before_reset: Rb [G*H]
  Value peepholes;           // LSTM: [3H] (i, o, f), or null
  Value initialHidden, initialCell;
  std::vector<Activation> activations;
  bool reverse = false;
};

struct Shape {
  int64_t steps, batch, hidden;
};

// Clips pre-activations to [-clip, clip] when the node asks for it.
struct Clip {
  std::optional<double> bound;

  Value operator()(OpBuilder &b, Location loc, Value x) const {
    if (!bound)
      return x;
    return clamp(b, loc, x, constantOf(b, loc, x, -*bound), constantOf(b, loc, x, *bound));
  }
};

// act(clip(x)) elementwise.
Value activate(OpBuilder &b, Location loc, const Activation &act, const Clip &clip, Value x) {
  return elementwise(b, loc, x, {x}, [&](OpBuilder &nb, Location l, ValueRange args) {
    return act(nb, l, clip(nb, l, args[0]));
  });
}

// act(clip(x + p * c)): an LSTM gate with its peephole (p, [H]) on c.
Value peepholeGate(OpBuilder &b, Location loc, const Activation &act, const Clip &clip, Value x,
                   Value peephole, Value cell) {
  if (!peephole)
    return activate(b, loc, act, clip, x);
  return elementwise(
      b, loc, x, {x, peephole, cell}, [&](OpBuilder &nb, Location l, ValueRange args) {
        return act(nb, l, clip(nb, l, add(nb, l, args[0], mul(nb, l, args[1], args[2]))));
      });
}

// One step's new states: (hidden) for RNN and GRU, (hidden, cell) for LSTM.
SmallVector<Value> step(OpBuilder &b, Location loc, Cell cell, const Direction &d, const Clip &clip,
                        bool linearBeforeReset, const Shape &shape, Value share, Value hidden,
                        Value cellState) {
  int64_t h = shape.hidden;
  Value recurrent = namedMatmul(b, loc, hidden, d.recurrence, /*transposeRhs=*/true);
  if (d.recurrenceBias)
    recurrent = sum(b, loc, recurrent, d.recurrenceBias);
  if (cell == Cell::Rnn)
    return {activate(b, loc, d.activations[0], clip, sum(b, loc, share, recurrent))};
  if (cell == Cell::Lstm) {
    Value gates = sum(b, loc, share, recurrent);
    auto gate = [&](int64_t index) { return columns(b, loc, gates, index * h, h); };
    auto peephole = [&](int64_t index) {
      return d.peepholes ? slice(b, loc, d.peepholes, foldResults(b, {index * h}), {h}, {h})
                         : Value();
    };
    const Activation &f = d.activations[0], &g = d.activations[1], &hAct = d.activations[2];
    Value input = peepholeGate(b, loc, f, clip, gate(0), peephole(0), cellState);
    Value forget = peepholeGate(b, loc, f, clip, gate(2), peephole(2), cellState);
    Value candidate = activate(b, loc, g, clip, gate(3));
    Value newCell = elementwise(b, loc, cellState, {forget, cellState, input, candidate},
                                [](OpBuilder &nb, Location l, ValueRange a) {
                                  return add(nb, l, mul(nb, l, a[0], a[1]), mul(nb, l, a[2], a[3]));
                                });
    Value output = peepholeGate(b, loc, f, clip, gate(1), peephole(1), newCell);
    Value newHidden = elementwise(b, loc, newCell, {output, newCell},
                                  [&](OpBuilder &nb, Location l, ValueRange a) {
                                    return mul(nb, l, a[0], hAct(nb, l, a[1]));
                                  });
    return {newHidden, newCell};
  }
  // GRU, gates z, r, h.
  const Activation &f = d.activations[0], &g = d.activations[1];
  Value update = activate(
      b, loc, f, clip, sum(b, loc, columns(b, loc, share, 0, h), columns(b, loc, recurrent, 0, h)));
  Value reset = activate(
      b, loc, f, clip, sum(b, loc, columns(b, loc, share, h, h), columns(b, loc, recurrent, h, h)));
  Value shareOfCandidate = columns(b, loc, share, 2 * h, h);
  Value candidateInput;
  if (linearBeforeReset) {
    candidateInput = elementwise(b, loc, shareOfCandidate,
                                 {shareOfCandidate, reset, columns(b, loc, recurrent, 2 * h, h)},
                                 [](OpBuilder &nb, Location l, ValueRange a) {
                                   return add(nb, l, a[0], mul(nb, l, a[1], a[2]));
                                 });
  } else {
    Value resetHidden =
        elementwise(b, loc, hidden, {reset, hidden},
                    [](OpBuilder &nb, Location l, ValueRange a) { return mul(nb, l, a[0], a[1]); });
    candidateInput =
        sum(b, loc, shareOfCandidate,
            namedMatmul(b, loc, resetHidden, d.candidateRecurrence, /*transposeRhs=*/true));
  }
  Value candidate = activate(b, loc, g, clip, candidateInput);
  return {elementwise(b, loc, hidden, {update, candidate, hidden},
                      [](OpBuilder &nb, Location l, ValueRange a) {
                        Value keep = mul(nb, l, a[0], a[2]);
                        Value one = constantOf(nb, l, a[0], 1.0);
                        return add(nb, l, mul(nb, l, sub(nb, l, one, a[0]), a[1]), keep);
                      })};
}

// Keeps `previous` where the step is past a sample's length: states
// stop changing there, and the output there is zero (`previous` zeros).
Value maskedByLength(OpBuilder &b, Location loc, Value lengths, Value stepIndex, Value next,
                     Value previous) {
  Value step = b.create<arith::IndexCastOp>(loc, b.getI64Type(), stepIndex);
  auto type = cast<RankedTensorType>(next.getType());
  return b
      .create<linalg::GenericOp>(
          loc, TypeRange{type}, ValueRange{lengths, next, previous},
          ValueRange{emptyTensor(b, loc, type)},
          SmallVector<AffineMap>{AffineMap::get(2, 0, {b.getAffineDimExpr(0)}, b.getContext()),
                                 b.getMultiDimIdentityMap(2), b.getMultiDimIdentityMap(2),
                                 b.getMultiDimIdentityMap(2)},
          SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value within =
                nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, step, asI64(nb, l, args[0]));
            nb.create<linalg::YieldOp>(
                l, ValueRange{nb.create<arith::SelectOp>(l, within, args[1], args[2])});
          })
      .getResult(0);
}

struct DirectionResult {
  Value outputs, hidden, cell; // [S, B, H], [B, H], [B, H]
};

DirectionResult runDirection(OpBuilder &b, Location loc, Cell cell, const Direction &d,
                             const Clip &clip, bool linearBeforeReset, const Shape &shape,
                             Value lengths) {
  auto stateType =
      RankedTensorType::get({shape.batch, shape.hidden},
                            cast<RankedTensorType>(d.initialHidden.getType()).getElementType());
  auto outputsType =
      RankedTensorType::get({shape.steps, shape.batch, shape.hidden}, stateType.getElementType());
  SmallVector<Value> carried{d.initialHidden, zeros(b, loc, outputsType)};
  if (cell == Cell::Lstm)
    carried.push_back(d.initialCell);
  Value lower = b.create<arith::ConstantIndexOp>(loc, 0);
  Value upper = b.create<arith::ConstantIndexOp>(loc, shape.steps);
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  auto loop = b.create<scf::ForOp>(
      loc, lower, upper, one, carried, [&](OpBuilder &nb, Location l, Value t, ValueRange state) {
        Value at = d.reverse ? nb.create<arith::SubIOp>(
                                   l, nb.create<arith::ConstantIndexOp>(l, shape.steps - 1), t)
                             : t;
        Value firstRow =
            nb.create<arith::MulIOp>(l, at, nb.create<arith::ConstantIndexOp>(l, shape.batch));
        int64_t width = cast<RankedTensorType>(d.inputShare.getType()).getDimSize(1);
        Value share = slice(nb, l, d.inputShare, {firstRow, nb.getIndexAttr(0)},
                            {shape.batch, width}, {shape.batch, width});
        Value hidden = state[0], cellState = cell == Cell::Lstm ? state[2] : Value();
        SmallVector<Value> next =
            step(nb, l, cell, d, clip, linearBeforeReset, shape, share, hidden, cellState);
        Value row = next[0];
        if (lengths) {
          row = maskedByLength(nb, l, lengths, at, next[0], zeros(nb, l, stateType));
          for (size_t i = 0; i < next.size(); ++i)
            next[i] = maskedByLength(nb, l, lengths, at, next[i], state[i == 0 ? 0 : 2]);
        }
        Value outputs = insert(nb, l, row, state[1], {at, nb.getIndexAttr(0), nb.getIndexAttr(0)},
                               {1, shape.batch, shape.hidden});
        SmallVector<Value> yielded{next[0], outputs};
        if (cell == Cell::Lstm)
          yielded.push_back(next[1]);
        nb.create<scf::YieldOp>(l, yielded);
      });
  return {loop.getResult(1), loop.getResult(0), cell == Cell::Lstm ? loop.getResult(2) : Value()};
}

// sequence_lens as i64, each checked to lie in [0, steps]: one outside
// fails the run and reads as 0 (the sample then never changes its state).
Value checkedLengths(OpBuilder &b, Location loc, ir::NodeOp node, Value lengths, int64_t steps) {
  auto type = cast<RankedTensorType>(lengths.getType());
  auto outType = RankedTensorType::get(type.getShape(), b.getI64Type());
  return broadcastElementwise(b, loc, outType, {lengths},
                              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                                return checkedLength(nb, l, node, args[0], steps);
                              });
}

// Dims permuted: out dim i reads in dim order[i].
Value permuted(OpBuilder &b, Location loc, Value value, ArrayRef<unsigned> order) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape(order.size());
  SmallVector<AffineExpr> exprs(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    shape[i] = type.getDimSize(order[i]);
    exprs[order[i]] = b.getAffineDimExpr(static_cast<unsigned>(i));
  }
  return gatherAffine(b, loc, value, RankedTensorType::get(shape, type.getElementType()), exprs);
}

// The inputs of one recurrent node, checked against each other.
struct Inputs {
  Value x, w, r, bias, lengths, initialHidden, initialCell, peepholes;
  Shape shape;
  int64_t directions;
};

FailureOr<Inputs> readInputs(ir::NodeOp node, OpBuilder &b, Cell cell) {
  Location loc = node.getLoc();
  Inputs in;
  in.x = input(node, 0);
  if (node.intAttr("layout", 0) == 1)
    in.x = permuted(b, loc, in.x, {1, 0, 2});
  in.w = input(node, 1);
  in.r = input(node, 2);
  in.bias = input(node, 3);
  in.lengths = input(node, 4);
  in.initialHidden = input(node, 5);
  if (cell == Cell::Lstm) {
    in.initialCell = input(node, 6);
    in.peepholes = input(node, 7);
  }
  auto xShape = cast<RankedTensorType>(in.x.getType()).getShape();
  auto wShape = cast<RankedTensorType>(in.w.getType()).getShape();
  auto rShape = cast<RankedTensorType>(in.r.getType()).getShape();
  int64_t gates = gatesOf(cell);
  if (xShape.size() != 3 || wShape.size() != 3 || rShape.size() != 3)
    return invalid(node, "X, W and R must have rank 3");
  in.directions = wShape[0];
  int64_t hidden = node.intAttr("hidden_size", rShape[2]);
  in.shape = {xShape[0], xShape[1], hidden};
  if (wShape[1] != gates * hidden || wShape[2] != xShape[2] || rShape[0] != in.directions ||
      rShape[1] != gates * hidden || rShape[2] != hidden)
    return invalid(node, "W and R do not match X and hidden_size " + Twine(hidden));
  auto direction = dyn_cast_or_null<StringAttr>(node.attr("direction"));
  StringRef name = direction ? direction.getValue() : "forward";
  if (name != "forward" && name != "reverse" && name != "bidirectional")
    return invalid(node, "unknown direction '" + name + "'");
  if (in.directions != (name == "bidirectional" ? 2 : 1))
    return invalid(node, "direction '" + name + "' with weights for " + Twine(in.directions) +
                             " directions");
  if (in.lengths && name != "forward")
    return unsupported(node, "sequence_lens with direction '" + name + "'");
  if (cell == Cell::Lstm && node.intAttr("input_forget", 0) != 0)
    return unsupported(node, "input_forget");
  if (in.lengths)
    in.lengths = checkedLengths(b, loc, node, in.lengths, in.shape.steps);
  return in;
}

// The biases' share that is the same at every step: Wb, plus Rb unless
// it must stay inside the reset (GRU with linear_before_reset).
Direction prepareDirection(OpBuilder &b, Location loc, Cell cell, const Inputs &in, int64_t index,
                           bool linearBeforeReset, std::vector<Activation> activations) {
  const Shape &shape = in.shape;
  int64_t width = gatesOf(cell) * shape.hidden;
  Type element = cast<RankedTensorType>(in.x.getType()).getElementType();
  auto stateType = RankedTensorType::get({shape.batch, shape.hidden}, element);
  Direction d;
  d.activations = std::move(activations);
  Value x =
      reshape(b, loc, in.x,
              {shape.steps * shape.batch, cast<RankedTensorType>(in.x.getType()).getDimSize(2)});
  d.inputShare = namedMatmul(b, loc, x, entryOf(b, loc, in.w, index), /*transposeRhs=*/true);
  if (in.bias) {
    Value biases = entryOf(b, loc, in.bias, index);
    Value inputBias = slice(b, loc, biases, foldResults(b, {0}), {width}, {width});
    Value recurrenceBias = slice(b, loc, biases, foldResults(b, {width}), {width}, {width});
    d.inputShare = sum(b, loc, d.inputShare, inputBias);
    if (cell == Cell::Gru && linearBeforeReset)
      d.recurrenceBias = recurrenceBias;
    else
      d.inputShare = sum(b, loc, d.inputShare, recurrenceBias);
  }
  Value r = entryOf(b, loc, in.r, index);
  d.recurrence = r;
  if (cell == Cell::Gru && !linearBeforeReset) {
    int64_t h = shape.hidden;
    d.recurrence = slice(b, loc, r, foldResults(b, {0, 0}), {2 * h, h}, {2 * h, h});
    d.candidateRecurrence = slice(b, loc, r, foldResults(b, {2 * h, 0}), {h, h}, {h, h});
  }
  if (in.peepholes)
    d.peepholes = entryOf(b, loc, in.peepholes, index);
  d.initialHidden =
      in.initialHidden ? entryOf(b, loc, in.initialHidden, index) : zeros(b, loc, stateType);
  if (cell == Cell::Lstm)
    d.initialCell =
        in.initialCell ? entryOf(b, loc, in.initialCell, index) : zeros(b, loc, stateType);
  return d;
}

LowerFn lowerRecurrent(Cell cell) {
  return [cell](ir::NodeOp node, OpBuilder &b) -> FailureOr<SmallVector<Value>> {
    Location loc = node.getLoc();
    auto in = readInputs(node, b, cell);
    if (failed(in))
      return failure();
    bool linearBeforeReset = node.intAttr("linear_before_reset", 0) != 0;
    Clip clip;
    if (node.attr("clip"))
      clip.bound = node.floatAttr("clip", 0.0f);
    auto direction = dyn_cast_or_null<StringAttr>(node.attr("direction"));
    bool reverseOnly = direction && direction.getValue() == "reverse";
    const Shape &shape = in->shape;
    Type element = cast<RankedTensorType>(in->x.getType()).getElementType();
    auto allOutputsType =
        RankedTensorType::get({shape.steps, in->directions, shape.batch, shape.hidden}, element);
    auto statesType = RankedTensorType::get({in->directions, shape.batch, shape.hidden}, element);
    Value outputs = emptyTensor(b, loc, allOutputsType);
    Value hiddens = emptyTensor(b, loc, statesType), cells = emptyTensor(b, loc, statesType);
    for (int64_t index = 0; index < in->directions; ++index) {
      auto activations = activationsFor(node, cell, in->directions, index);
      if (failed(activations))
        return failure();
      Direction d = prepareDirection(b, loc, cell, *in, index, linearBeforeReset, *activations);
      d.reverse = reverseOnly || index == 1;
      DirectionResult result =
          runDirection(b, loc, cell, d, clip, linearBeforeReset, shape, in->lengths);
      outputs = insert(b, loc, result.outputs, outputs, foldResults(b, {0, index, 0, 0}),
                       {shape.steps, 1, shape.batch, shape.hidden});
      hiddens = insert(b, loc, result.hidden, hiddens, foldResults(b, {index, 0, 0}),
                       {1, shape.batch, shape.hidden});
      if (result.cell)
        cells = insert(b, loc, result.cell, cells, foldResults(b, {index, 0, 0}),
                       {1, shape.batch, shape.hidden});
    }
    if (node.intAttr("layout", 0) == 1) {
      outputs = permuted(b, loc, outputs, {2, 0, 1, 3});
      hiddens = permuted(b, loc, hiddens, {1, 0, 2});
      cells = permuted(b, loc, cells, {1, 0, 2});
    }
    SmallVector<Value> all{outputs, hiddens, cells}, results;
    for (unsigned i = 0; i < node.getNumResults(); ++i)
      results.push_back(isa<NoneType>(node.getResult(i).getType())
                            ? b.create<ir::NoneOp>(loc, b.getNoneType()).getResult()
                            : all[i]);
    return results;
  };
}

} // namespace

void registerRecurrentLowerings() {
  registerLowering("RNN", lowerRecurrent(Cell::Rnn));
  registerLowering("GRU", lowerRecurrent(Cell::Gru));
  registerLowering("LSTM", lowerRecurrent(Cell::Lstm));
}

} // namespace graceful::compiler::lowering
