// The edge gate: the candidate must fit a device profile and, with a
// reference (the cloud model it serves beside), embed into the same space.
#include "builtin_gates.h"
#include "graceful/compiler/Profile.h"
#include "graceful/registry/refs.h"
#include "graceful/support/error.h"

namespace graceful::gates {
namespace {

class EdgeGate : public Gate {
public:
  EdgeGate(std::string profilePath, proto::DeviceProfile profile, std::string reference,
           std::optional<RetrievalPlan> plan)
      : profilePath_(std::move(profilePath)), profile_(std::move(profile)),
        reference_(std::move(reference)), plan_(std::move(plan)) {}

  std::vector<std::string> files() const override {
    std::vector<std::string> files{profilePath_};
    if (plan_)
      for (const std::string &file : plan_->files())
        files.push_back(file);
    return files;
  }

  std::string missingBudget() const override {
    const proto::DeviceProfile &p = profile_;
    bool limited = p.allowed_ops_size() > 0 || p.has_min_opset() || p.has_max_opset() ||
                   p.dtypes_size() > 0 || p.has_max_params() || p.has_max_macs() ||
                   p.has_max_peak_activation_bytes() || p.has_max_model_bytes() ||
                   p.static_shapes() || p.input_shape_size() > 0;
    return limited || plan_ ? "" : "its profile sets no limit and it names no reference";
  }

  llvm::Expected<proto::GateResult> evaluate(const GateContext &context) override {
    proto::GateResult result;
    result.set_name("edge");
    ModelRef candidate = context.modelOf(context.candidate);
    auto check = compiler::checkProfile(candidate.path, profile_);
    if (!check)
      return check.takeError();
    setMetric(result, "params", static_cast<double>(check->analysis.parameters));
    setMetric(result, "macs", static_cast<double>(check->analysis.macs));
    setMetric(result, "peak_activation_bytes",
              static_cast<double>(check->analysis.peakActivationBytes));
    setMetric(result, "model_bytes", static_cast<double>(check->modelBytes));
    setMetric(result, "opset", static_cast<double>(check->opset));
    (*result.mutable_details())["profile"] =
        profile_.name().empty() ? profilePath_ : profile_.name();
    auto *budgets = (*result.mutable_evidence()->mutable_fields())["budgets"].mutable_list_value();
    for (const compiler::BudgetUse &use : check->budgets) {
      auto &entry = *budgets->add_values()->mutable_struct_value()->mutable_fields();
      entry["limit"].set_string_value(use.limit);
      entry["measured"].set_number_value(use.measured);
      entry["budget"].set_number_value(use.budget);
    }
    for (const std::string &violation : check->violations)
      result.add_violations(violation);
    if (plan_) {
      auto referenceModel = resolveReference(context);
      if (!referenceModel)
        return referenceModel.takeError();
      (*result.mutable_details())["reference"] = referenceModel->label;
      auto compatible = compareRetrieval(context, *plan_, *referenceModel, candidate, result);
      if (!compatible)
        return compatible.takeError();
    }
    result.set_verdict(result.violations().empty() ? "pass" : "fail");
    return result;
  }

private:
  llvm::Expected<ModelRef> resolveReference(const GateContext &context) const {
    auto selector = registry::parseSelector(reference_);
    if (!selector)
      return selector.takeError();
    auto version = context.store.getVersion(*selector);
    if (!version)
      return makeError(ErrorKind::NotFound, "edge gate reference " + reference_ + ": " +
                                                describeError(version.takeError()).message);
    if (llvm::Error error = context.store.artifacts().verify(version->digest()))
      return error;
    return context.modelOf(*version);
  }

  std::string profilePath_;
  proto::DeviceProfile profile_;
  std::string reference_;
  std::optional<RetrievalPlan> plan_;
};

} // namespace

llvm::Expected<std::unique_ptr<Gate>> makeEdgeGate(const GateSpec &spec, const Policy &policy,
                                                   DataFiles &files) {
  proto::EdgeGateConfig config;
  if (llvm::Error error = readGateConfig(spec, policy, config))
    return error;
  auto profilePath = policyFile(spec, policy, "profile", config.profile());
  if (!profilePath)
    return profilePath.takeError();
  auto text = files.bytes(*profilePath);
  if (!text)
    return text.takeError();
  auto profile = compiler::parseDeviceProfile(**text, *profilePath);
  if (!profile)
    return profile.takeError();
  std::optional<RetrievalPlan> plan;
  if (!config.reference().empty()) {
    if (auto selector = registry::parseSelector(config.reference()); !selector)
      return makeError(ErrorKind::BadInput, gateLocation(spec, policy) + "reference: " +
                                                describeError(selector.takeError()).message);
    auto planned = planRetrieval(spec, policy, config);
    if (!planned)
      return planned.takeError();
    plan = std::move(*planned);
  } else if (config.has_gallery() || config.has_queries()) {
    return makeError(ErrorKind::BadInput,
                     gateLocation(spec, policy) + "gallery and queries need a reference model");
  }
  return std::make_unique<EdgeGate>(std::move(*profilePath), std::move(*profile),
                                    config.reference(), std::move(plan));
}

} // namespace graceful::gates
