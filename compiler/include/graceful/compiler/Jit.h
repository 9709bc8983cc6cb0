// Compile an ONNX model for the shapes being run and execute it: lowering
// to linalg, bufferization, LLVM, and MLIR's ExecutionEngine.
#pragma once

// Model.h declares onnx::ModelProto and what a loaded model holds.
#include "graceful/compiler/Model.h"
#include "graceful/support/digest.h"

#include <functional>
#include <map>

namespace graceful::compiler {

// Fixes the graph inputs to `inputShapes` (one per input, in graph order;
// dimensions the model fixes must agree) and drops derived shapes, so
// shape inference at import makes the whole graph static.
llvm::Error specializeInputShapes(onnx::ModelProto &model,
                                  const std::vector<std::vector<int64_t>> &inputShapes,
                                  const std::string &source);

// Where compiled code is kept between runs: $GRACEFUL_CACHE/compiled when
// GRACEFUL_CACHE is set ("off": nowhere), else
// ${XDG_CACHE_HOME:-$HOME/.cache}/graceful/compiled; empty for none.
std::string defaultCompileCacheDirectory();

// What identifies the code this compiler generates: its build ID and the
// host CPU. Anything cached from a model's outputs is only valid for the
// same compiler: a fixed lowering changes the outputs.
std::string compilerIdentity();

struct CompileOptions {
  // Compiled code is stored here keyed by (model digest, input shapes and
  // dtypes, compiler build, host CPU) and reused; empty: compile every time.
  std::string cacheDirectory = defaultCompileCacheDirectory();
  // Least recently used entries go once the directory holds more.
  uint64_t cacheLimitBytes = uint64_t{2} << 30;
  // Graph inputs (by name) whose values are built into the code, for
  // operands that shape the graph (Reshape's shape, Unsqueeze's axes, a
  // Slice's starts) fed by inputs rather than initializers. run() still
  // takes them and refuses other values.
  std::map<std::string, Tensor> fixedInputs;

  // The defaults with another cache directory ("": no cache).
  static CompileOptions withCacheDirectory(std::string directory) {
    CompileOptions options;
    options.cacheDirectory = std::move(directory);
    return options;
  }

  // Int64 inputs of at most this many elements are taken as shape-like.
  static constexpr int64_t kShapeInputElements = 16;
  // Adds to fixedInputs each shape-like input among `inputs` (given in the
  // order of `signature`'s inputs): int64, 1 to kShapeInputElements
  // elements. Returns how many it fixed.
  size_t fixShapeInputs(const ModelSignature &signature, const std::vector<Tensor> &inputs);
};

class CompiledModel {
public:
  // Compiles `onnxPath` with its open dimensions set to `inputShapes` (one
  // per graph input), or loads the code an earlier compile left in the
  // cache. Errors name the file and, for a node, its name, op type and what
  // is unsupported.
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  compile(const std::string &onnxPath, const std::vector<std::vector<int64_t>> &inputShapes,
          const CompileOptions &options = {});
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  compile(const LoadedModel &model, const std::vector<std::vector<int64_t>> &inputShapes,
          const CompileOptions &options = {});
  // The same for a model in memory (named `sourceName` in errors); the
  // cache keys it by `digest` (its file's), else by the digest of its
  // serialized bytes.
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  compileModel(onnx::ModelProto model, const std::string &sourceName,
               const std::vector<std::vector<int64_t>> &inputShapes,
               const CompileOptions &options = {}, const std::string &digest = "");
  ~CompiledModel();

  const std::vector<TensorSpec> &inputs() const;
  const std::vector<TensorSpec> &outputs() const;
  // True when the code came from the compile cache rather than the compiler.
  bool loadedFromCache() const;

  // Runs once; inputs must match the compiled shapes and types exactly.
  llvm::Expected<std::vector<Tensor>> run(const std::vector<Tensor> &inputs);

  struct State; // the linked code; opaque outside the JIT

private:
  explicit CompiledModel(std::unique_ptr<State> state);
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  compileLoaded(onnx::ModelProto model, const std::string &sourceName,
                const std::vector<std::vector<int64_t>> &inputShapes, const CompileOptions &options,
                const std::string &digest);
  std::unique_ptr<State> state_;
};

// Runs a model once on `inputs` (one per graph input, in order). A model
// with a value whose shape depends on what it computes (NonZero, Compress,
// Unique, NonMaxSuppression, or a Reshape, Range or Expand whose operand
// comes from data) runs in stages: the part computing such a node's
// inputs runs first; the node's outputs (computed on the host) or its
// small inputs then become constants of the rest. Stages are compiled for
// these inputs alone and never cached. Errors name a node that cannot be
// resolved so.
llvm::Expected<std::vector<Tensor>> runModel(const LoadedModel &model,
                                             const std::vector<Tensor> &inputs,
                                             const CompileOptions &options = {});
llvm::Expected<std::vector<Tensor>> runModel(const std::string &onnxPath,
                                             const std::vector<Tensor> &inputs,
                                             const CompileOptions &options = {});

// Runs a model over inputs whose first axis is the sample axis, in batches
// of `batchSize` (the last batch may be smaller and is compiled for its own
// size), concatenating outputs along the first axis. `progress` is told how
// many samples are done after each batch.
llvm::Expected<std::vector<Tensor>>
runBatched(const LoadedModel &model, const std::vector<Tensor> &inputs, int64_t batchSize,
           const std::function<void(int64_t done, int64_t total)> &progress = {},
           const CompileOptions &options = {});
llvm::Expected<std::vector<Tensor>>
runBatched(const std::string &onnxPath, const std::vector<Tensor> &inputs, int64_t batchSize,
           const std::function<void(int64_t done, int64_t total)> &progress = {},
           const CompileOptions &options = {});

} // namespace graceful::compiler
