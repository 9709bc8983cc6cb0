#include "graceful/gates/gate.h"

#include "graceful/support/error.h"

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

std::string versionName(const proto::ModelVersion &version) {
  return version.name() + "@" + std::to_string(version.version());
}

} // namespace

void registerGate(const std::string &name, GateFactory factory) {
  std::lock_guard lock(factoriesMutex());
  factories()[name] = std::move(factory);
}

std::vector<std::string> registeredGates() {
  std::lock_guard lock(factoriesMutex());
  std::vector<std::string> names;
  for (const auto &[name, factory] : factories())
    names.push_back(name);
  return names;
}

llvm::Expected<proto::GateReport>
evaluatePolicy(const Policy &policy, registry::Store &store, const proto::ModelVersion &candidate,
               const std::optional<proto::ModelVersion> &baseline) {
  std::vector<std::unique_ptr<Gate>> gates;
  for (const GateSpec &spec : policy.gates) {
    GateFactory factory;
    {
      std::lock_guard lock(factoriesMutex());
      auto it = factories().find(spec.name);
      if (it != factories().end())
        factory = it->second;
    }
    if (!factory) {
      std::string known;
      for (const std::string &name : registeredGates())
        known += (known.empty() ? "" : ", ") + name;
      return makeError(ErrorKind::BadInput,
                       policy.path + ":" + std::to_string(spec.line) + ": unknown gate '" +
                           spec.name + "' (available: " + (known.empty() ? "none" : known) + ")");
    }
    auto gate = factory(spec, policy);
    if (!gate)
      return gate.takeError();
    gates.push_back(std::move(*gate));
  }
  proto::GateReport report;
  report.set_candidate(versionName(candidate));
  if (baseline)
    report.set_baseline(versionName(*baseline));
  report.set_policy_digest(policy.digest);
  GateContext context{store, candidate, baseline, policy};
  bool passed = true;
  for (auto &gate : gates) {
    auto result = gate->evaluate(context);
    if (!result)
      return result.takeError();
    passed = passed && result->verdict() == "pass";
    *report.add_gates() = std::move(*result);
  }
  report.set_verdict(passed ? "pass" : "fail");
  return report;
}

} // namespace graceful::gates
