// Datasets: named, content-addressed evaluation data (dataset register,
// list, show), and the dataset:NAME/FILE references policies make to them.
#include "graceful/operations/operations.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/limits.h"
#include "graceful/support/tensor.h"
#include "graceful/support/yaml_proto.h"

#include <filesystem>

namespace graceful::operations {
namespace {

constexpr std::string_view kNpyMagic = "\x93NUMPY";

// Whether `path` holds (or claims, by its name, to hold) a NumPy array.
llvm::Expected<bool> looksLikeNpy(const std::string &path) {
  if (path.ends_with(".npy"))
    return true;
  auto in = openForReading(path);
  if (!in)
    return in.takeError();
  std::string start(kNpyMagic.size(), '\0');
  in->read(start.data(), static_cast<std::streamsize>(start.size()));
  return in->gcount() == static_cast<std::streamsize>(start.size()) && start == kNpyMagic;
}

// A file as the store is asked to record it: a .npy array is parsed whole
// (a truncated or malformed one is refused now, not at its first gate run)
// and hashed in the same read, so what is checked is what is recorded.
llvm::Expected<registry::DatasetFileSource> describeFile(const std::string &name,
                                                         const std::string &path) {
  registry::DatasetFileSource source{name, path, "", "", {}};
  // A pipe would be drained by this read and copied empty; a device or a
  // FIFO might never end.
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    return makeError(ErrorKind::BadInput,
                     path + ": not a regular file (a dataset holds files, not pipes or devices)");
  auto npy = looksLikeNpy(path);
  if (!npy)
    return npy.takeError();
  if (!*npy) {
    auto digest = sha256File(path);
    if (!digest)
      return digest.takeError();
    source.digest = digest->digest;
    return source;
  }
  Sha256Hasher hasher;
  auto array = readNpy(path, hasher);
  if (!array)
    return array.takeError();
  source.digest = hasher.finish();
  source.dtype = dtypeName(array->dtype);
  source.shape = array->shape;
  return source;
}

// dataset:NAME/FILE, split. Messages name no text of the policy that did
// not pass these checks (a policy's errors never echo its values).
llvm::Expected<std::pair<std::string, std::string>> parseReference(std::string_view value,
                                                                   const std::string &where) {
  std::string_view rest = value.substr(gates::kDatasetPrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos)
    return makeError(ErrorKind::BadInput,
                     where + "a dataset reference names a dataset's file as dataset:NAME/FILE");
  std::string name(rest.substr(0, slash)), file(rest.substr(slash + 1));
  if (llvm::Error error = registry::validateDatasetName(name)) {
    llvm::consumeError(std::move(error));
    return makeError(ErrorKind::BadInput, where +
                                              "invalid dataset name in a dataset reference: use "
                                              "1-128 letters, digits, '.', '_' or '-'");
  }
  if (llvm::Error error = registry::validateDatasetFileName(file)) {
    llvm::consumeError(std::move(error));
    return makeError(ErrorKind::BadInput, where +
                                              "invalid dataset file name in a dataset reference: "
                                              "use 1-64 letters, digits, '.', '_' or '-'");
  }
  return std::make_pair(name, file);
}

std::string fileNames(const proto::Dataset &dataset) {
  std::string names;
  for (const proto::DatasetFile &file : dataset.files())
    names += (names.empty() ? "" : ", ") + file.name();
  return names;
}

// Rewrites every dataset:NAME/FILE scalar under `node` to the file's place
// in the artifact store, pinning its digest in `policy`.
llvm::Error resolveNode(registry::Store &store, gates::Policy &policy, YAML::Node node) {
  if (node.IsMap() || node.IsSequence()) {
    for (auto entry : node)
      if (llvm::Error error =
              resolveNode(store, policy, node.IsMap() ? entry.second : YAML::Node(entry)))
        return error;
    return llvm::Error::success();
  }
  if (!node.IsScalar() || !std::string_view(node.Scalar()).starts_with(gates::kDatasetPrefix))
    return llvm::Error::success();
  std::string reference = node.Scalar();
  std::string where = yamlLocation(node, policy.path) + ": ";
  auto names = parseReference(reference, where);
  if (!names)
    return names.takeError();
  auto dataset = store.findDataset(names->first);
  if (!dataset)
    return dataset.takeError();
  if (!*dataset)
    return makeError(ErrorKind::NotFound, where + "no dataset '" + names->first +
                                              "' is registered (graceful dataset list)");
  for (const proto::DatasetFile &file : (*dataset)->files())
    if (file.name() == names->second) {
      std::string path =
          std::filesystem::absolute(store.artifacts().pathFor(file.digest())).string();
      policy.datasetFiles[path] = {reference, file.digest()};
      node = path;
      return llvm::Error::success();
    }
  return makeError(ErrorKind::BadInput, where + "dataset '" + names->first + "' has no file '" +
                                            names->second + "' (it has " + fileNames(**dataset) +
                                            ")");
}

} // namespace

llvm::Error resolveDatasets(registry::Store &store, gates::Policy &policy) {
  for (gates::GateSpec &gate : policy.gates)
    if (llvm::Error error = resolveNode(store, policy, gate.config))
      return error;
  return llvm::Error::success();
}

llvm::Expected<proto::DatasetResult> registerDataset(Context &context,
                                                     const proto::DatasetRegisterRequest &request) {
  if (llvm::Error error = registry::validateDatasetName(request.name()))
    return error;
  if (llvm::Error error = checkLength("--description", request.description(), kMaxDescriptionBytes))
    return error;
  if (request.files().empty())
    return makeError(ErrorKind::BadInput,
                     "dataset '" + request.name() + "' names no files (--file NAME=PATH)");
  registry::DatasetRequest stored{request.name(), request.description(), {}, context.actor};
  for (const auto &[name, path] : request.files()) {
    if (llvm::Error error = registry::validateDatasetFileName(name))
      return error;
    auto file = describeFile(name, path);
    if (!file)
      return file.takeError();
    stored.files.push_back(std::move(*file));
  }
  return context.store.registerDataset(stored);
}

llvm::Expected<proto::Dataset> showDataset(registry::Store &store, const std::string &name) {
  if (llvm::Error error = registry::validateDatasetName(name))
    return error;
  auto dataset = store.findDataset(name);
  if (!dataset)
    return dataset.takeError();
  if (!*dataset)
    return makeError(ErrorKind::NotFound, "no dataset '" + name + "' (graceful dataset list)");
  return std::move(**dataset);
}

} // namespace graceful::operations
