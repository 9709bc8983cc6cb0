// Running models over evaluation data for the gates, with the outputs
// cached on disk by (model digest, data digest): re-running a policy does
// not re-run the models.
#pragma once

#include "graceful/compiler/Jit.h"
#include "graceful/gates/data_files.h"
#include "graceful/support/tensor.h"

#include <llvm/Support/Error.h>
#include <map>
#include <string>
#include <vector>

namespace graceful::gates {

struct ModelRef {
  std::string path;   // an ONNX file
  std::string digest; // "sha256:..." of its bytes
  std::string label;  // how messages name it ("m@3")
};

// One evaluation-data file per model input: `name` is the input's, or
// empty for a model's only input.
struct InputFile {
  std::string name;
  std::string path;
};
using SampleFiles = std::vector<InputFile>;

// "a.npy", or "ids=a.npy, mask=b.npy": how messages name sample files.
std::string describeFiles(const SampleFiles &files);

class ModelOutputs {
public:
  // Sample files are read through `files`. Outputs are cached in
  // `cacheDirectory` and compiled models in `compileCacheDirectory`; an
  // empty directory: nothing of that kind is kept on disk.
  ModelOutputs(DataFiles &files, std::string cacheDirectory, std::string compileCacheDirectory,
               bool showProgress);

  // One output (by name; the first when `output` is empty) of a model run
  // over every sample of `files`: one array per model input (first axis =
  // sample, the same count in each), of the input's element type. Errors
  // name the model and the file when names, types or shapes do not fit.
  llvm::Expected<Tensor> run(const ModelRef &model, const SampleFiles &files,
                             const std::string &output = "", int64_t batch = 0);
  // The same for a single-input model and one file.
  llvm::Expected<Tensor> run(const ModelRef &model, const std::string &inputsPath,
                             const std::string &output = "", int64_t batch = 0);

  // The samples of an .npy file (finite, when floating point).
  llvm::Expected<const Tensor *> samples(const std::string &inputsPath);

  int64_t modelRuns() const { return modelRuns_; }
  int64_t cacheHits() const { return cacheHits_; }

private:
  // The model's file read once per ModelOutputs, its bytes checked against
  // the digest the registry recorded: every run compiles those bytes.
  llvm::Expected<const compiler::LoadedModel *> load(const ModelRef &model);
  llvm::Expected<std::string> dataDigest(const SampleFiles &files);

  DataFiles &files_;
  std::string cacheDirectory_;
  std::string compileCacheDirectory_;
  bool showProgress_;
  std::map<std::pair<std::string, std::string>, compiler::LoadedModel> models_;
  int64_t modelRuns_ = 0, cacheHits_ = 0;
};

} // namespace graceful::gates
