#include "graceful/gates/projection.h"

#include "graceful/support/error.h"

#include <cmath>
#include <limits>

extern "C" void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda,
                       double *b, const int *ldb, int *info);

namespace graceful::gates {
namespace {

// Row-major double matrix.
struct Matrix {
  int64_t rows = 0, columns = 0;
  std::vector<double> values;
  double &at(int64_t r, int64_t c) { return values[static_cast<size_t>(r * columns + c)]; }
  double at(int64_t r, int64_t c) const { return values[static_cast<size_t>(r * columns + c)]; }
};

Matrix rowsOf(const Tensor &tensor, bool heldOut, bool all) {
  Matrix matrix;
  matrix.columns = tensor.shape[1];
  for (int64_t r = 0; r < tensor.shape[0]; ++r) {
    if (!all && (r % 5 == 0) != heldOut)
      continue;
    const float *row = tensor.data<float>() + r * matrix.columns;
    matrix.values.insert(matrix.values.end(), row, row + matrix.columns);
    ++matrix.rows;
  }
  return matrix;
}

std::vector<double> columnMeans(const Matrix &matrix) {
  std::vector<double> means(static_cast<size_t>(matrix.columns), 0.0);
  for (int64_t r = 0; r < matrix.rows; ++r)
    for (int64_t c = 0; c < matrix.columns; ++c)
      means[static_cast<size_t>(c)] += matrix.at(r, c) / static_cast<double>(matrix.rows);
  return means;
}

struct Fit {
  Matrix weights; // [d_new, d_old]
  std::vector<double> bias;
};

// Ridge with an unpenalized intercept: centre both sides, solve
// (X'X + lambda I) W = X'Y by Cholesky (LAPACK dposv).
llvm::Expected<Fit> ridge(const Matrix &x, const Matrix &y, double lambda) {
  std::vector<double> mx = columnMeans(x), my = columnMeans(y);
  int n = static_cast<int>(x.columns), targets = static_cast<int>(y.columns);
  std::vector<double> gram(static_cast<size_t>(n) * n, 0.0),
      cross(static_cast<size_t>(n) * targets, 0.0);
  for (int64_t r = 0; r < x.rows; ++r)
    for (int i = 0; i < n; ++i) {
      double xi = x.at(r, i) - mx[i];
      for (int j = 0; j < n; ++j)
        gram[static_cast<size_t>(i) * n + j] += xi * (x.at(r, j) - mx[j]);
      // Column-major right-hand side for LAPACK: cross[t * n + i].
      for (int t = 0; t < targets; ++t)
        cross[static_cast<size_t>(t) * n + i] += xi * (y.at(r, t) - my[t]);
    }
  for (int i = 0; i < n; ++i)
    gram[static_cast<size_t>(i) * n + i] += lambda;
  int info = 0;
  dposv_("L", &n, &targets, gram.data(), &n, cross.data(), &n, &info);
  if (info != 0)
    return makeError(ErrorKind::BadInput,
                     "the embeddings are degenerate (the normal equations are not positive "
                     "definite; LAPACK dposv info " +
                         std::to_string(info) + ")");
  Fit fit{Matrix{n, targets, std::vector<double>(static_cast<size_t>(n) * targets)},
          std::vector<double>(static_cast<size_t>(targets))};
  for (int i = 0; i < n; ++i)
    for (int t = 0; t < targets; ++t)
      fit.weights.at(i, t) = cross[static_cast<size_t>(t) * n + i];
  for (int t = 0; t < targets; ++t) {
    fit.bias[t] = my[t];
    for (int i = 0; i < n; ++i)
      fit.bias[t] -= mx[i] * fit.weights.at(i, t);
  }
  return fit;
}

// Squared error of the fit on (x, y), and the squared deviation of y from
// its mean, summed over rows and targets.
std::pair<double, double> errorOf(const Fit &fit, const Matrix &x, const Matrix &y) {
  std::vector<double> my = columnMeans(y);
  double error = 0, variance = 0;
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t t = 0; t < y.columns; ++t) {
      double predicted = fit.bias[static_cast<size_t>(t)];
      for (int64_t i = 0; i < x.columns; ++i)
        predicted += x.at(r, i) * fit.weights.at(i, t);
      error += (predicted - y.at(r, t)) * (predicted - y.at(r, t));
      variance +=
          (y.at(r, t) - my[static_cast<size_t>(t)]) * (y.at(r, t) - my[static_cast<size_t>(t)]);
    }
  return {error, variance};
}

llvm::Error checkPair(const Tensor &newEmbeddings, const Tensor &oldEmbeddings) {
  for (const Tensor *tensor : {&newEmbeddings, &oldEmbeddings})
    if (tensor->dtype != DType::Float32 || tensor->shape.size() != 2)
      return makeError(ErrorKind::BadInput,
                       "embeddings must be float32 [rows, dim], got " + tensor->describe());
  if (newEmbeddings.shape[0] != oldEmbeddings.shape[0])
    return makeError(ErrorKind::BadInput, "the two models gave " +
                                              std::to_string(newEmbeddings.shape[0]) + " and " +
                                              std::to_string(oldEmbeddings.shape[0]) + " rows");
  if (newEmbeddings.shape[0] < 10)
    return makeError(ErrorKind::BadInput,
                     "a linear map needs at least 10 calibration samples, got " +
                         std::to_string(newEmbeddings.shape[0]));
  return llvm::Error::success();
}

} // namespace

llvm::Expected<LinearMap> fitLinearMap(const Tensor &newEmbeddings, const Tensor &oldEmbeddings) {
  if (llvm::Error error = checkPair(newEmbeddings, oldEmbeddings))
    return error;
  Matrix trainX = rowsOf(newEmbeddings, false, false), trainY = rowsOf(oldEmbeddings, false, false);
  Matrix testX = rowsOf(newEmbeddings, true, false), testY = rowsOf(oldEmbeddings, true, false);
  // The grid scales with the mean squared feature, so it fits any units.
  double scale = 0;
  for (double value : trainX.values)
    scale += value * value;
  scale = std::max(scale / static_cast<double>(trainX.columns), 1e-12);
  double bestLambda = 0, bestError = std::numeric_limits<double>::infinity(), bestVariance = 1;
  for (int exponent = -8; exponent <= 1; ++exponent) {
    double lambda = scale * std::pow(10.0, exponent);
    auto fit = ridge(trainX, trainY, lambda);
    if (!fit)
      return fit.takeError();
    auto [error, variance] = errorOf(*fit, testX, testY);
    if (error < bestError) {
      bestError = error;
      bestVariance = variance;
      bestLambda = lambda;
    }
  }
  auto fit =
      ridge(rowsOf(newEmbeddings, false, true), rowsOf(oldEmbeddings, false, true), bestLambda);
  if (!fit)
    return fit.takeError();
  LinearMap map;
  map.weights = makeTensor(DType::Float32, {fit->weights.rows, fit->weights.columns});
  for (size_t i = 0; i < fit->weights.values.size(); ++i)
    map.weights.data<float>()[i] = static_cast<float>(fit->weights.values[i]);
  map.bias = makeTensor(DType::Float32, {static_cast<int64_t>(fit->bias.size())});
  for (size_t t = 0; t < fit->bias.size(); ++t)
    map.bias.data<float>()[t] = static_cast<float>(fit->bias[t]);
  map.lambda = bestLambda;
  map.heldOutR2 = bestVariance > 0 ? 1.0 - bestError / bestVariance : 0.0;
  map.fitRows = newEmbeddings.shape[0];
  map.heldOutRows = testX.rows;
  return map;
}

} // namespace graceful::gates
