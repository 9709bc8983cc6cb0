#include "graceful/gates/retrieval.h"

#include "graceful/support/error.h"

#include <algorithm>
#include <cblas.h>
#include <charconv>
#include <cmath>
#include <limits>

namespace graceful::gates {
namespace {

// Score rows held at once: about 64 MB of floats, at least one query.
constexpr int64_t kScoreBudget = int64_t{1} << 24;

int64_t dimOf(const Tensor &embeddings) { return embeddings.shape[1]; }

llvm::Error checkEmbeddings(const Tensor &embeddings, size_t labels, const char *what) {
  if (embeddings.dtype != DType::Float32 || embeddings.shape.size() != 2)
    return makeError(ErrorKind::BadInput, std::string(what) +
                                              " embeddings must be float32 [rows, dim], got " +
                                              embeddings.describe());
  if (embeddings.shape[0] != static_cast<int64_t>(labels))
    return makeError(ErrorKind::BadInput,
                     std::string(what) + ": " + std::to_string(embeddings.shape[0]) +
                         " embeddings but " + std::to_string(labels) + " labels");
  if (embeddings.shape[0] == 0)
    return makeError(ErrorKind::BadInput, std::string(what) + ": no rows");
  return llvm::Error::success();
}

// Cosine ranks by the dot product of unit vectors; L2 by 2 q.g - |g|^2,
// which orders the gallery as -|q - g|^2 does for each query.
std::vector<float> prepared(const Tensor &embeddings, Similarity similarity) {
  std::vector<float> rows(embeddings.data<float>(),
                          embeddings.data<float>() + embeddings.elementCount());
  if (similarity == Similarity::Cosine) {
    int64_t dim = dimOf(embeddings);
    for (int64_t r = 0; r < embeddings.shape[0]; ++r) {
      float *row = rows.data() + r * dim;
      double norm = 0;
      for (int64_t d = 0; d < dim; ++d)
        norm += static_cast<double>(row[d]) * row[d];
      float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
      for (int64_t d = 0; d < dim; ++d)
        row[d] *= scale;
    }
  }
  return rows;
}

std::vector<float> squaredNorms(const std::vector<float> &rows, int64_t dim) {
  std::vector<float> norms(rows.size() / static_cast<size_t>(dim));
  for (size_t r = 0; r < norms.size(); ++r) {
    double sum = 0;
    for (int64_t d = 0; d < dim; ++d)
      sum += static_cast<double>(rows[r * dim + d]) * rows[r * dim + d];
    norms[r] = static_cast<float>(sum);
  }
  return norms;
}

// Ranks above gallery item j: higher score, or equal score and lower index.
bool ranksAbove(float score, int64_t index, float otherScore, int64_t otherIndex) {
  return score > otherScore || (score == otherScore && index < otherIndex);
}

// Where a gallery item's score falls among the relevant items' sorted
// scores, in constant time for most items: buckets over the relevant
// scores' range, each knowing the first relevant item that falls in it. A
// bucket is a monotone function of the score, so only the items of the
// item's own bucket need comparing (a binary search, ties by index).
class RelevantRanks {
public:
  // `relevant` is in rank order: score descending, then index ascending.
  explicit RelevantRanks(const std::vector<std::pair<float, int64_t>> &relevant)
      : relevant_(relevant), highest_(relevant.front().first) {
    float range = highest_ - relevant.back().first;
    buckets_ = 4 * static_cast<int64_t>(relevant.size());
    scale_ = range > 0 && std::isfinite(range) ? static_cast<float>(buckets_) / range : 0.0f;
    // Slot 0 is above every relevant item, slot buckets_ + 1 below all.
    starts_.assign(static_cast<size_t>(buckets_) + 3, relevant.size());
    starts_[0] = 0;
    for (size_t m = relevant.size(); m-- > 0;)
      starts_[slotOf(relevant[m].first)] = m;
    for (size_t slot = starts_.size() - 1; slot-- > 1;)
      starts_[slot] = std::min(starts_[slot], starts_[slot + 1]);
  }

  // How many relevant items rank above gallery item `index` of `score`.
  size_t above(float score, int64_t index) const {
    size_t slot = slotOf(score);
    auto first = relevant_.begin() + static_cast<std::ptrdiff_t>(starts_[slot]);
    auto last = relevant_.begin() + static_cast<std::ptrdiff_t>(starts_[slot + 1]);
    return static_cast<size_t>(std::partition_point(first, last,
                                                    [&](const auto &r) {
                                                      return ranksAbove(r.first, r.second, score,
                                                                        index);
                                                    }) -
                               relevant_.begin());
  }

private:
  // Non-decreasing as the score falls: 0 above the highest relevant score,
  // 1 + the bucket in the range, buckets_ + 1 below it. Scores of one slot
  // need comparing one by one.
  size_t slotOf(float score) const {
    float offset = (highest_ - score) * scale_;
    if (!(offset >= 0.0f)) // above the highest, or inf - inf when the range is infinite
      return score > highest_ ? 0 : 1;
    // float(buckets_) may round up past it: clamped again as an integer.
    size_t bucket = static_cast<size_t>(std::min(offset, static_cast<float>(buckets_)));
    return 1 + std::min(bucket, static_cast<size_t>(buckets_));
  }

  const std::vector<std::pair<float, int64_t>> &relevant_;
  float highest_;
  std::vector<size_t> starts_; // per slot, and one past the last
  int64_t buckets_ = 1;
  float scale_ = 0;
};

struct RankedMatches {
  int64_t firstMatchRank = 0; // 1-based; 0 when nothing matches
  double averagePrecision = 0;
};

// Average precision of one ranked list: the relevant items' scores sorted
// in rank order, then the non-relevant items placed between them. The
// first match's rank comes with it: it follows the non-relevant items
// ranked above the first relevant one.
RankedMatches averagePrecision(const float *scores, const std::vector<int64_t> &galleryLabels,
                               int64_t label) {
  std::vector<std::pair<float, int64_t>> relevant;
  int64_t count = static_cast<int64_t>(galleryLabels.size());
  for (int64_t j = 0; j < count; ++j)
    if (galleryLabels[j] == label)
      relevant.push_back({scores[j], j});
  if (relevant.empty())
    return {};
  std::sort(relevant.begin(), relevant.end(), [](const auto &a, const auto &b) {
    return ranksAbove(a.first, a.second, b.first, b.second);
  });
  RelevantRanks ranks(relevant);
  // above[m]: non-relevant items ranking above the m-th relevant item.
  std::vector<int64_t> above(relevant.size() + 1, 0);
  for (int64_t j = 0; j < count; ++j)
    if (galleryLabels[j] != label)
      above[ranks.above(scores[j], j)]++;
  double sum = 0;
  int64_t nonRelevantAbove = 0;
  for (size_t m = 0; m < relevant.size(); ++m) {
    nonRelevantAbove += above[m];
    sum += static_cast<double>(m + 1) / static_cast<double>(m + 1 + nonRelevantAbove);
  }
  return {1 + above[0], sum / static_cast<double>(relevant.size())};
}

// Rank (1-based) of the best-ranked gallery item with the query's label, or
// 0 when there is none: one more than the items ranking above it, those
// with a higher score and those of its score at a lower index. Each pass
// is a reduction the compiler vectorizes (a clone per instruction set).
__attribute__((target_clones("avx512f", "avx2", "default"))) int64_t
firstMatchRank(const float *scores, const std::vector<int64_t> &galleryLabels, int64_t label) {
  const int64_t *labels = galleryLabels.data();
  int64_t count = static_cast<int64_t>(galleryLabels.size());
  constexpr float kNone = -std::numeric_limits<float>::infinity();
  float best = kNone;
  int64_t matches = 0;
#pragma omp simd reduction(max : best) reduction(+ : matches)
  for (int64_t j = 0; j < count; ++j) {
    bool match = labels[j] == label;
    matches += match;
    best = std::max(best, match ? scores[j] : kNone);
  }
  if (matches == 0)
    return 0;
  int64_t first = 0; // the best's index: the lowest among its ties (scores hold no NaN)
  while (first < count && !(labels[first] == label && scores[first] == best))
    ++first;
  int64_t above = 0;
#pragma omp simd reduction(+ : above)
  for (int64_t j = 0; j < count; ++j)
    above += scores[j] > best;
#pragma omp simd reduction(+ : above)
  for (int64_t j = 0; j < first; ++j)
    above += scores[j] == best;
  return 1 + above;
}

} // namespace

llvm::Expected<RetrievalResult> evaluateRetrieval(const Tensor &queries,
                                                  const std::vector<int64_t> &queryLabels,
                                                  const Tensor &gallery,
                                                  const std::vector<int64_t> &galleryLabels,
                                                  const RetrievalOptions &options) {
  if (llvm::Error error = checkEmbeddings(queries, queryLabels.size(), "query"))
    return error;
  if (llvm::Error error = checkEmbeddings(gallery, galleryLabels.size(), "gallery"))
    return error;
  if (dimOf(queries) != dimOf(gallery))
    return makeError(ErrorKind::BadInput,
                     "embedding dimensions differ: queries have " + std::to_string(dimOf(queries)) +
                         ", the gallery has " + std::to_string(dimOf(gallery)));
  int64_t dim = dimOf(queries), galleryRows = gallery.shape[0], queryRows = queries.shape[0];
  std::vector<float> queryVectors = prepared(queries, options.similarity);
  std::vector<float> galleryVectors = prepared(gallery, options.similarity);
  std::vector<float> galleryNorms;
  if (options.similarity == Similarity::L2)
    galleryNorms = squaredNorms(galleryVectors, dim);

  int64_t block = std::clamp<int64_t>(kScoreBudget / galleryRows, 1, 1024);
  std::vector<float> scores(static_cast<size_t>(std::min(block, queryRows) * galleryRows));
  std::vector<RankedMatches> matches(static_cast<size_t>(std::min(block, queryRows)));
  RetrievalResult result;
  result.queries = queryRows;
  std::vector<int64_t> firstMatches(static_cast<size_t>(options.cmcDepth), 0);
  double apSum = 0;
  float alpha = options.similarity == Similarity::L2 ? 2.0f : 1.0f;
  for (int64_t start = 0; start < queryRows; start += block) {
    int64_t rows = std::min(block, queryRows - start);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                static_cast<int>(galleryRows), static_cast<int>(dim), alpha,
                queryVectors.data() + start * dim, static_cast<int>(dim), galleryVectors.data(),
                static_cast<int>(dim), 0.0f, scores.data(), static_cast<int>(galleryRows));
    // Each query's ranking is its own: the queries of a block are scanned
    // in parallel, and tallied in order, so the sums do not depend on the
    // number of threads.
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t r = 0; r < rows; ++r) {
      float *row = scores.data() + r * galleryRows;
      if (options.similarity == Similarity::L2)
        for (int64_t j = 0; j < galleryRows; ++j)
          row[j] -= galleryNorms[j];
      // Huge embeddings can overflow a score to inf - inf: such an item
      // ranks last, as -inf, so every ranking below is a total order.
      for (int64_t j = 0; j < galleryRows; ++j)
        if (std::isnan(row[j]))
          row[j] = -std::numeric_limits<float>::infinity();
      int64_t label = queryLabels[static_cast<size_t>(start + r)];
      matches[static_cast<size_t>(r)] =
          options.meanAveragePrecision
              ? averagePrecision(row, galleryLabels, label)
              : RankedMatches{firstMatchRank(row, galleryLabels, label), 0};
    }
    for (int64_t r = 0; r < rows; ++r) {
      int64_t rank = matches[static_cast<size_t>(r)].firstMatchRank;
      if (rank == 0)
        result.queriesWithoutMatch++;
      else if (rank <= options.cmcDepth)
        firstMatches[static_cast<size_t>(rank - 1)]++;
      apSum += matches[static_cast<size_t>(r)].averagePrecision;
    }
  }
  int64_t cumulative = 0;
  for (int64_t hits : firstMatches) {
    cumulative += hits;
    result.cmc.push_back(static_cast<double>(cumulative) / static_cast<double>(queryRows));
  }
  result.meanAveragePrecision = apSum / static_cast<double>(queryRows);
  return result;
}

double RetrievalMeasure::of(const RetrievalResult &result) const {
  if (meanAveragePrecision)
    return result.meanAveragePrecision;
  return result.cmc[static_cast<size_t>(k - 1)];
}

llvm::Expected<RetrievalMeasure> parseMeasure(const std::string &text) {
  std::string measure = text.empty() ? "top1" : text;
  if (measure == "map")
    return RetrievalMeasure{true, 1, measure};
  int64_t k = 0;
  if (measure.rfind("top", 0) == 0) {
    const char *begin = measure.data() + 3, *end = measure.data() + measure.size();
    auto [last, ec] = std::from_chars(begin, end, k);
    if (ec == std::errc() && last == end && k >= 1 && k <= 1000)
      return RetrievalMeasure{false, k, measure};
  }
  return makeError(ErrorKind::BadInput,
                   "measure '" + text + "' is not one of top1, topK (K = 1..1000), map");
}

llvm::Expected<Similarity> parseSimilarity(const std::string &text) {
  if (text.empty() || text == "cosine")
    return Similarity::Cosine;
  if (text == "l2")
    return Similarity::L2;
  return makeError(ErrorKind::BadInput, "metric '" + text + "' is not one of cosine, l2");
}

} // namespace graceful::gates
