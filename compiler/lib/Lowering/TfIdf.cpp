// TfIdfVectorizer over integer tokens: for each output column, the n-gram
// of the pool that maps to it is counted in each row, at every start and
// every skip distance up to max_skip_count (a unigram once), as ONNX
// Runtime counts them; TF gives the count, IDF the gram's weight where the
// count is non-zero, TFIDF their product. The pool is an attribute, so it
// becomes constant tables; the counting runs in scf loops per output value.
#include "Lowering.h"

#include <set>

namespace graceful::compiler::lowering {

using namespace mlir;

namespace {

// The pool read into one entry per n-gram, in ngram_indexes' order.
struct Pool {
  std::vector<std::vector<int64_t>> grams;
  std::vector<int64_t> columns;
  std::vector<float> weights;
};

// The pool of the node's attributes; failure (reported) when they do not
// describe one.
FailureOr<Pool> readPool(ir::NodeOp node, int64_t outputColumns) {
  SmallVector<int64_t> counts = node.intsAttr("ngram_counts");
  SmallVector<int64_t> indexes = node.intsAttr("ngram_indexes");
  SmallVector<int64_t> tokens = node.intsAttr("pool_int64s");
  if (node.attr("pool_strings"))
    return unsupported(node, "a pool of strings");
  Pool pool;
  auto poolSize = static_cast<int64_t>(tokens.size());
  for (size_t level = 0; level < counts.size(); ++level) {
    auto length = static_cast<int64_t>(level + 1);
    int64_t start = counts[level];
    int64_t end = level + 1 < counts.size() ? counts[level + 1] : poolSize;
    if (start < 0 || end < start || end > poolSize || (end - start) % length != 0)
      return invalid(node, "ngram_counts that do not split pool_int64s into n-grams");
    for (int64_t at = start; at < end; at += length)
      pool.grams.emplace_back(tokens.begin() + at, tokens.begin() + at + length);
  }
  if (pool.grams.size() != indexes.size())
    return invalid(node, "ngram_indexes of " + Twine(indexes.size()) + " entries for " +
                             Twine(pool.grams.size()) + " n-grams");
  std::set<int64_t> taken;
  for (int64_t column : indexes) {
    if (column < 0 || column >= outputColumns)
      return invalid(node, "an ngram_indexes entry outside the output's " + Twine(outputColumns) +
                               " columns");
    // ONNX Runtime adds the counts of n-grams sharing a column; the spec
    // gives each n-gram its own.
    if (!taken.insert(column).second)
      return unsupported(node, "ngram_indexes that give two n-grams column " + Twine(column));
  }
  pool.columns.assign(indexes.begin(), indexes.end());
  if (auto weights = dyn_cast_or_null<DenseF32ArrayAttr>(node.attr("weights"))) {
    if (static_cast<size_t>(weights.size()) != pool.grams.size())
      return invalid(node, "weights of another length than ngram_indexes");
    pool.weights.assign(weights.asArrayRef().begin(), weights.asArrayRef().end());
  } else {
    pool.weights.assign(pool.grams.size(), 1.0f);
  }
  return pool;
}

template <typename T>
Value table(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type element, ArrayRef<T> values) {
  return b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(RankedTensorType::get(shape, element), values));
}

struct Tables {
  Value tokens;  // [grams, longest] i64, padded with 0
  Value lengths; // [grams] i64
  Value weights; // [grams] f32
  Value gramOf;  // [columns] i64: the gram counted in the column, or -1
};

Tables makeTables(OpBuilder &b, Location loc, const Pool &pool, int64_t columns) {
  int64_t grams = static_cast<int64_t>(pool.grams.size()), longest = 1;
  for (const auto &gram : pool.grams)
    longest = std::max<int64_t>(longest, static_cast<int64_t>(gram.size()));
  std::vector<int64_t> tokens(static_cast<size_t>(grams * longest), 0), lengths,
      gramOf(columns, -1);
  for (int64_t k = 0; k < grams; ++k) {
    const auto &gram = pool.grams[static_cast<size_t>(k)];
    std::copy(gram.begin(), gram.end(), tokens.begin() + k * longest);
    lengths.push_back(static_cast<int64_t>(gram.size()));
    gramOf[static_cast<size_t>(pool.columns[static_cast<size_t>(k)])] = k;
  }
  return {table<int64_t>(b, loc, {grams, longest}, b.getI64Type(), tokens),
          table<int64_t>(b, loc, {grams}, b.getI64Type(), lengths),
          table<float>(b, loc, {grams}, b.getF32Type(), pool.weights),
          table<int64_t>(b, loc, {columns}, b.getI64Type(), gramOf)};
}

Value asIndex(OpBuilder &b, Location loc, Value i64) {
  return b.create<arith::IndexCastOp>(loc, b.getIndexType(), i64);
}

// How often gram k (of `length` tokens) occurs in the row at skip
// distances 1 to maxSkip + 1 (a unigram at distance 1 only).
Value occurrences(OpBuilder &b, Location loc, Value x, Value row, int64_t rowLength,
                  const Tables &t, Value k, Value length, int64_t maxSkip) {
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0),
        one = b.create<arith::ConstantIndexOp>(loc, 1);
  Value lengthIndex = asIndex(b, loc, length);
  Value unigram = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, lengthIndex, one);
  Value distances = b.create<arith::SelectOp>(loc, unigram, one,
                                              b.create<arith::ConstantIndexOp>(loc, maxSkip + 1));
  Value rowEnd = b.create<arith::ConstantIndexOp>(loc, rowLength);
  Value none = b.create<arith::ConstantIntOp>(loc, 0, 64);
  return forLoop(
      b, loc, zero, distances, ValueRange{none},
      [&](OpBuilder &sb, Location sl, Value skip, ValueRange total) {
        Value distance = sb.create<arith::AddIOp>(sl, skip, one);
        Value span =
            sb.create<arith::MulIOp>(sl, sb.create<arith::SubIOp>(sl, lengthIndex, one), distance);
        return SmallVector<Value>{forLoop(
            sb, sl, zero, rowEnd, total,
            [&](OpBuilder &ib, Location il, Value start, ValueRange counted) {
              Value last = ib.create<arith::AddIOp>(il, start, span);
              Value fits = ib.create<arith::CmpIOp>(il, arith::CmpIPredicate::ult, last, rowEnd);
              Value matched = forLoop(
                  ib, il, zero, lengthIndex, ValueRange{fits},
                  [&](OpBuilder &jb, Location jl, Value j, ValueRange sofar) {
                    Value at = jb.create<arith::AddIOp>(jl, start,
                                                        jb.create<arith::MulIOp>(jl, j, distance));
                    // Past the row's end the gram does not fit: read
                    // a position inside it, whose match is dropped.
                    Value inside = jb.create<arith::MinUIOp>(
                        jl, at, jb.create<arith::SubIOp>(jl, rowEnd, one));
                    SmallVector<Value> where;
                    if (row)
                      where.push_back(row);
                    where.push_back(inside);
                    Value token = asI64(jb, jl, jb.create<tensor::ExtractOp>(jl, x, where));
                    Value wanted = jb.create<tensor::ExtractOp>(jl, t.tokens, ValueRange{k, j});
                    Value same =
                        jb.create<arith::CmpIOp>(jl, arith::CmpIPredicate::eq, token, wanted);
                    return SmallVector<Value>{jb.create<arith::AndIOp>(jl, sofar[0], same)};
                  })[0];
              Value add = ib.create<arith::ExtUIOp>(il, ib.getI64Type(), matched);
              return SmallVector<Value>{ib.create<arith::AddIOp>(il, counted[0], add)};
            })[0]};
      })[0];
}

FailureOr<SmallVector<Value>> lowerTfIdfVectorizer(ir::NodeOp node, OpBuilder &b) {
  Location loc = node.getLoc();
  Value x = input(node, 0);
  auto type = cast<RankedTensorType>(x.getType());
  RankedTensorType outType = resultType(node);
  if (!isa<IntegerType>(type.getElementType()) || hasUnsignedValues(node))
    return unsupported(node, "tokens other than int32 or int64");
  if ((type.getRank() != 1 && type.getRank() != 2) || outType.getRank() != type.getRank() ||
      !outType.getElementType().isF32())
    return invalid(node, "an input of rank other than 1 or 2");
  auto modeAttr = dyn_cast_or_null<StringAttr>(node.attr("mode"));
  StringRef mode = modeAttr ? modeAttr.getValue() : "";
  if (mode != "TF" && mode != "IDF" && mode != "TFIDF")
    return invalid(node, "mode '" + mode + "' (TF, IDF or TFIDF)");
  int64_t columns = outType.getShape().back(), rowLength = type.getShape().back();
  // Its column table is built when compiling.
  if (columns > (int64_t{1} << 24))
    return unsupported(node, "more than 16M output columns");
  auto pool = readPool(node, columns);
  if (failed(pool))
    return failure();
  int64_t minLength = node.intAttr("min_gram_length", 1),
          maxLength = node.intAttr("max_gram_length", 1);
  int64_t maxSkip = node.intAttr("max_skip_count", 0);
  if (minLength < 1 || maxLength < minLength || maxSkip < 0)
    return invalid(node, "gram lengths or a skip count out of range");
  Value zeros = filledTensor(b, loc, outType, scalarConstant(b, loc, b.getF32Type(), 0.0));
  if (pool->grams.empty() || rowLength == 0)
    return SmallVector<Value>{zeros};
  Tables t = makeTables(b, loc, *pool, columns);
  // Beyond the row's length no gram of two or more tokens fits.
  maxSkip = std::min(maxSkip, rowLength);
  unsigned rank = static_cast<unsigned>(outType.getRank());
  return SmallVector<Value>{
      b.create<linalg::GenericOp>(
           loc, TypeRange{outType}, ValueRange{}, ValueRange{zeros},
           ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank)},
           SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
           [&](OpBuilder &nb, Location l, ValueRange) {
             Value row = rank == 2 ? nb.create<linalg::IndexOp>(l, 0).getResult() : Value();
             Value column = nb.create<linalg::IndexOp>(l, rank - 1);
             Value gram = nb.create<tensor::ExtractOp>(l, t.gramOf, ValueRange{column});
             Value counted = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, gram,
                                                      nb.create<arith::ConstantIntOp>(l, 0, 64));
             // A column no gram maps to reads gram 0, and its value is dropped.
             Value k = asIndex(nb, l,
                               nb.create<arith::SelectOp>(
                                   l, counted, gram, nb.create<arith::ConstantIntOp>(l, 0, 64)));
             Value length = nb.create<tensor::ExtractOp>(l, t.lengths, ValueRange{k});
             auto within = [&](arith::CmpIPredicate predicate, int64_t bound) {
               return nb.create<arith::CmpIOp>(l, predicate, length,
                                               nb.create<arith::ConstantIntOp>(l, bound, 64));
             };
             counted = nb.create<arith::AndIOp>(
                 l, counted,
                 nb.create<arith::AndIOp>(l, within(arith::CmpIPredicate::sge, minLength),
                                          within(arith::CmpIPredicate::sle, maxLength)));
             Value count = nb.create<arith::SIToFPOp>(
                 l, nb.getF32Type(), occurrences(nb, l, x, row, rowLength, t, k, length, maxSkip));
             Value weight = nb.create<tensor::ExtractOp>(l, t.weights, ValueRange{k});
             Value zero = scalarConstant(nb, l, nb.getF32Type(), 0.0);
             Value value = count;
             if (mode == "IDF") {
               Value seen = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, count, zero);
               value = nb.create<arith::SelectOp>(l, seen, weight, zero);
             } else if (mode == "TFIDF") {
               value = nb.create<arith::MulFOp>(l, count, weight);
             }
             nb.create<linalg::YieldOp>(
                 l, ValueRange{nb.create<arith::SelectOp>(l, counted, value, zero)});
           })
          .getResult(0)};
}

} // namespace

void registerTfIdfLowerings() { registerLowering("TfIdfVectorizer", lowerTfIdfVectorizer); }

} // namespace graceful::compiler::lowering
