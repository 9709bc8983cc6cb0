#include "graceful/gates/gate.h"

#include "builtin_gates.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/yaml_proto.h"

#include <filesystem>
#include <map>
#include <mutex>

namespace graceful::gates {
namespace {

std::map<std::string, GateFactory> &factories() {
  static std::map<std::string, GateFactory> registry;
  return registry;
}

std::mutex &factoriesMutex() {
  static std::mutex mutex;
  return mutex;
}

void registerBuiltinsOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerGate("nfr", makeNfrGate);
    registerGate("compatibility", makeCompatibilityGate);
    registerGate("edge", makeEdgeGate);
  });
}

GateFactory factoryFor(const std::string &name) {
  registerBuiltinsOnce();
  std::lock_guard lock(factoriesMutex());
  auto it = factories().find(name);
  return it == factories().end() ? GateFactory() : it->second;
}

std::string versionName(const proto::ModelVersion &version) {
  return version.name() + "@" + std::to_string(version.version());
}

llvm::Expected<std::vector<std::unique_ptr<Gate>>> buildGates(const Policy &policy,
                                                              DataFiles &files) {
  std::vector<std::unique_ptr<Gate>> gates;
  for (const GateSpec &spec : policy.gates) {
    GateFactory factory = factoryFor(spec.name);
    if (!factory) {
      std::string known;
      for (const std::string &name : registeredGates())
        known += (known.empty() ? "" : ", ") + name;
      return makeError(ErrorKind::BadInput, policy.path + ":" + std::to_string(spec.line) +
                                                ": unknown gate '" + spec.name +
                                                "' (available: " + known + ")");
    }
    auto gate = factory(spec, policy, files);
    if (!gate)
      return gate.takeError();
    gates.push_back(std::move(*gate));
  }
  return gates;
}

using FileDigests = std::vector<std::pair<std::string, std::string>>;

// The data files an evaluation of `policy` reads, with its datasets' files
// pinned to their recorded digests.
DataFiles dataFilesFor(const Policy &policy) {
  std::map<std::string, std::string> pinned;
  for (const auto &[path, file] : policy.datasetFiles)
    pinned.emplace(path, file.digest);
  return DataFiles(std::move(pinned));
}

// Each file the gates read, named as the policy names it (a dataset's file
// by its reference), with its digest.
llvm::Expected<FileDigests> fileDigestsOf(const Policy &policy,
                                          const std::vector<std::unique_ptr<Gate>> &gates,
                                          DataFiles &files) {
  FileDigests digests;
  for (const auto &gate : gates)
    for (const std::string &file : gate->files()) {
      auto digest = files.digest(file);
      if (!digest)
        return digest.takeError();
      auto dataset = policy.datasetFiles.find(file);
      digests.emplace_back(dataset == policy.datasetFiles.end() ? file : dataset->second.reference,
                           *digest);
    }
  return digests;
}

llvm::Expected<std::string> dataDigestOf(const Policy &policy,
                                         const std::vector<std::unique_ptr<Gate>> &gates,
                                         DataFiles &files) {
  auto digests = fileDigestsOf(policy, gates, files);
  if (!digests)
    return digests.takeError();
  Sha256Hasher hasher;
  for (const auto &[file, digest] : *digests) {
    hasher.update(digest);
    hasher.update("\n");
  }
  return hasher.finish();
}

std::string joinComparedWith(const std::set<std::string> &versions) {
  std::string text;
  for (const std::string &version : versions)
    text += (text.empty() ? "" : ", ") + version;
  return text;
}

} // namespace

ModelRef GateContext::modelOf(const proto::ModelVersion &version) const {
  if (modelsRun != nullptr)
    modelsRun->insert(versionName(version));
  return ModelRef{store.artifacts().pathFor(version.digest()), version.digest(),
                  versionName(version)};
}

void registerGate(const std::string &name, GateFactory factory) {
  std::lock_guard lock(factoriesMutex());
  factories()[name] = std::move(factory);
}

std::vector<std::string> registeredGates() {
  registerBuiltinsOnce();
  std::lock_guard lock(factoriesMutex());
  std::vector<std::string> names;
  for (const auto &[name, factory] : factories())
    names.push_back(name);
  return names;
}

std::string gateLocation(const GateSpec &spec, const Policy &policy) {
  return policy.path + ":" + std::to_string(spec.line) + ": gate " +
         (spec.label.empty() ? spec.name : spec.name + " '" + spec.label + "'") + ": ";
}

llvm::Error readGateConfig(const GateSpec &spec, const Policy &policy,
                           google::protobuf::Message &config) {
  if (spec.config.IsNull())
    return llvm::Error::success();
  return readYamlInto(spec.config, config, policy.path);
}

llvm::Expected<std::string> policyFile(const GateSpec &spec, const Policy &policy,
                                       const std::string &key, const std::string &value) {
  if (value.empty())
    return makeError(ErrorKind::BadInput, gateLocation(spec, policy) + "'" + key + "' is missing");
  if (value.starts_with(kDatasetPrefix))
    return makeError(ErrorKind::BadInput, gateLocation(spec, policy) + key + " names " + value +
                                              ", a registered dataset: only a command that opens "
                                              "the store reads this policy");
  std::filesystem::path path(value);
  if (path.is_relative() && !policy.directory.empty())
    path = std::filesystem::path(policy.directory) / path;
  if (!std::filesystem::is_regular_file(path))
    return makeError(ErrorKind::NotFound, gateLocation(spec, policy) + key + " file " +
                                              path.string() + " does not exist");
  return path.string();
}

llvm::Expected<SampleFiles>
policySampleFiles(const GateSpec &spec, const Policy &policy, const std::string &prefix,
                  const std::string &inputs,
                  const google::protobuf::Map<std::string, std::string> &namedInputs) {
  if (!inputs.empty() && !namedInputs.empty())
    return makeError(ErrorKind::BadInput, gateLocation(spec, policy) + "give " + prefix +
                                              "inputs or " + prefix + "named_inputs, not both");
  if (namedInputs.empty()) {
    auto path = policyFile(spec, policy, prefix + "inputs", inputs);
    if (!path)
      return path.takeError();
    return SampleFiles{{"", *path}};
  }
  // Sorted by name: the order of a YAML mapping means nothing.
  std::map<std::string, std::string> sorted(namedInputs.begin(), namedInputs.end());
  SampleFiles files;
  for (const auto &[name, value] : sorted) {
    auto path = policyFile(spec, policy, prefix + "named_inputs." + name, value);
    if (!path)
      return path.takeError();
    files.push_back({name, *path});
  }
  return files;
}

void setMetric(proto::GateResult &result, const std::string &name, double value) {
  (*result.mutable_metrics())[name].set_number_value(value);
}

void setMetric(proto::GateResult &result, const std::string &name, const std::string &value) {
  (*result.mutable_metrics())[name].set_string_value(value);
}

double metric(const proto::GateResult &result, const std::string &name) {
  auto it = result.metrics().find(name);
  return it == result.metrics().end() ? 0.0 : it->second.number_value();
}

namespace {

// An error with each dataset file named as the policy names it
// (dataset:NAME/FILE), not by its place in the artifact store.
llvm::Error namingDatasets(const Policy &policy, llvm::Error error) {
  if (!error || policy.datasetFiles.empty())
    return error;
  ErrorReport report = describeError(std::move(error));
  for (const auto &[path, file] : policy.datasetFiles)
    for (size_t at = report.message.find(path); at != std::string::npos;
         at = report.message.find(path, at + file.reference.size()))
      report.message.replace(at, path.size(), file.reference);
  return makeError(report.kind, report.message);
}

template <typename T>
llvm::Expected<T> namingDatasets(const Policy &policy, llvm::Expected<T> result) {
  if (!result)
    return namingDatasets(policy, result.takeError());
  return result;
}

llvm::Expected<std::string> dataDigestOfPolicy(const Policy &policy) {
  DataFiles files = dataFilesFor(policy);
  auto gates = buildGates(policy, files);
  if (!gates)
    return gates.takeError();
  return dataDigestOf(policy, *gates, files);
}

llvm::Expected<FileDigests> fileDigestsOfPolicy(const Policy &policy) {
  DataFiles files = dataFilesFor(policy);
  auto gates = buildGates(policy, files);
  if (!gates)
    return gates.takeError();
  return fileDigestsOf(policy, *gates, files);
}

llvm::Error budgetsOf(const Policy &policy) {
  if (policy.gates.empty())
    return makeError(ErrorKind::BadInput,
                     policy.path + ": a protected alias's policy needs at least one gate");
  DataFiles files = dataFilesFor(policy);
  auto gates = buildGates(policy, files);
  if (!gates)
    return gates.takeError();
  for (size_t i = 0; i < gates->size(); ++i)
    if (std::string missing = (*gates)[i]->missingBudget(); !missing.empty())
      return makeError(ErrorKind::BadInput, gateLocation(policy.gates[i], policy) +
                                                "has no budget (" + missing +
                                                "); a protected alias's policy needs one");
  return llvm::Error::success();
}

llvm::Expected<proto::GateReport> evaluateGates(const Policy &policy, registry::Store &store,
                                                const proto::ModelVersion &candidate,
                                                const std::optional<proto::ModelVersion> &baseline,
                                                const EvaluationOptions &options) {
  // Each data file is read once, by the gate that needs it first; the data
  // digest, taken after the gates ran, names the bytes they judged.
  DataFiles files = dataFilesFor(policy);
  auto gates = buildGates(policy, files);
  if (!gates)
    return gates.takeError();
  proto::GateReport report;
  report.set_candidate(versionName(candidate));
  if (baseline)
    report.set_baseline(versionName(*baseline));
  report.set_policy_digest(policy.digest);
  for (const proto::ModelVersion *version : {&candidate, baseline ? &*baseline : nullptr})
    if (version)
      if (llvm::Error error = store.artifacts().verify(version->digest()))
        return error;
  ModelOutputs outputs(files, options.cacheDirectory, options.compileCacheDirectory,
                       options.showProgress);
  std::set<std::string> modelsRun;
  GateContext context{store, candidate, baseline, policy, files, outputs, &modelsRun};
  bool passed = true;
  for (size_t i = 0; i < gates->size(); ++i) {
    modelsRun.clear();
    auto result = (*gates)[i]->evaluate(context);
    if (!result) {
      // Say which policy entry the bad input belongs to.
      ErrorReport failure = describeError(result.takeError());
      std::string location = gateLocation(policy.gates[i], policy);
      return makeError(failure.kind, failure.message.rfind(policy.path, 0) == 0
                                         ? failure.message
                                         : location + failure.message);
    }
    passed = passed && result->verdict() != "fail";
    result->set_type(policy.gates[i].name);
    result->set_name(policy.gates[i].displayName());
    modelsRun.erase(report.candidate());
    (*result->mutable_details())[std::string(kComparedWith)] = joinComparedWith(modelsRun);
    *report.add_gates() = std::move(*result);
  }
  auto dataDigest = dataDigestOf(policy, *gates, files);
  if (!dataDigest)
    return dataDigest.takeError();
  report.set_data_digest(*dataDigest);
  report.set_verdict(passed ? "pass" : "fail");
  return report;
}

} // namespace

llvm::Expected<std::string> policyDataDigest(const Policy &policy) {
  return namingDatasets(policy, dataDigestOfPolicy(policy));
}

llvm::Expected<FileDigests> policyFileDigests(const Policy &policy) {
  return namingDatasets(policy, fileDigestsOfPolicy(policy));
}

llvm::Error requireBudgets(const Policy &policy) {
  return namingDatasets(policy, budgetsOf(policy));
}

llvm::Expected<proto::GateReport> evaluatePolicy(const Policy &policy, registry::Store &store,
                                                 const proto::ModelVersion &candidate,
                                                 const std::optional<proto::ModelVersion> &baseline,
                                                 const EvaluationOptions &options) {
  return namingDatasets(policy, evaluateGates(policy, store, candidate, baseline, options));
}

} // namespace graceful::gates
