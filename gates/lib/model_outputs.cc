#include "graceful/gates/model_outputs.h"

#include "graceful/compiler/Jit.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/progress.h"
#include "graceful/support/seal.h"

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

// The samples must fit the model's input: same rank and every dimension the
// model fixes, apart from the sample axis.
llvm::Error checkFits(const compiler::TensorSpec &input, const Tensor &samples,
                      const ModelRef &model, const std::string &inputsPath) {
  bool fits = input.shape.size() == samples.shape.size();
  for (size_t d = 1; fits && d < input.shape.size(); ++d)
    fits = input.shape[d] < 0 || input.shape[d] == samples.shape[d];
  if (fits)
    return llvm::Error::success();
  std::string wanted;
  for (int64_t dim : input.shape)
    wanted += (wanted.empty() ? "" : ",") + (dim < 0 ? std::string("?") : std::to_string(dim));
  return makeError(ErrorKind::BadInput, inputsPath + ": samples are " + samples.describe() +
                                            " but " + model.label + " takes input '" + input.name +
                                            "' of shape [" + wanted + "]");
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

ModelOutputs::ModelOutputs(std::string cacheDirectory, std::string compileCacheDirectory,
                           bool showProgress)
    : cacheDirectory_(std::move(cacheDirectory)),
      compileCacheDirectory_(std::move(compileCacheDirectory)), showProgress_(showProgress) {}

llvm::Expected<std::string> ModelOutputs::dataDigest(const std::string &path) {
  if (auto it = dataDigests_.find(path); it != dataDigests_.end())
    return it->second;
  auto digest = sha256File(path);
  if (!digest)
    return digest.takeError();
  return dataDigests_[path] = digest->digest;
}

llvm::Expected<const Tensor *> ModelOutputs::samples(const std::string &inputsPath) {
  if (auto it = samples_.find(inputsPath); it != samples_.end())
    return &it->second;
  auto tensor = readNpy(inputsPath);
  if (!tensor)
    return tensor.takeError();
  if (tensor->dtype != DType::Float32)
    return makeError(ErrorKind::BadInput,
                     inputsPath + ": samples must be float32, got " + tensor->describe());
  if (tensor->shape.empty() || tensor->shape[0] == 0)
    return makeError(ErrorKind::BadInput, inputsPath + ": no samples (" + tensor->describe() + ")");
  int64_t width = tensor->elementCount() / tensor->shape[0];
  for (int64_t i = 0; i < tensor->elementCount(); ++i)
    if (!std::isfinite(tensor->data<float>()[i]))
      return makeError(ErrorKind::BadInput,
                       inputsPath + ": sample " + std::to_string(i / width) + " holds " +
                           (std::isnan(tensor->data<float>()[i]) ? "NaN" : "infinity"));
  return &(samples_[inputsPath] = std::move(*tensor));
}

llvm::Expected<Tensor> ModelOutputs::run(const ModelRef &model, const std::string &inputsPath,
                                         const std::string &output, int64_t batch) {
  auto data = samples(inputsPath);
  if (!data)
    return data.takeError();
  auto signature = compiler::readSignature(model.path);
  if (!signature)
    return signature.takeError();
  if (signature->inputs.size() != 1)
    return makeError(ErrorKind::BadInput, model.label + " has " +
                                              std::to_string(signature->inputs.size()) +
                                              " inputs; gates run single-input models");
  auto index = outputIndex(*signature, model, output);
  if (!index)
    return index.takeError();
  const compiler::TensorSpec &input = signature->inputs.front();
  if (llvm::Error error = checkFits(input, **data, model, inputsPath))
    return error;

  auto digest = dataDigest(inputsPath);
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
  int64_t total = (*data)->shape[0];
  if (input.shape[0] > 0 && total % size != 0)
    return makeError(ErrorKind::BadInput, model.label + " takes batches of exactly " +
                                              std::to_string(size) + " samples; " + inputsPath +
                                              " has " + std::to_string(total));
  std::optional<ProgressBar> bar;
  if (showProgress_)
    bar.emplace("run " + model.label + " on " +
                    std::filesystem::path(inputsPath).filename().string(),
                total);
  auto outputs = compiler::runBatched(
      model.path, {**data}, size,
      [&](int64_t done, int64_t) {
        if (bar)
          bar->update(done);
      },
      compiler::CompileOptions::withCacheDirectory(compileCacheDirectory_));
  if (!outputs)
    return outputs.takeError();
  ++modelRuns_;
  Tensor result = std::move((*outputs)[*index]);
  if (llvm::Error error = checkFinite(result, model, signature->outputs[*index].name, inputsPath))
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
