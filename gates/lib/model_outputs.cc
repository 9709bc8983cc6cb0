#include "graceful/gates/model_outputs.h"

#include "graceful/compiler/Jit.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/progress.h"
#include "graceful/support/seal.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

namespace graceful::gates {
namespace {

constexpr int64_t kDefaultBatch = 64;

std::string digestHex(const std::string &digest) { return digest.substr(digest.find(':') + 1); }

llvm::Expected<size_t> outputIndex(const compiler::ModelSignature &signature, const ModelRef &model,
                                   const std::string &output) {
  if (output.empty())
    return 0;
  std::string names;
  for (size_t i = 0; i < signature.outputs.size(); ++i) {
    if (signature.outputs[i].name == output)
      return i;
    names += (i ? ", " : "") + signature.outputs[i].name;
  }
  return makeError(ErrorKind::BadInput,
                   model.label + " has no output '" + output + "' (outputs: " + names + ")");
}

// The samples must fit the model's input: its element type, its rank and
// every dimension the model fixes, apart from the sample axis.
llvm::Error checkFits(const compiler::TensorSpec &input, const Tensor &samples,
                      const ModelRef &model, const std::string &inputsPath) {
  bool fits = input.dtype == samples.dtype && input.shape.size() == samples.shape.size();
  for (size_t d = 1; fits && d < input.shape.size(); ++d)
    fits = input.shape[d] < 0 || input.shape[d] == samples.shape[d];
  if (fits)
    return llvm::Error::success();
  std::string wanted;
  for (int64_t dim : input.shape)
    wanted += (wanted.empty() ? "" : ",") + (dim < 0 ? std::string("?") : std::to_string(dim));
  return makeError(ErrorKind::BadInput, inputsPath + ": samples are " + samples.describe() +
                                            " but " + model.label + " takes input '" + input.name +
                                            "' of " + dtypeName(input.dtype) + "[" + wanted + "]");
}

std::string inputNames(const compiler::ModelSignature &signature) {
  std::string names;
  for (const compiler::TensorSpec &input : signature.inputs)
    names += (names.empty() ? "" : ", ") + input.name;
  return names;
}

// `files` in the order of the model's inputs: one unnamed file for a
// single-input model, else exactly one file named for each input.
llvm::Expected<std::vector<std::string>>
pathsInInputOrder(const compiler::ModelSignature &signature, const ModelRef &model,
                  const SampleFiles &files) {
  size_t count = signature.inputs.size();
  if (files.size() == 1 && files[0].name.empty()) {
    if (count != 1)
      return makeError(ErrorKind::BadInput,
                       model.label + " has " + std::to_string(count) + " inputs (" +
                           inputNames(signature) +
                           "); give one file per input by name (named_inputs)");
    return std::vector<std::string>{files[0].path};
  }
  for (const InputFile &file : files)
    if (std::none_of(signature.inputs.begin(), signature.inputs.end(),
                     [&](const compiler::TensorSpec &input) { return input.name == file.name; }))
      return makeError(ErrorKind::BadInput, model.label + " has no input '" + file.name +
                                                "' (inputs: " + inputNames(signature) + ")");
  std::vector<std::string> paths;
  for (const compiler::TensorSpec &input : signature.inputs) {
    auto file = std::find_if(files.begin(), files.end(),
                             [&](const InputFile &f) { return f.name == input.name; });
    if (file == files.end())
      return makeError(ErrorKind::BadInput, "no samples for input '" + input.name + "' of " +
                                                model.label + " (given: " + describeFiles(files) +
                                                ")");
    paths.push_back(file->path);
  }
  return paths;
}

llvm::Error checkFinite(const Tensor &output, const ModelRef &model, const std::string &name,
                        const std::string &inputsPath) {
  if (output.dtype != DType::Float32 || output.shape.empty())
    return llvm::Error::success();
  int64_t rows = output.shape[0];
  int64_t width = rows ? output.elementCount() / rows : 0;
  const float *values = output.data<float>();
  for (int64_t i = 0; i < output.elementCount(); ++i)
    if (!std::isfinite(values[i]))
      return makeError(ErrorKind::BadInput, model.label + " output '" + name + "' is " +
                                                (std::isnan(values[i]) ? "NaN" : "infinite") +
                                                " for sample " + std::to_string(i / width) +
                                                " of " + inputsPath);
  return llvm::Error::success();
}

// A cached output: dtype, rank and dims as int64, then the bytes. The seal
// vouches for it; the sizes are checked anyway.
std::string serialize(const Tensor &tensor) {
  std::vector<int64_t> header{static_cast<int64_t>(tensor.dtype),
                              static_cast<int64_t>(tensor.shape.size())};
  header.insert(header.end(), tensor.shape.begin(), tensor.shape.end());
  std::string bytes(reinterpret_cast<const char *>(header.data()), header.size() * 8);
  bytes.append(tensor.bytes.data(), tensor.bytes.size());
  return bytes;
}

std::optional<Tensor> deserialize(std::string_view bytes) {
  auto next = [&](int64_t &value) {
    if (bytes.size() < 8)
      return false;
    std::memcpy(&value, bytes.data(), 8);
    bytes.remove_prefix(8);
    return true;
  };
  int64_t dtype = 0, rank = 0;
  if (!next(dtype) || dtype < 0 || dtype > 64 || !next(rank) || rank < 0 || rank > 16)
    return std::nullopt;
  Tensor tensor;
  tensor.dtype = static_cast<DType>(dtype);
  auto width = static_cast<int64_t>(dtypeSize(tensor.dtype));
  if (width == 0)
    return std::nullopt;
  int64_t count = 1;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t dim = 0;
    if (!next(dim) || dim < 0 || __builtin_mul_overflow(count, dim, &count))
      return std::nullopt;
    tensor.shape.push_back(dim);
  }
  if (__builtin_mul_overflow(count, width, &count) || bytes.size() != static_cast<uint64_t>(count))
    return std::nullopt;
  tensor.bytes.assign(bytes.begin(), bytes.end());
  return tensor;
}

// What a cached output is the output of: the model, the data, the output
// and the compiler that computed it.
std::string outputLabel(const std::string &modelDigest, const std::string &dataDigest,
                        size_t index) {
  return "outputs\n" + modelDigest + "\n" + dataDigest + "\n" + std::to_string(index) + "\n" +
         compiler::compilerIdentity();
}

} // namespace

std::string describeFiles(const SampleFiles &files) {
  std::string text;
  for (const InputFile &file : files)
    text += (text.empty() ? "" : ", ") + (file.name.empty() ? "" : file.name + "=") + file.path;
  return text;
}

ModelOutputs::ModelOutputs(DataFiles &files, std::string cacheDirectory,
                           std::string compileCacheDirectory, bool showProgress)
    : files_(files), cacheDirectory_(std::move(cacheDirectory)),
      compileCacheDirectory_(std::move(compileCacheDirectory)), showProgress_(showProgress) {}

llvm::Expected<const compiler::LoadedModel *> ModelOutputs::load(const ModelRef &model) {
  auto key = std::pair(model.path, model.digest);
  if (auto it = models_.find(key); it != models_.end())
    return &it->second;
  auto loaded = compiler::loadModel(model.path, model.digest);
  if (!loaded)
    return loaded.takeError();
  return &(models_[key] = std::move(*loaded));
}

// One file: its digest, as before inputs had names. Several: the digest
// of their names and digests, so renaming or swapping files changes it.
llvm::Expected<std::string> ModelOutputs::dataDigest(const SampleFiles &files) {
  if (files.size() == 1 && files[0].name.empty())
    return files_.digest(files[0].path);
  std::string named;
  for (const InputFile &file : files) {
    auto digest = files_.digest(file.path);
    if (!digest)
      return digest.takeError();
    named += file.name + "\t" + *digest + "\n";
  }
  return sha256Digest(named);
}

llvm::Expected<const Tensor *> ModelOutputs::samples(const std::string &inputsPath) {
  auto read = files_.npy(inputsPath);
  if (!read)
    return read.takeError();
  const Tensor *tensor = *read;
  if (tensor->shape.empty() || tensor->shape[0] == 0)
    return makeError(ErrorKind::BadInput, inputsPath + ": no samples (" + tensor->describe() + ")");
  int64_t width = tensor->elementCount() / tensor->shape[0];
  for (int64_t i = 0; tensor->dtype == DType::Float32 && i < tensor->elementCount(); ++i)
    if (!std::isfinite(tensor->data<float>()[i]))
      return makeError(ErrorKind::BadInput,
                       inputsPath + ": sample " + std::to_string(i / width) + " holds " +
                           (std::isnan(tensor->data<float>()[i]) ? "NaN" : "infinity"));
  return tensor;
}

llvm::Expected<Tensor> ModelOutputs::run(const ModelRef &model, const std::string &inputsPath,
                                         const std::string &output, int64_t batch) {
  return run(model, SampleFiles{{"", inputsPath}}, output, batch);
}

llvm::Expected<Tensor> ModelOutputs::run(const ModelRef &model, const SampleFiles &files,
                                         const std::string &output, int64_t batch) {
  auto loaded = load(model);
  if (!loaded)
    return loaded.takeError();
  const compiler::ModelSignature *signature = &(*loaded)->signature;
  auto paths = pathsInInputOrder(*signature, model, files);
  if (!paths)
    return paths.takeError();
  auto index = outputIndex(*signature, model, output);
  if (!index)
    return index.takeError();
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < paths->size(); ++i) {
    auto data = samples((*paths)[i]);
    if (!data)
      return data.takeError();
    if (llvm::Error error = checkFits(signature->inputs[i], **data, model, (*paths)[i]))
      return error;
    if (i > 0 && (*data)->shape[0] != inputs.front().shape[0])
      return makeError(ErrorKind::BadInput, (*paths)[i] + " holds " +
                                                std::to_string((*data)->shape[0]) +
                                                " samples but " + (*paths)[0] + " holds " +
                                                std::to_string(inputs.front().shape[0]));
    inputs.push_back(**data);
  }
  const compiler::TensorSpec &input = signature->inputs.front();
  auto digest = dataDigest(files);
  if (!digest)
    return digest.takeError();
  // Cached outputs are sealed (support/seal.h) for what computed them, so
  // an entry copied from another model or edited is never used.
  std::string cachePath, label = outputLabel(model.digest, *digest, *index);
  std::optional<Sealer> sealer;
  if (!cacheDirectory_.empty() && !compiler::compilerIdentity().empty()) {
    auto userSealer = Sealer::forUser();
    if (userSealer)
      sealer.emplace(std::move(*userSealer));
    else
      llvm::consumeError(userSealer.takeError()); // no key: no cache
  }
  if (sealer) {
    cachePath = cacheDirectory_ + "/" + digestHex(sha256Digest(label)) + ".outputs";
    if (auto bytes = readFile(cachePath)) {
      std::optional<std::string_view> payload = sealer->open(label, *bytes);
      if (std::optional<Tensor> cached = payload ? deserialize(*payload) : std::nullopt) {
        ++cacheHits_;
        return std::move(*cached);
      }
    } else {
      llvm::consumeError(bytes.takeError()); // absent or unreadable: recompute and replace
    }
  }

  // A model with a fixed sample axis runs in batches of that size.
  int64_t size = input.shape[0] > 0 ? input.shape[0] : (batch > 0 ? batch : kDefaultBatch);
  int64_t total = inputs.front().shape[0];
  if (input.shape[0] > 0 && total % size != 0)
    return makeError(ErrorKind::BadInput,
                     model.label + " takes batches of exactly " + std::to_string(size) +
                         " samples; " + describeFiles(files) + " has " + std::to_string(total));
  std::optional<ProgressBar> bar;
  if (showProgress_)
    bar.emplace("run " + model.label + " on " +
                    std::filesystem::path(paths->front()).filename().string(),
                total);
  auto outputs = compiler::runBatched(
      **loaded, inputs, size,
      [&](int64_t done, int64_t) {
        if (bar)
          bar->update(done);
      },
      compiler::CompileOptions::withCacheDirectory(compileCacheDirectory_));
  if (!outputs)
    return outputs.takeError();
  ++modelRuns_;
  Tensor result = std::move((*outputs)[*index]);
  if (llvm::Error error =
          checkFinite(result, model, signature->outputs[*index].name, describeFiles(files)))
    return error;
  if (!cachePath.empty()) {
    if (llvm::Error error = createDirectories(cacheDirectory_))
      return error;
    if (llvm::Error error = writeFileAtomically(cachePath, sealer->seal(label, serialize(result))))
      return error;
  }
  return result;
}

} // namespace graceful::gates
