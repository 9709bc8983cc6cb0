#include "graceful/gates/statistics.h"

#include "graceful/support/error.h"

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/binomial.hpp>
#include <cmath>

namespace graceful::gates {

llvm::Expected<std::vector<int64_t>> predictionsOf(const Tensor &outputs, const std::string &what) {
  std::vector<int64_t> predictions;
  if (outputs.shape.size() == 1 &&
      (outputs.dtype == DType::Int64 || outputs.dtype == DType::Int32)) {
    for (int64_t i = 0; i < outputs.shape[0]; ++i) {
      predictions.push_back(outputs.dtype == DType::Int64 ? outputs.data<int64_t>()[i]
                                                          : outputs.data<int32_t>()[i]);
      if (predictions.back() < 0)
        return makeError(ErrorKind::BadInput,
                         what + ": class " + std::to_string(predictions.back()) + " of sample " +
                             std::to_string(i) + " is negative");
    }
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

FlipCounts countFlips(const std::vector<int64_t> &labels,
                      const std::vector<int64_t> &oldPredictions,
                      const std::vector<int64_t> &newPredictions) {
  // Dense per-class tallies (classes are small integers in practice),
  // turned into the sparse maps at the end.
  int64_t classes = 0;
  for (int64_t label : labels)
    classes = std::max(classes, label + 1);
  bool dense = classes <= (int64_t{1} << 20);
  std::vector<int64_t> samples(dense ? static_cast<size_t>(classes) : 0),
      flips(dense ? static_cast<size_t>(classes) : 0);
  FlipCounts counts;
  counts.n = static_cast<int64_t>(labels.size());
  std::vector<std::pair<int64_t, int64_t>> cells; // (old, new) of each negative flip
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
      cells.push_back({oldPredictions[i], newPredictions[i]});
      counts.flippedSamples.push_back(static_cast<int64_t>(i));
    } else if (!oldRight && newRight) {
      counts.positiveFlips++;
    } else if (!oldRight && !newRight && oldPredictions[i] != newPredictions[i]) {
      counts.bothWrongDifferently++;
    }
  }
  // Sorted runs insert at the map's end in constant time each.
  std::sort(cells.begin(), cells.end());
  for (size_t start = 0, end = 0; start < cells.size(); start = end) {
    while (end < cells.size() && cells[end] == cells[start])
      ++end;
    counts.flipMatrix.emplace_hint(counts.flipMatrix.end(), cells[start],
                                   static_cast<int64_t>(end - start));
  }
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
