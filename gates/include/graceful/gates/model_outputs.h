// Running models over evaluation data for the gates, with the outputs
// cached on disk by (model digest, data digest): re-running a policy does
// not re-run the models.
#pragma once

#include "graceful/support/tensor.h"

#include <llvm/Support/Error.h>
#include <map>
#include <string>

namespace graceful::gates {

struct ModelRef {
  std::string path;   // an ONNX file
  std::string digest; // "sha256:..." of its bytes
  std::string label;  // how messages name it ("m@3")
};

class ModelOutputs {
public:
  // Outputs are cached in `cacheDirectory` and compiled models in
  // `compileCacheDirectory`; an empty directory: nothing of that kind is
  // kept on disk.
  ModelOutputs(std::string cacheDirectory, std::string compileCacheDirectory, bool showProgress);

  // One output (by name; the first when `output` is empty) of a
  // single-input model run over every sample of the float32 array in
  // `inputsPath` (first axis = sample). Errors name the model and the file
  // when shapes do not fit.
  llvm::Expected<Tensor> run(const ModelRef &model, const std::string &inputsPath,
                             const std::string &output = "", int64_t batch = 0);

  // The float32 samples of an .npy file, read once.
  llvm::Expected<const Tensor *> samples(const std::string &inputsPath);

  int64_t modelRuns() const { return modelRuns_; }
  int64_t cacheHits() const { return cacheHits_; }

private:
  llvm::Expected<std::string> dataDigest(const std::string &path);

  std::string cacheDirectory_;
  std::string compileCacheDirectory_;
  bool showProgress_;
  std::map<std::string, Tensor> samples_;
  std::map<std::string, std::string> dataDigests_;
  int64_t modelRuns_ = 0, cacheHits_ = 0;
};

} // namespace graceful::gates
