#include "graceful/gates/statistics.h"

#include "graceful/support/error.h"

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/binomial.hpp>
#include <cmath>
#include <limits>

namespace graceful::gates {

llvm::Expected<std::vector<int64_t>> predictionsOf(const Tensor &outputs, const std::string &what) {
  std::vector<int64_t> predictions;
  if (outputs.shape.size() == 1 &&
      (outputs.dtype == DType::Int64 || outputs.dtype == DType::Int32)) {
    // Sized once: class ids can number hundreds of millions.
    predictions.resize(static_cast<size_t>(outputs.shape[0]));
    if (outputs.dtype == DType::Int64)
      std::copy_n(outputs.data<int64_t>(), predictions.size(), predictions.begin());
    else
      std::copy_n(outputs.data<int32_t>(), predictions.size(), predictions.begin());
    auto negative = std::find_if(predictions.begin(), predictions.end(),
                                 [](int64_t prediction) { return prediction < 0; });
    if (negative != predictions.end())
      return makeError(ErrorKind::BadInput,
                       what + ": class " + std::to_string(*negative) + " of sample " +
                           std::to_string(negative - predictions.begin()) + " is negative");
    return predictions;
  }
  if (outputs.shape.size() != 2 || outputs.shape[1] == 0 ||
      (outputs.dtype != DType::Float32 && outputs.dtype != DType::Float64))
    return makeError(ErrorKind::BadInput,
                     what + ": expected logits (2-D float) or labels (1-D int64), got " +
                         outputs.describe());
  int64_t rows = outputs.shape[0], width = outputs.shape[1];
  predictions.resize(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    auto value = [&](int64_t j) {
      return outputs.dtype == DType::Float32 ? outputs.data<float>()[i * width + j]
                                             : outputs.data<double>()[i * width + j];
    };
    int64_t best = 0;
    for (int64_t j = 0; j < width; ++j) {
      // An argmax over NaN depends on where the NaN is: no verdict rests on one.
      if (!std::isfinite(value(j)))
        return makeError(ErrorKind::BadInput, what + ": sample " + std::to_string(i) + " has " +
                                                  (std::isnan(value(j)) ? "NaN" : "infinite") +
                                                  " logits");
      if (value(j) > value(best))
        best = j;
    }
    predictions[static_cast<size_t>(i)] = best;
  }
  return predictions;
}

llvm::Expected<std::vector<int64_t>> readLabels(DataFiles &files, const std::string &path) {
  auto read = files.npy(path);
  if (!read)
    return read.takeError();
  const Tensor &tensor = **read;
  if (tensor.shape.size() != 1 || (tensor.dtype != DType::Int64 && tensor.dtype != DType::Int32))
    return makeError(ErrorKind::BadInput,
                     path + ": labels must be a 1-D int64 array, got " + tensor.describe());
  if (tensor.shape[0] == 0)
    return makeError(ErrorKind::BadInput, path + ": no labels");
  return predictionsOf(tensor, path); // refuses negative classes
}

void FlipCounts::merge(const FlipCounts &other, int64_t indexOffset) {
  n += other.n;
  wrongOld += other.wrongOld;
  wrongNew += other.wrongNew;
  negativeFlips += other.negativeFlips;
  positiveFlips += other.positiveFlips;
  bothWrongDifferently += other.bothWrongDifferently;
  for (const auto &[label, count] : other.samplesPerClass)
    samplesPerClass[label] += count;
  for (const auto &[label, count] : other.negativeFlipsPerClass)
    negativeFlipsPerClass[label] += count;
  for (const auto &[cell, count] : other.flipMatrix)
    flipMatrix[cell] += count;
  for (int64_t index : other.flippedSamples)
    flippedSamples.push_back(index + indexOffset);
}

namespace {

// How many ids 0..largest are, saturating: an id is a file's word.
int64_t idsUpTo(int64_t largest) {
  return largest == std::numeric_limits<int64_t>::max() ? largest : largest + 1;
}

// The (old, new) prediction of each negative flip, counted. A flip's old
// prediction is its label, so the cells fit a dense table whenever the
// classes do; a sort is the fallback for huge class ids.
std::map<std::pair<int64_t, int64_t>, int64_t>
flipMatrixOf(const std::vector<int64_t> &flipped, const std::vector<int64_t> &oldPredictions,
             const std::vector<int64_t> &newPredictions) {
  int64_t rows = 0, columns = 0;
  for (int64_t i : flipped) {
    rows = std::max(rows, idsUpTo(oldPredictions[static_cast<size_t>(i)]));
    columns = std::max(columns, idsUpTo(newPredictions[static_cast<size_t>(i)]));
  }
  std::map<std::pair<int64_t, int64_t>, int64_t> matrix;
  constexpr int64_t kDenseCells = int64_t{1} << 22;
  if (rows > 0 && columns <= kDenseCells / rows) {
    std::vector<int64_t> cells(static_cast<size_t>(rows * columns));
    for (int64_t i : flipped)
      ++cells[static_cast<size_t>(oldPredictions[static_cast<size_t>(i)] * columns +
                                  newPredictions[static_cast<size_t>(i)])];
    for (size_t cell = 0; cell < cells.size(); ++cell)
      if (cells[cell])
        matrix.emplace_hint(
            matrix.end(),
            std::pair{static_cast<int64_t>(cell) / columns, static_cast<int64_t>(cell) % columns},
            cells[cell]);
    return matrix;
  }
  std::vector<std::pair<int64_t, int64_t>> pairs;
  pairs.reserve(flipped.size());
  for (int64_t i : flipped)
    pairs.push_back(
        {oldPredictions[static_cast<size_t>(i)], newPredictions[static_cast<size_t>(i)]});
  // Sorted runs insert at the map's end in constant time each.
  std::sort(pairs.begin(), pairs.end());
  for (size_t start = 0, end = 0; start < pairs.size(); start = end) {
    while (end < pairs.size() && pairs[end] == pairs[start])
      ++end;
    matrix.emplace_hint(matrix.end(), pairs[start], static_cast<int64_t>(end - start));
  }
  return matrix;
}

} // namespace

FlipCounts countFlips(const std::vector<int64_t> &labels,
                      const std::vector<int64_t> &oldPredictions,
                      const std::vector<int64_t> &newPredictions) {
  // Dense per-class tallies (classes are small integers in practice),
  // turned into the sparse maps at the end.
  int64_t classes = 0;
  for (int64_t label : labels)
    classes = std::max(classes, idsUpTo(label));
  bool dense = classes <= (int64_t{1} << 20);
  std::vector<int64_t> samples(dense ? static_cast<size_t>(classes) : 0),
      flips(dense ? static_cast<size_t>(classes) : 0);
  FlipCounts counts;
  counts.n = static_cast<int64_t>(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    int64_t label = labels[i];
    bool oldRight = oldPredictions[i] == label;
    bool newRight = newPredictions[i] == label;
    dense ? ++samples[static_cast<size_t>(label)] : ++counts.samplesPerClass[label];
    counts.wrongOld += !oldRight;
    counts.wrongNew += !newRight;
    if (oldRight && !newRight) {
      counts.negativeFlips++;
      dense ? ++flips[static_cast<size_t>(label)] : ++counts.negativeFlipsPerClass[label];
      counts.flippedSamples.push_back(static_cast<int64_t>(i));
    } else if (!oldRight && newRight) {
      counts.positiveFlips++;
    } else if (!oldRight && !newRight && oldPredictions[i] != newPredictions[i]) {
      counts.bothWrongDifferently++;
    }
  }
  counts.flipMatrix = flipMatrixOf(counts.flippedSamples, oldPredictions, newPredictions);
  for (size_t label = 0; label < samples.size(); ++label) {
    if (samples[label])
      counts.samplesPerClass[static_cast<int64_t>(label)] = samples[label];
    if (flips[label])
      counts.negativeFlipsPerClass[static_cast<int64_t>(label)] = flips[label];
  }
  return counts;
}

FlipRates ratesOf(const FlipCounts &counts) {
  FlipRates rates;
  if (counts.n == 0)
    return rates;
  double n = static_cast<double>(counts.n);
  rates.errorRateOld = static_cast<double>(counts.wrongOld) / n;
  rates.errorRateNew = static_cast<double>(counts.wrongNew) / n;
  rates.nfr = static_cast<double>(counts.negativeFlips) / n;
  rates.pfr = static_cast<double>(counts.positiveFlips) / n;
  double expected = (1.0 - rates.errorRateOld) * rates.errorRateNew;
  rates.relativeNfr = expected > 0 ? rates.nfr / expected : 0.0;
  int64_t rightOld = counts.n - counts.wrongOld;
  rates.btc = rightOld ? static_cast<double>(rightOld - counts.negativeFlips) / rightOld : 1.0;
  int64_t bothWrong = counts.wrongOld - counts.positiveFlips;
  rates.bec = counts.wrongNew ? static_cast<double>(bothWrong) / counts.wrongNew : 1.0;
  return rates;
}

double clopperPearsonUpper(int64_t successes, int64_t trials, double confidence) {
  if (trials <= 0 || successes >= trials)
    return 1.0;
  boost::math::beta_distribution<double> posterior(static_cast<double>(successes + 1),
                                                   static_cast<double>(trials - successes));
  return boost::math::quantile(posterior, confidence);
}

double mcnemarExactP(int64_t b, int64_t c) {
  int64_t discordant = b + c;
  if (discordant == 0)
    return 1.0;
  boost::math::binomial_distribution<double> fair(static_cast<double>(discordant), 0.5);
  double tail = boost::math::cdf(fair, static_cast<double>(std::min(b, c)));
  return std::min(1.0, 2.0 * tail);
}

} // namespace graceful::gates
