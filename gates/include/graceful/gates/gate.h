// The gate interface. Built-in gates register through the same function
// that plugins call, so a plugin gate is a first-class gate.
#pragma once

#include "graceful/gates/data_files.h"
#include "graceful/gates/model_outputs.h"
#include "graceful/gates/policy.h"
#include "graceful/registry.pb.h"
#include "graceful/registry/store.h"
#include "graceful/support/format.h"

#include <functional>
#include <google/protobuf/map.h>
#include <google/protobuf/message.h>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace graceful::gates {

// Bumped whenever GateContext, Gate, GateFactory, Policy, DataFiles or
// ModelOutputs change layout or meaning; plugins built against another
// version are refused. 5: Policy::datasetFiles, DataFiles pins digests;
// 4: ModelOutputs keeps the models it loaded; DataFiles.
inline constexpr int kGateAbiVersion = 5;

// What a gate sees: the versions, how to run them and the policy.
struct GateContext {
  registry::Store &store;
  proto::ModelVersion candidate;
  std::optional<proto::ModelVersion> baseline; // empty for a first promotion
  const Policy &policy;
  // Read every data file through `files`, never by path.
  DataFiles &files;
  ModelOutputs &outputs;
  // Filled by modelOf with the versions a gate ran, so that reports say
  // what each gate compared the candidate with (a baseline, an edge gate's
  // reference, or nothing) rather than assume the baseline.
  std::set<std::string> *modelsRun = nullptr;

  // The runnable model of a version (its verified artifact).
  ModelRef modelOf(const proto::ModelVersion &version) const;
};

// The detail evaluatePolicy adds to every gate's result: the versions other
// than the candidate it ran ("m@2", "cloud@3, m@2"), "" when it judged the
// candidate alone. Reports stored before it existed lack it.
inline constexpr std::string_view kComparedWith = "compared_with";

class Gate {
public:
  virtual ~Gate() = default;
  // Verdict "pass", "fail" or "no baseline"; errors only for bad input
  // (data that does not fit the model, NaN outputs), never for a failure.
  virtual llvm::Expected<proto::GateResult> evaluate(const GateContext &context) = 0;
  // Every file the gate reads, so a stored report is reused only for the
  // same bytes.
  virtual std::vector<std::string> files() const = 0;
  // Why this gate, as configured, can never fail ("" when it has a budget):
  // a protected alias's policy refuses such a gate.
  virtual std::string missingBudget() const = 0;
};

// Builds a gate from its policy entry; rejects bad settings (unknown keys,
// missing files) before any gate runs. A file it reads to build the gate
// (a device profile) is read through `files`, as evaluation reads the rest.
using GateFactory = std::function<llvm::Expected<std::unique_ptr<Gate>>(
    const GateSpec &spec, const Policy &policy, DataFiles &files)>;

void registerGate(const std::string &name, GateFactory factory);
// Names of the registered gates, sorted; built-ins included.
std::vector<std::string> registeredGates();

// ---- helpers gates share --------------------------------------------------

// Reads the gate's section into its schema message (see policy.proto).
llvm::Error readGateConfig(const GateSpec &spec, const Policy &policy,
                           google::protobuf::Message &config);
// A file the policy names, relative to the policy; it must exist.
llvm::Expected<std::string> policyFile(const GateSpec &spec, const Policy &policy,
                                       const std::string &key, const std::string &value);
// The samples a gate's data names: `inputs` (one file, for a single-input
// model) or `named_inputs` (one file per model input, by the input's
// name), each a policyFile; exactly one of the two. `prefix` names the
// section in messages ("gallery.").
llvm::Expected<SampleFiles>
policySampleFiles(const GateSpec &spec, const Policy &policy, const std::string &prefix,
                  const std::string &inputs,
                  const google::protobuf::Map<std::string, std::string> &namedInputs);
// "POLICY:LINE: gate NAME: " for messages about one gate.
std::string gateLocation(const GateSpec &spec, const Policy &policy);

// Measured values and budgets in messages: 4 significant digits.
using graceful::formatNumber;

void setMetric(proto::GateResult &result, const std::string &name, double value);
void setMetric(proto::GateResult &result, const std::string &name, const std::string &value);
double metric(const proto::GateResult &result, const std::string &name);

// ---- running a policy -------------------------------------------------------

struct EvaluationOptions {
  std::string cacheDirectory;        // model outputs; empty: no cache
  std::string compileCacheDirectory; // compiled models; empty: no cache
  bool showProgress = true;
};

// Builds every gate of the policy (all settings are checked before any gate
// runs), runs them and combines their verdicts: "pass" unless a gate fails.
llvm::Expected<proto::GateReport> evaluatePolicy(const Policy &policy, registry::Store &store,
                                                 const proto::ModelVersion &candidate,
                                                 const std::optional<proto::ModelVersion> &baseline,
                                                 const EvaluationOptions &options = {});

// The digest of every file the policy's gates read (without running them).
llvm::Expected<std::string> policyDataDigest(const Policy &policy);

// Every file the policy's gates read, with its digest, in policy order.
llvm::Expected<std::vector<std::pair<std::string, std::string>>>
policyFileDigests(const Policy &policy);

// Refuses a policy that cannot fail: no gates, or a gate without a budget
// (BadInput naming the file and the gate's line). Protected aliases bind
// only such policies.
llvm::Error requireBudgets(const Policy &policy);

} // namespace graceful::gates
