// Exact nearest-neighbour search side by side in one run: graceful's
// blocked BLAS search (the compatibility gate's) and FAISS's exact flat
// inner-product index, on the same clustered data, both finding each
// query's top 10 by cosine similarity, and graceful again with mean
// average precision. Prints a table and the ratios, and
// checks that both find the same top-1 accuracy.
//   retrieval_bench [QUERIES] [GALLERY] [DIM]
#include "graceful/gates/retrieval.h"
#include "graceful/support/error.h"

#include <chrono>
#include <cmath>
#include <faiss/IndexFlat.h>
#include <iomanip>
#include <iostream>
#include <random>

using namespace graceful;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kClasses = 100;
constexpr int kDepth = 10;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Unit vectors scattered around one centre per class.
Tensor clustered(int64_t rows, int64_t dim, std::vector<int64_t> &labels,
                 const std::vector<float> &centres, std::mt19937 &random) {
  std::normal_distribution<float> noise(0.0f, 0.6f);
  Tensor tensor = makeTensor(DType::Float32, {rows, dim});
  labels.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int64_t label = r % kClasses;
    labels[static_cast<size_t>(r)] = label;
    float *row = tensor.data<float>() + r * dim;
    double norm = 0;
    for (int64_t d = 0; d < dim; ++d) {
      row[d] = centres[static_cast<size_t>(label * dim + d)] + noise(random);
      norm += static_cast<double>(row[d]) * row[d];
    }
    for (int64_t d = 0; d < dim; ++d)
      row[d] = static_cast<float>(row[d] / std::sqrt(norm));
  }
  return tensor;
}

double faissTop1(const Tensor &queries, const std::vector<int64_t> &queryLabels,
                 const Tensor &gallery, const std::vector<int64_t> &galleryLabels,
                 double &seconds) {
  int64_t dim = gallery.shape[1];
  auto start = Clock::now();
  faiss::IndexFlatIP index(dim);
  index.add(gallery.shape[0], gallery.data<float>());
  std::vector<float> distances(static_cast<size_t>(queries.shape[0] * kDepth));
  std::vector<faiss::Index::idx_t> ids(distances.size());
  index.search(queries.shape[0], queries.data<float>(), kDepth, distances.data(), ids.data());
  seconds = secondsSince(start);
  int64_t hits = 0;
  for (int64_t q = 0; q < queries.shape[0]; ++q)
    hits += galleryLabels[static_cast<size_t>(ids[static_cast<size_t>(q * kDepth)])] ==
            queryLabels[static_cast<size_t>(q)];
  return static_cast<double>(hits) / static_cast<double>(queries.shape[0]);
}

struct TimedSearch {
  gates::RetrievalResult result;
  double seconds = 0;
};

llvm::Expected<TimedSearch> timedSearch(const Tensor &queries,
                                        const std::vector<int64_t> &queryLabels,
                                        const Tensor &gallery,
                                        const std::vector<int64_t> &galleryLabels, bool withMap) {
  auto start = Clock::now();
  auto result =
      gates::evaluateRetrieval(queries, queryLabels, gallery, galleryLabels,
                               gates::RetrievalOptions{gates::Similarity::Cosine, kDepth, withMap});
  if (!result)
    return result.takeError();
  return TimedSearch{std::move(*result), secondsSince(start)};
}

} // namespace

int main(int argc, char **argv) {
  int64_t queryRows = argc > 1 ? std::stoll(argv[1]) : 10000;
  int64_t galleryRows = argc > 2 ? std::stoll(argv[2]) : 100000;
  int64_t dim = argc > 3 ? std::stoll(argv[3]) : 128;
  std::mt19937 random(7);
  std::normal_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> centres(static_cast<size_t>(kClasses * dim));
  for (float &value : centres)
    value = unit(random) / std::sqrt(static_cast<float>(dim)) * 3.0f;
  std::vector<int64_t> queryLabels, galleryLabels;
  Tensor gallery = clustered(galleryRows, dim, galleryLabels, centres, random);
  Tensor queries = clustered(queryRows, dim, queryLabels, centres, random);

  auto fail = [](llvm::Error error) {
    std::cerr << describeError(std::move(error)).message << "\n";
    return 2;
  };
  auto ours = timedSearch(queries, queryLabels, gallery, galleryLabels, false);
  if (!ours)
    return fail(ours.takeError());
  // The same search with mean average precision: every relevant item's
  // rank, not only the first.
  auto withMap = timedSearch(queries, queryLabels, gallery, galleryLabels, true);
  if (!withMap)
    return fail(withMap.takeError());
  double oursSeconds = ours->seconds, mapSeconds = withMap->seconds;
  double faissSeconds = 0;
  double faissAccuracy = faissTop1(queries, queryLabels, gallery, galleryLabels, faissSeconds);
  std::cout << std::fixed << std::setprecision(3) << queryRows << " queries x " << galleryRows
            << " gallery x " << dim << " dims, top-" << kDepth << " by cosine\n"
            << "  graceful (blocked sgemm + scan)  " << oursSeconds << " s   top-1 "
            << std::setprecision(4) << ours->result.cmc[0] << "\n"
            << std::setprecision(3) << "  faiss IndexFlatIP                " << faissSeconds
            << " s   top-1 " << std::setprecision(4) << faissAccuracy << "\n"
            << std::setprecision(2) << "  ratio graceful / faiss           "
            << oursSeconds / faissSeconds << "x\n"
            << std::setprecision(3) << "  graceful with mAP                " << mapSeconds
            << " s   mAP " << std::setprecision(4) << withMap->result.meanAveragePrecision << "\n"
            << std::setprecision(2) << "  ratio mAP / top-k                "
            << mapSeconds / oursSeconds << "x\n";
  // Ties aside, exact search finds the same nearest neighbours.
  return std::abs(ours->result.cmc[0] - faissAccuracy) < 1e-3 ? 0 : 1;
}
