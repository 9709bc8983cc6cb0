// The statistics behind the NFR gate: predictions, flip counts, the
// Clopper-Pearson bound and McNemar's exact test. Counts are sums, so
// shards of an evaluation merge by adding them.
#pragma once

#include "graceful/gates/data_files.h"
#include "graceful/support/tensor.h"

#include <cstdint>
#include <llvm/Support/Error.h>
#include <map>
#include <string>
#include <vector>

namespace graceful::gates {

// One predicted class per sample: the argmax of each row of 2-D logits
// (ties: lowest index), or the values of a 1-D integer array of labels.
// NaN or infinite logits and negative classes are errors naming `what`.
llvm::Expected<std::vector<int64_t>> predictionsOf(const Tensor &outputs, const std::string &what);

// Class labels from an int64 (or int32) 1-D .npy array.
llvm::Expected<std::vector<int64_t>> readLabels(DataFiles &files, const std::string &path);

struct FlipCounts {
  int64_t n = 0;
  int64_t wrongOld = 0, wrongNew = 0;
  int64_t negativeFlips = 0; // old right, new wrong
  int64_t positiveFlips = 0; // old wrong, new right
  int64_t bothWrongDifferently = 0;
  std::map<int64_t, int64_t> samplesPerClass;
  std::map<int64_t, int64_t> negativeFlipsPerClass;          // by true label
  std::map<std::pair<int64_t, int64_t>, int64_t> flipMatrix; // (old, new) prediction -> count
  std::vector<int64_t> flippedSamples;                       // indices of negative flips, ascending

  void merge(const FlipCounts &other, int64_t indexOffset);
};

// Labels and predictions must have the same length (checked by the caller).
FlipCounts countFlips(const std::vector<int64_t> &labels,
                      const std::vector<int64_t> &oldPredictions,
                      const std::vector<int64_t> &newPredictions);

struct FlipRates {
  double errorRateOld = 0, errorRateNew = 0;
  double nfr = 0, pfr = 0;
  double relativeNfr = 0; // NFR / ((1 - ER_old) * ER_new); 0 when undefined
  double btc = 0;         // of the samples the old model gets right, the share the new keeps
  double bec = 0;         // of the samples the new model gets wrong, the share the old also did
};
FlipRates ratesOf(const FlipCounts &counts);

// One-sided upper bound of a binomial proportion at `confidence`
// (Clopper-Pearson): the p with P(X <= successes | n, p) = 1 - confidence.
double clopperPearsonUpper(int64_t successes, int64_t trials, double confidence);

// Two-sided exact McNemar test on the discordant pairs: the binomial
// probability of a split at least as uneven as (b, c) under p = 1/2.
double mcnemarExactP(int64_t b, int64_t c);

} // namespace graceful::gates
