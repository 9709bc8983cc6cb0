// Compiles a model for [BATCH, ...] and times runs through graceful's JIT.
// Prints one JSON line: {"ms_per_batch": (median over the runs), "compile_ms": ...,
// "cached_compile_ms": ...} (the second compile loads from a scratch cache).
//   model_bench MODEL.onnx BATCH ITERATIONS
#include "graceful/compiler/Blas.h"
#include "graceful/compiler/Jit.h"
#include "graceful/support/error.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>

using namespace graceful;
using Clock = std::chrono::steady_clock;

static double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int main(int argc, char **argv) {
  selectBlasKernels(argv);
  if (argc != 4) {
    std::cerr << "usage: model_bench MODEL.onnx BATCH ITERATIONS\n";
    return 2;
  }
  std::string path = argv[1];
  int64_t batch = std::stoll(argv[2]);
  int iterations = std::stoi(argv[3]);
  if (batch < 1 || iterations < 1) {
    std::cerr << "model_bench: BATCH and ITERATIONS must be at least 1\n";
    return 2;
  }
  auto signature = compiler::readSignature(path);
  if (!signature) {
    std::cerr << describeError(signature.takeError()).message << "\n";
    return 2;
  }
  std::vector<Tensor> inputs;
  std::vector<std::vector<int64_t>> shapes;
  std::mt19937 random(0);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (const compiler::TensorSpec &spec : signature->inputs) {
    std::vector<int64_t> shape = spec.shape;
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 0)
        shape[d] = d == 0 ? batch : 1;
    Tensor tensor = makeTensor(spec.dtype, shape);
    for (int64_t i = 0; i < tensor.elementCount(); ++i)
      tensor.data<float>()[i] = uniform(random);
    shapes.push_back(shape);
    inputs.push_back(std::move(tensor));
  }
  // Compile time from scratch, then the time to load that code back from
  // a compile cache in a scratch directory.
  char cacheTemplate[] = "/tmp/graceful-bench-cache.XXXXXX";
  if (!mkdtemp(cacheTemplate)) {
    std::cerr << "cannot create a scratch compile cache in /tmp\n";
    return 2;
  }
  std::string cache = cacheTemplate;
  auto start = Clock::now();
  auto fresh = compiler::CompiledModel::compile(
      path, shapes, compiler::CompileOptions::withCacheDirectory(cache));
  double compileMs = millisecondsSince(start);
  start = Clock::now();
  auto cached = fresh ? compiler::CompiledModel::compile(
                            path, shapes, compiler::CompileOptions::withCacheDirectory(cache))
                      : std::move(fresh);
  double cachedMs = millisecondsSince(start);
  std::filesystem::remove_all(cache);
  if (!cached || !(*cached)->loadedFromCache()) {
    std::cerr << (cached ? "the second compile did not come from the cache"
                         : describeError(cached.takeError()).message)
              << "\n";
    return 2;
  }
  auto &model = cached; // the code every run after the first executes
  if (auto warm = (*model)->run(inputs); !warm) {
    std::cerr << describeError(warm.takeError()).message << "\n";
    return 2;
  }
  // The median run: on a shared machine a neighbour's burst slows some runs
  // several-fold, and the median ignores them where the mean would not.
  std::vector<double> runMs;
  for (int i = 0; i < iterations; ++i) {
    start = Clock::now();
    if (auto outputs = (*model)->run(inputs); !outputs) {
      std::cerr << describeError(outputs.takeError()).message << "\n";
      return 2;
    }
    runMs.push_back(millisecondsSince(start));
  }
  std::nth_element(runMs.begin(), runMs.begin() + iterations / 2, runMs.end());
  std::cout << "{\"ms_per_batch\":" << runMs[iterations / 2] << ",\"compile_ms\":" << compileMs
            << ",\"cached_compile_ms\":" << cachedMs << "}\n";
  return 0;
}
