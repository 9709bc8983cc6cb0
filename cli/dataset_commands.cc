// Datasets: dataset register, list, show. A policy names a dataset's file
// as dataset:NAME/FILE (docs/policy.md).
#include "command.h"
#include "graceful/operations/operations.h"
#include "graceful/support/format.h"
#include "graceful/support/identity.h"
#include "graceful/support/limits.h"
#include "output.h"

#include <iostream>

namespace graceful::cli {
namespace {

std::string shapeText(const proto::DatasetFile &file) {
  std::string text;
  for (std::int64_t dimension : file.shape())
    text += (text.empty() ? "" : "x") + std::to_string(dimension);
  return file.dtype() + "[" + text + "]";
}

void printDataset(const proto::Dataset &dataset) {
  std::cout << "dataset " << dataset.name() << "  " << dataset.digest() << "\n  registered "
            << formatTime(dataset.created_at()) << " by " << escapeUnprintable(dataset.created_by())
            << "\n";
  if (!dataset.description().empty())
    std::cout << "  " << escapeUnprintable(dataset.description()) << "\n";
  for (const proto::DatasetFile &file : dataset.files())
    std::cout << "  " << file.name() << "  " << file.digest() << "  " << file.size_bytes()
              << " bytes" << (file.dtype().empty() ? "" : "  " + shapeText(file)) << "\n";
}

// NAME=PATH, as --file takes it.
llvm::Error addFile(proto::DatasetRegisterRequest &request, const std::string &name,
                    const std::string &path) {
  if (!request.mutable_files()->insert({name, path}).second)
    return makeError(ErrorKind::BadInput, "file '" + name + "' is given twice");
  return llvm::Error::success();
}

llvm::Expected<int> runDatasetRegister(const ParsedArgs &args) {
  auto name = required(args, "name");
  if (!name)
    return name.takeError();
  auto description = optionalText(args, "description", kMaxDescriptionBytes);
  if (!description)
    return description.takeError();
  proto::DatasetRegisterRequest request;
  request.set_name(*name);
  request.set_description(*description);
  for (const char *shorthand : {"inputs", "labels"})
    if (args.values.count(shorthand))
      if (llvm::Error error = addFile(request, shorthand, optional(args, shorthand)))
        return error;
  for (const std::string &file : many(args, "file")) {
    size_t equals = file.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == file.size())
      return makeError(ErrorKind::BadInput,
                       "--file '" + escapeUnprintable(file) + "': expected NAME=PATH");
    if (llvm::Error error = addFile(request, file.substr(0, equals), file.substr(equals + 1)))
      return error;
  }
  auto result = changeStore<proto::DatasetResult>(
      args.common, [&](const Remote &server) { return remote::registerDataset(server, request); },
      [&](operations::Context &context) { return operations::registerDataset(context, request); });
  if (!result)
    return result.takeError();
  emit(args.common.json, *result, [&] {
    std::cout << (result->existing() ? "already registered: the same files, nothing recorded\n"
                                     : "registered\n");
    printDataset(result->dataset());
  });
  return kSuccess;
}

llvm::Expected<int> runDatasetList(const ParsedArgs &args) {
  auto list = onStore<proto::DatasetList>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::listDatasets(server); },
      [&](registry::Store &store) { return store.listDatasets(); });
  if (!list)
    return list.takeError();
  emit(args.common.json, *list, [&] {
    if (list->datasets().empty())
      std::cout << "no datasets\n";
    for (const proto::Dataset &dataset : list->datasets())
      std::cout << dataset.name() << "  " << dataset.files_size() << " files  " << dataset.digest()
                << "  " << formatTime(dataset.created_at()) << "\n";
  });
  return kSuccess;
}

llvm::Expected<int> runDatasetShow(const ParsedArgs &args) {
  auto name = required(args, "name");
  if (!name)
    return name.takeError();
  auto dataset = onStore<proto::Dataset>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::showDataset(server, *name); },
      [&](registry::Store &store) { return operations::showDataset(store, *name); });
  if (!dataset)
    return dataset.takeError();
  emit(args.common.json, *dataset, [&] { printDataset(*dataset); });
  return kSuccess;
}

void namePositional(po::options_description &options, po::positional_options_description &pos) {
  options.add_options()("name", po::value<std::string>(), "dataset name");
  pos.add("name", 1);
}

} // namespace

std::vector<CommandSpec> datasetCommands() {
  return {
      {"dataset register",
       "NAME [--inputs X.npy] [--labels Y.npy] [--file NAME=PATH]... [--description TEXT]",
       "register evaluation data under a name, content-addressed and never changed",
       [](po::options_description &options, po::positional_options_description &pos) {
         namePositional(options, pos);
         options.add_options()("inputs", po::value<std::string>(), "the file named 'inputs'")(
             "labels", po::value<std::string>(), "the file named 'labels'")(
             "file", po::value<std::vector<std::string>>(),
             "a file under its name in the dataset (.npy arrays are checked whole)")(
             "description", po::value<std::string>(), "what the data is (at most 4096 bytes)");
       },
       runDatasetRegister},
      {"dataset list", "", "list registered datasets",
       [](po::options_description &, po::positional_options_description &) {}, runDatasetList},
      {"dataset show", "NAME", "show a dataset's files: digests, sizes, dtypes and shapes",
       [](po::options_description &options, po::positional_options_description &pos) {
         namePositional(options, pos);
       },
       runDatasetShow},
  };
}

} // namespace graceful::cli
