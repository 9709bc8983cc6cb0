// Hand-worked retrieval cases: ranking ties, CMC, mAP, L2 and the checks.
#include "graceful/gates/retrieval.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>

namespace graceful::gates {
namespace {

Tensor rows(std::vector<std::vector<float>> values) {
  Tensor tensor = makeTensor(DType::Float32, {static_cast<int64_t>(values.size()),
                                              static_cast<int64_t>(values[0].size())});
  float *out = tensor.data<float>();
  for (const auto &row : values)
    for (float value : row)
      *out++ = value;
  return tensor;
}

// Gallery g0 = (1,0) label 0, g1 = (1,0) label 1 (a tie with g0), g2 =
// (0,1) label 1, g3 = (-1,0) label 0.
//   query (1,0) label 1 ranks g0 g1 g2 g3: first match at 2, AP (1/2 + 2/3)/2
//   query (0,1) label 0 ranks g2 g0 g1 g3: first match at 2, AP (1/2 + 2/4)/2
class RetrievalByHand : public ::testing::TestWithParam<Similarity> {};

TEST_P(RetrievalByHand, TiesRankTheLowerGalleryIndexFirst) {
  Tensor gallery = rows({{1, 0}, {1, 0}, {0, 1}, {-1, 0}});
  Tensor queries = rows({{1, 0}, {0, 1}});
  auto result = evaluateRetrieval(queries, {1, 0}, gallery, {0, 1, 1, 0},
                                  RetrievalOptions{GetParam(), 3, true});
  ASSERT_TRUE(bool(result)) << llvm::toString(result.takeError());
  ASSERT_EQ(result->cmc.size(), 3u);
  EXPECT_DOUBLE_EQ(result->cmc[0], 0.0);
  EXPECT_DOUBLE_EQ(result->cmc[1], 1.0);
  EXPECT_DOUBLE_EQ(result->cmc[2], 1.0);
  double expected = ((0.5 + 2.0 / 3.0) / 2 + (0.5 + 0.5) / 2) / 2;
  EXPECT_NEAR(result->meanAveragePrecision, expected, 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Metrics, RetrievalByHand,
                         ::testing::Values(Similarity::Cosine, Similarity::L2));

TEST(Retrieval, CosineIgnoresLengthButL2DoesNot) {
  // The query is closest in direction to g1 but closest in distance to g0.
  Tensor gallery = rows({{0.5f, 0.5f}, {10, 1}});
  Tensor queries = rows({{1, 0}});
  auto cosine = evaluateRetrieval(queries, {1}, gallery, {0, 1},
                                  RetrievalOptions{Similarity::Cosine, 1, false});
  auto l2 =
      evaluateRetrieval(queries, {1}, gallery, {0, 1}, RetrievalOptions{Similarity::L2, 1, false});
  ASSERT_TRUE(cosine && l2);
  EXPECT_DOUBLE_EQ(cosine->cmc[0], 1.0);
  EXPECT_DOUBLE_EQ(l2->cmc[0], 0.0);
}

TEST(Retrieval, QueriesWithoutAMatchCountAsMisses) {
  auto result = evaluateRetrieval(rows({{1, 0}, {0, 1}}), {0, 7}, rows({{1, 0}}), {0},
                                  RetrievalOptions{Similarity::Cosine, 1, true});
  ASSERT_TRUE(bool(result));
  EXPECT_EQ(result->queriesWithoutMatch, 1);
  EXPECT_DOUBLE_EQ(result->cmc[0], 0.5);
  EXPECT_DOUBLE_EQ(result->meanAveragePrecision, 0.5);
}

TEST(Retrieval, DifferingDimensionsAreAClearError) {
  auto result = evaluateRetrieval(rows({{1, 0, 0}}), {0}, rows({{1, 0}}), {0}, RetrievalOptions{});
  ASSERT_FALSE(bool(result));
  EXPECT_NE(llvm::toString(result.takeError()).find("dimensions differ"), std::string::npos);
}

TEST(Retrieval, LabelCountMustMatchRows) {
  auto result = evaluateRetrieval(rows({{1, 0}}), {0, 1}, rows({{1, 0}}), {0}, RetrievalOptions{});
  ASSERT_FALSE(bool(result));
  EXPECT_NE(llvm::toString(result.takeError()).find("labels"), std::string::npos);
}

TEST(Retrieval, ManyQueryBlocksGiveTheSameAnswerAsOne) {
  // 300 queries against a gallery large enough that the score budget splits
  // the queries into blocks; each query's own row is its nearest neighbour.
  // Integer grid points keep every L2 score exact in float32.
  const int64_t count = 300, galleryRows = 70000;
  Tensor gallery = makeTensor(DType::Float32, {galleryRows, 2});
  std::vector<int64_t> galleryLabels(galleryRows);
  for (int64_t i = 0; i < galleryRows; ++i) {
    gallery.data<float>()[2 * i] = static_cast<float>(i % 300);
    gallery.data<float>()[2 * i + 1] = static_cast<float>(i / 300);
    galleryLabels[i] = i;
  }
  Tensor queries = makeTensor(DType::Float32, {count, 2});
  std::vector<int64_t> queryLabels(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t target = i * 200;
    queries.data<float>()[2 * i] = gallery.data<float>()[2 * target];
    queries.data<float>()[2 * i + 1] = gallery.data<float>()[2 * target + 1];
    queryLabels[i] = target;
  }
  auto result = evaluateRetrieval(queries, queryLabels, gallery, galleryLabels,
                                  RetrievalOptions{Similarity::L2, 1, false});
  ASSERT_TRUE(bool(result));
  EXPECT_DOUBLE_EQ(result->cmc[0], 1.0);
}

// mAP by the definition: each query's whole gallery sorted by rank (score
// descending, ties to the lower index), precision summed at every hit.
double meanAveragePrecisionBySorting(const Tensor &queries, const std::vector<int64_t> &queryLabels,
                                     const Tensor &gallery,
                                     const std::vector<int64_t> &galleryLabels) {
  int64_t dim = gallery.shape[1], rows = gallery.shape[0];
  double total = 0;
  for (int64_t q = 0; q < queries.shape[0]; ++q) {
    std::vector<std::pair<float, int64_t>> ranked;
    for (int64_t g = 0; g < rows; ++g) {
      float score = 0;
      for (int64_t d = 0; d < dim; ++d)
        score += queries.data<float>()[q * dim + d] * gallery.data<float>()[g * dim + d];
      ranked.push_back({-score, g});
    }
    std::sort(ranked.begin(), ranked.end());
    double sum = 0;
    int64_t hits = 0;
    for (size_t at = 0; at < ranked.size(); ++at)
      if (galleryLabels[static_cast<size_t>(ranked[at].second)] == queryLabels[q])
        sum += static_cast<double>(++hits) / static_cast<double>(at + 1);
    total += hits ? sum / static_cast<double>(hits) : 0.0;
  }
  return total / static_cast<double>(queries.shape[0]);
}

TEST(Retrieval, MeanAveragePrecisionAgreesWithSortingTheWholeRanking) {
  // One-hot-ish small integers: dot products are exact in float32 and tie
  // often, so the ranking's tie order is exercised at every bucket; one
  // gallery with a single score for all, one with a wide spread.
  for (int spread : {1, 3, 40}) {
    const int64_t galleryRows = 3000, queryRows = 60, dim = 4;
    Tensor gallery = makeTensor(DType::Float32, {galleryRows, dim});
    Tensor queries = makeTensor(DType::Float32, {queryRows, dim});
    std::vector<int64_t> galleryLabels(galleryRows), queryLabels(queryRows);
    uint32_t state = 12345;
    auto next = [&](int range) {
      state = state * 1664525u + 1013904223u;
      return static_cast<int>((state >> 8) % static_cast<uint32_t>(range));
    };
    for (int64_t i = 0; i < galleryRows * dim; ++i)
      gallery.data<float>()[i] = static_cast<float>(next(spread) - spread / 2);
    for (int64_t i = 0; i < queryRows * dim; ++i)
      queries.data<float>()[i] = static_cast<float>(next(3) - 1);
    for (auto &label : galleryLabels)
      label = next(7);
    for (auto &label : queryLabels)
      label = next(8); // label 7 has no match: AP 0
    auto result = evaluateRetrieval(queries, queryLabels, gallery, galleryLabels,
                                    RetrievalOptions{Similarity::L2, 1, true});
    ASSERT_TRUE(bool(result));
    // L2 ranks by 2 q.g - |g|^2: the reference does the same.
    Tensor shifted = makeTensor(DType::Float32, {galleryRows, dim + 1});
    Tensor extended = makeTensor(DType::Float32, {queryRows, dim + 1});
    for (int64_t g = 0; g < galleryRows; ++g) {
      float norm = 0;
      for (int64_t d = 0; d < dim; ++d) {
        float value = gallery.data<float>()[g * dim + d];
        shifted.data<float>()[g * (dim + 1) + d] = value;
        norm += value * value;
      }
      shifted.data<float>()[g * (dim + 1) + dim] = -norm;
    }
    for (int64_t q = 0; q < queryRows; ++q) {
      for (int64_t d = 0; d < dim; ++d)
        extended.data<float>()[q * (dim + 1) + d] = 2 * queries.data<float>()[q * dim + d];
      extended.data<float>()[q * (dim + 1) + dim] = 1;
    }
    double expected = meanAveragePrecisionBySorting(extended, queryLabels, shifted, galleryLabels);
    EXPECT_NEAR(result->meanAveragePrecision, expected, 1e-12) << "spread " << spread;
    EXPECT_GT(expected, 0.0);
  }
}

TEST(Retrieval, OverflowingScoresRankLastWithOrWithoutMap) {
  // Under L2, 2 q.g - |g|^2 of embeddings near 1e20 is inf - inf: such an
  // item ranks as -inf (last), the same whether mAP is computed or not.
  Tensor gallery = rows({{1e20f, 1e20f}, {1, 0}, {0, 1}, {1e20f, -1e20f}, {1, 1}});
  Tensor queries = rows({{1e20f, 1e20f}, {1, 0}, {0, 1}});
  std::vector<int64_t> galleryLabels{0, 1, 0, 1, 0}, queryLabels{0, 1, 1};
  auto withMap = evaluateRetrieval(queries, queryLabels, gallery, galleryLabels,
                                   RetrievalOptions{Similarity::L2, 5, true});
  auto without = evaluateRetrieval(queries, queryLabels, gallery, galleryLabels,
                                   RetrievalOptions{Similarity::L2, 5, false});
  ASSERT_TRUE(bool(withMap) && bool(without));
  EXPECT_EQ(withMap->cmc, without->cmc);
  EXPECT_TRUE(std::isfinite(withMap->meanAveragePrecision));
  EXPECT_DOUBLE_EQ(withMap->cmc.back(), 1.0);
}

TEST(Retrieval, ParsesMeasuresAndMetrics) {
  EXPECT_EQ(parseMeasure("top5")->k, 5);
  EXPECT_TRUE(parseMeasure("map")->meanAveragePrecision);
  EXPECT_EQ(parseMeasure("")->name, "top1");
  for (const char *bad : {"top0", "top", "tops", "MAP", "top5x"}) {
    auto measure = parseMeasure(bad);
    EXPECT_FALSE(bool(measure)) << bad;
    llvm::consumeError(measure.takeError());
  }
  EXPECT_EQ(*parseSimilarity("l2"), Similarity::L2);
  auto bad = parseSimilarity("euclid");
  ASSERT_FALSE(bool(bad));
  llvm::consumeError(bad.takeError());
}

} // namespace
} // namespace graceful::gates
