// Exact nearest-neighbour retrieval for the compatibility gates: blocked
// matrix products through BLAS, streaming over query blocks so only a
// (block x gallery) score matrix is ever held.
#pragma once

#include "graceful/support/tensor.h"

#include <cstdint>
#include <llvm/Support/Error.h>
#include <string>
#include <vector>

namespace graceful::gates {

enum class Similarity { Cosine, L2 };

struct RetrievalOptions {
  Similarity similarity = Similarity::Cosine;
  int64_t cmcDepth = 10;             // CMC curve points: top-1 .. top-cmcDepth
  bool meanAveragePrecision = false; // costs a sort per query
};

struct RetrievalResult {
  int64_t queries = 0;
  int64_t queriesWithoutMatch = 0; // no gallery item has their label
  // cmc[k-1]: share of queries whose first correct match ranks <= k.
  std::vector<double> cmc;
  double meanAveragePrecision = 0; // when requested; 0 for unmatched queries
};

// Ranks the gallery for every query (descending similarity; ties: lower
// gallery index first). Embeddings are float32 [rows, dim]; labels one per
// row. Differing dimensions are an error.
llvm::Expected<RetrievalResult> evaluateRetrieval(const Tensor &queries,
                                                  const std::vector<int64_t> &queryLabels,
                                                  const Tensor &gallery,
                                                  const std::vector<int64_t> &galleryLabels,
                                                  const RetrievalOptions &options);

// "top1", "top5", "map": the measure a policy names.
struct RetrievalMeasure {
  bool meanAveragePrecision = false;
  int64_t k = 1;
  std::string name;
  double of(const RetrievalResult &result) const;
};
llvm::Expected<RetrievalMeasure> parseMeasure(const std::string &text);
llvm::Expected<Similarity> parseSimilarity(const std::string &text);

} // namespace graceful::gates
