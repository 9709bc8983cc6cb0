// Hand-worked cases for the NFR statistics; the reference values of the
// beta quantiles come from closed forms or SciPy (scipy.stats.beta.ppf).
#include "graceful/gates/statistics.h"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>

namespace graceful::gates {
namespace {

TEST(Statistics, CountsFlipsByHand) {
  // i0 both right; i1 negative flip 1->2; i2 positive flip; i3 negative
  // flip 0->1; i4 both wrong with the same prediction.
  FlipCounts counts = countFlips({0, 1, 2, 0, 1}, {0, 1, 0, 0, 2}, {0, 2, 2, 1, 2});
  EXPECT_EQ(counts.n, 5);
  EXPECT_EQ(counts.negativeFlips, 2);
  EXPECT_EQ(counts.positiveFlips, 1);
  EXPECT_EQ(counts.wrongOld, 2);
  EXPECT_EQ(counts.wrongNew, 3);
  EXPECT_EQ(counts.flippedSamples, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ((counts.flipMatrix.at({1, 2})), 1);
  EXPECT_EQ((counts.flipMatrix.at({0, 1})), 1);
  EXPECT_EQ(counts.negativeFlipsPerClass.at(1), 1);
  EXPECT_EQ(counts.samplesPerClass.at(0), 2);
  FlipRates rates = ratesOf(counts);
  EXPECT_DOUBLE_EQ(rates.errorRateOld, 0.4);
  EXPECT_DOUBLE_EQ(rates.errorRateNew, 0.6);
  EXPECT_DOUBLE_EQ(rates.nfr, 0.4);
  EXPECT_DOUBLE_EQ(rates.pfr, 0.2);
  EXPECT_DOUBLE_EQ(rates.relativeNfr, 0.4 / (0.6 * 0.6));
  EXPECT_DOUBLE_EQ(rates.btc, 1.0 / 3.0); // 3 old-right, 1 kept
  EXPECT_DOUBLE_EQ(rates.bec, 1.0 / 3.0); // 3 new-wrong, 1 also old-wrong
}

TEST(Statistics, MergedShardsEqualTheWhole) {
  std::vector<int64_t> labels{0, 1, 2, 0, 1, 2}, old{0, 1, 0, 0, 2, 2}, fresh{0, 2, 2, 1, 2, 1};
  FlipCounts whole = countFlips(labels, old, fresh);
  FlipCounts merged = countFlips({0, 1, 2}, {0, 1, 0}, {0, 2, 2});
  merged.merge(countFlips({0, 1, 2}, {0, 2, 2}, {1, 2, 1}), 3);
  EXPECT_EQ(merged.negativeFlips, whole.negativeFlips);
  EXPECT_EQ(merged.positiveFlips, whole.positiveFlips);
  EXPECT_EQ(merged.flippedSamples, whole.flippedSamples);
  EXPECT_EQ(merged.flipMatrix, whole.flipMatrix);
}

TEST(Statistics, HugeClassIdsCountLikeSmallOnes) {
  // The same flips with ids spread to the ends of int64: the tables are
  // sparse then, and no id may overflow a count.
  constexpr int64_t kTop = std::numeric_limits<int64_t>::max();
  auto spread = [&](std::vector<int64_t> ids) {
    for (int64_t &id : ids)
      id = id == 2 ? kTop : id * (kTop / 3);
    return ids;
  };
  std::vector<int64_t> labels{0, 1, 2, 0, 1, 2}, old{0, 1, 2, 0, 2, 2}, fresh{0, 2, 0, 1, 2, 1};
  FlipCounts small = countFlips(labels, old, fresh);
  FlipCounts huge = countFlips(spread(labels), spread(old), spread(fresh));
  EXPECT_EQ(huge.negativeFlips, 4); // samples 1, 2, 3 and 5
  EXPECT_EQ(huge.negativeFlips, small.negativeFlips);
  EXPECT_EQ(huge.positiveFlips, small.positiveFlips);
  EXPECT_EQ(huge.flippedSamples, small.flippedSamples);
  EXPECT_EQ(huge.flipMatrix.size(), small.flipMatrix.size());
  EXPECT_EQ((huge.flipMatrix.at({kTop, 0})), (small.flipMatrix.at({2, 0})));
  EXPECT_EQ(huge.samplesPerClass.at(kTop), 2);
  EXPECT_EQ(huge.negativeFlipsPerClass.at(kTop / 3), 1);
}

TEST(Statistics, NegativeClassIdsAreRefusedNamingTheSample) {
  Tensor ids = makeTensor(DType::Int32, {4});
  int32_t values[] = {3, 0, -7, 1};
  std::copy(values, values + 4, ids.data<int32_t>());
  auto predictions = predictionsOf(ids, "old.npy");
  ASSERT_FALSE(bool(predictions));
  EXPECT_EQ(llvm::toString(predictions.takeError()), "old.npy: class -7 of sample 2 is negative");
  ids.data<int32_t>()[2] = 7;
  predictions = predictionsOf(ids, "old.npy");
  ASSERT_TRUE(bool(predictions));
  EXPECT_EQ(*predictions, (std::vector<int64_t>{3, 0, 7, 1}));
}

TEST(Statistics, ClopperPearsonUpperBound) {
  // No successes: the bound solves (1 - p)^n = 1 - confidence.
  EXPECT_NEAR(clopperPearsonUpper(0, 10, 0.95), 1 - std::pow(0.05, 0.1), 1e-12);
  EXPECT_NEAR(clopperPearsonUpper(2, 20, 0.95), 0.28261852488586087, 1e-10);
  EXPECT_NEAR(clopperPearsonUpper(5, 1000, 0.99), 0.013055421233690192, 1e-10);
  EXPECT_EQ(clopperPearsonUpper(7, 7, 0.95), 1.0);
  EXPECT_GT(clopperPearsonUpper(5, 1000, 0.99), clopperPearsonUpper(5, 1000, 0.95));
}

TEST(Statistics, McNemarExactByHand) {
  EXPECT_DOUBLE_EQ(mcnemarExactP(0, 5), 2.0 / 32.0);
  EXPECT_DOUBLE_EQ(mcnemarExactP(2, 8), 2.0 * 56.0 / 1024.0); // C(10,0)+C(10,1)+C(10,2) = 56
  EXPECT_DOUBLE_EQ(mcnemarExactP(8, 2), mcnemarExactP(2, 8));
  EXPECT_DOUBLE_EQ(mcnemarExactP(3, 3), 1.0);
  EXPECT_DOUBLE_EQ(mcnemarExactP(0, 0), 1.0);
}

TEST(Statistics, ArgmaxTiesGoToTheLowestIndex) {
  Tensor logits = makeTensor(DType::Float32, {2, 3});
  float values[] = {1, 1, 0, -2, 3, 3};
  std::copy(values, values + 6, logits.data<float>());
  auto predictions = predictionsOf(logits, "test");
  ASSERT_TRUE(bool(predictions));
  EXPECT_EQ(*predictions, (std::vector<int64_t>{0, 1}));
}

TEST(Statistics, RejectsOutputsThatAreNotLogitsOrLabels) {
  auto predictions = predictionsOf(makeTensor(DType::Float32, {2, 3, 4}), "out.npy");
  ASSERT_FALSE(bool(predictions));
  EXPECT_NE(llvm::toString(predictions.takeError()).find("out.npy"), std::string::npos);
}

} // namespace
} // namespace graceful::gates
