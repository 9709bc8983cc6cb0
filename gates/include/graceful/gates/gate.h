// The gate interface. Built-in gates register through the same registry
// that plugins use.
#pragma once

#include "graceful/gates/policy.h"
#include "graceful/registry.pb.h"
#include "graceful/registry/store.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace graceful::gates {

struct GateContext {
  registry::Store &store;
  proto::ModelVersion candidate;
  std::optional<proto::ModelVersion> baseline;
  const Policy &policy;
};

class Gate {
public:
  virtual ~Gate() = default;
  virtual llvm::Expected<proto::GateResult> evaluate(const GateContext &context) = 0;
};

// Builds a gate from its policy entry; rejects bad settings up front.
using GateFactory = std::function<llvm::Expected<std::unique_ptr<Gate>>(const GateSpec &spec,
                                                                        const Policy &policy)>;

void registerGate(const std::string &name, GateFactory factory);
// Names of the registered gates, sorted.
std::vector<std::string> registeredGates();

// Builds every gate of the policy (all settings are checked before any gate
// runs), runs them and combines their verdicts: pass only if all pass.
llvm::Expected<proto::GateReport>
evaluatePolicy(const Policy &policy, registry::Store &store, const proto::ModelVersion &candidate,
               const std::optional<proto::ModelVersion> &baseline);

} // namespace graceful::gates
