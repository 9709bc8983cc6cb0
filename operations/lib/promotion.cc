// Gate runs and the commands that move aliases behind gates: gate run,
// promote, rollback, alias protect.
#include "graceful/gates/gate.h"
#include "graceful/gates/plugin.h"
#include "graceful/gates/report.h"
#include "graceful/operations/operations.h"
#include "graceful/support/error.h"
#include "graceful/support/limits.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>

namespace graceful::operations {
namespace {

std::string versionName(const proto::ModelVersion &version) {
  return version.name() + "@" + std::to_string(version.version());
}

gates::ReportPaths reportPaths(const proto::ReportFiles &files) {
  return {files.html(), files.junit(), files.markdown()};
}

std::vector<std::string> pluginDirs(const google::protobuf::RepeatedPtrField<std::string> &dirs) {
  return {dirs.begin(), dirs.end()};
}

// Model outputs and compiled models are cached next to the artifacts
// (GRACEFUL_CACHE overrides; "off" disables the caches).
gates::EvaluationOptions evaluationOptions(const Context &context) {
  gates::EvaluationOptions options;
  const char *override = std::getenv("GRACEFUL_CACHE");
  std::filesystem::path root =
      override && *override
          ? std::filesystem::path(override)
          : std::filesystem::path(context.store.artifacts().root()).parent_path() / "cache";
  if (!override || std::string(override) != "off") {
    options.cacheDirectory = (root / "outputs").string();
    options.compileCacheDirectory = (root / "compiled").string();
  }
  options.showProgress = context.showProgress;
  return options;
}

// The policy, with the gate plugins it may use loaded first and the
// datasets it names resolved in the store.
llvm::Expected<gates::Policy> loadPolicyWith(registry::Store &store,
                                             const std::vector<std::string> &plugins,
                                             const std::string &path) {
  if (llvm::Error error = gates::loadPlugins(gates::pluginDirectories(plugins)))
    return error;
  auto policy = gates::loadPolicy(path);
  if (!policy)
    return policy.takeError();
  if (llvm::Error error = resolveDatasets(store, *policy))
    return error;
  return policy;
}

// PromoteRequest::expect: empty (no compare-and-set beyond the gates'
// baseline), a version number, or "none" (the alias must not exist: 0).
llvm::Expected<std::optional<int>> parseExpect(const std::string &text) {
  if (text.empty())
    return std::optional<int>();
  if (text == "none")
    return std::optional<int>(0);
  int version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || version < 1)
    return makeError(ErrorKind::BadInput,
                     "--expect '" + text + "': expected a version number or 'none'");
  return std::optional<int>(version);
}

// A gate report for a promotion: one stored earlier for the same
// candidate, baseline, policy and data, or a fresh evaluation.
struct GateOutcome {
  proto::GateReport report;
  std::int64_t storedId = 0; // set when reused
};

llvm::Expected<GateOutcome> gateReportFor(Context &context, const gates::Policy &policy,
                                          const proto::ModelVersion &candidate,
                                          const std::optional<proto::ModelVersion> &baseline) {
  auto dataDigest = gates::policyDataDigest(policy);
  if (!dataDigest)
    return dataDigest.takeError();
  auto stored = context.store.findGateReport(
      versionName(candidate), baseline ? versionName(*baseline) : "", policy.digest, *dataDigest);
  if (!stored)
    return stored.takeError();
  if (*stored)
    return GateOutcome{(*stored)->report(), (*stored)->id()};
  auto report =
      gates::evaluatePolicy(policy, context.store, candidate, baseline, evaluationOptions(context));
  if (!report)
    return report.takeError();
  return GateOutcome{std::move(*report), 0};
}

// The policy bound to a protected alias, as it was read when bound, once
// the data files it names are checked to hold the same bytes.
llvm::Expected<gates::Policy> boundPolicy(registry::Store &store,
                                          const std::vector<std::string> &plugins,
                                          const proto::AliasProtection &protection) {
  if (llvm::Error error = gates::loadPlugins(gates::pluginDirectories(plugins)))
    return error;
  auto policy = gates::parsePolicy(protection.policy(), protection.policy_path());
  if (!policy)
    return policy.takeError();
  if (llvm::Error error = resolveDatasets(store, *policy))
    return error;
  auto files = gates::policyFileDigests(*policy);
  if (!files)
    return files.takeError();
  std::string where = protection.model() + "@" + protection.alias();
  auto bound = protection.files();
  for (size_t i = 0; i < files->size(); ++i) {
    const auto &[path, digest] = (*files)[i];
    if (i >= static_cast<size_t>(bound.size()) || bound[static_cast<int>(i)].path() != path)
      return makeError(ErrorKind::BadInput, where + ": the bound policy now reads " + path +
                                                ", which it did not when it was bound");
    if (bound[static_cast<int>(i)].digest() != digest)
      return makeError(ErrorKind::BadInput,
                       where + ": " + path + " changed since the policy was bound (" +
                           bound[static_cast<int>(i)].digest() + ", now " + digest + "); " +
                           (path.starts_with(gates::kDatasetPrefix)
                                ? "a dataset never changes: its record was edited behind the "
                                  "store (graceful check)"
                                : "protect the alias again to accept it"));
  }
  return policy;
}

// The policy a promotion evaluates: the alias's bound one when it is
// protected (a --policy that differs is refused), else --policy.
llvm::Expected<gates::Policy>
promotionPolicy(Context &context, const proto::PromoteRequest &request, const std::string &model) {
  const std::string &given = request.policy();
  auto plugins = pluginDirs(request.plugin_dirs());
  auto protection = context.store.aliasProtection(model, request.alias());
  if (!protection)
    return protection.takeError();
  if (!*protection) {
    if (given.empty())
      return makeError(ErrorKind::BadInput, "missing --policy (see --help)");
    return loadPolicyWith(context.store, plugins, given);
  }
  if (!given.empty()) {
    auto chosen = loadPolicyWith(context.store, plugins, given);
    if (!chosen)
      return chosen.takeError();
    if (chosen->digest != (*protection)->policy_digest())
      return makeError(ErrorKind::BadInput,
                       model + "@" + request.alias() + " is protected by policy " +
                           (*protection)->policy_digest() + " (" + (*protection)->policy_path() +
                           "); --policy " + given + " is another (" + chosen->digest +
                           "): omit --policy, promotion runs the bound one");
  }
  return boundPolicy(context.store, plugins, **protection);
}

std::string describeHolder(int version) {
  return version ? "version " + std::to_string(version) : "nothing";
}

// Moves the alias when the gates passed or were overridden; records a
// refused promotion (audited as refuse) with its report, so the failure is
// on record and announced to webhooks.
llvm::Expected<proto::PromotionResult> moveIfPassed(Context &context,
                                                    const proto::PromoteRequest &request,
                                                    const registry::VersionSelector &target,
                                                    int observed, GateOutcome outcome) {
  proto::PromotionResult result;
  result.set_previous(observed);
  result.set_reused_report(outcome.storedId != 0);
  bool passed = outcome.report.verdict() == "pass";
  std::int64_t reportId = outcome.storedId;
  if (passed || request.force()) {
    // The gates judged the candidate against the holder we saw; if another
    // promotion moved the alias meanwhile, their verdict is stale: conflict.
    registry::AliasMoveRequest move{target.name,
                                    request.alias(),
                                    *target.version,
                                    observed,
                                    passed ? registry::AliasAction::Promote
                                           : registry::AliasAction::Override,
                                    context.actor,
                                    request.reason(),
                                    std::nullopt,
                                    outcome.storedId};
    if (!outcome.storedId)
      move.gateReport = outcome.report;
    auto moved = context.store.moveAlias(move);
    if (!moved)
      return moved.takeError();
    reportId = moved->gate_report_id();
    result.set_promoted(true);
    *result.mutable_move() = std::move(*moved);
  } else {
    registry::RefusalRequest refusal{target.name,  request.alias(), *target.version,
                                     observed,     context.actor,   request.reason(),
                                     std::nullopt, outcome.storedId};
    if (!outcome.storedId)
      refusal.gateReport = outcome.report;
    auto refused = context.store.recordRefusal(refusal);
    if (!refused)
      return refused.takeError();
    reportId = *refused;
  }
  outcome.report.set_report_id(reportId);
  result.set_report_id(reportId);
  *result.mutable_report() = std::move(outcome.report);
  return result;
}

} // namespace

llvm::Expected<proto::GateReport> runGates(Context &context, const proto::GateRunRequest &request) {
  if (request.policy().empty())
    return makeError(ErrorKind::BadInput, "missing --policy (see --help)");
  if (request.candidate().empty())
    return makeError(ErrorKind::BadInput, "missing --candidate (see --help)");
  auto candidateSelector = registry::parseExactVersion(request.candidate());
  if (!candidateSelector)
    return candidateSelector.takeError();
  if (llvm::Error error = gates::checkReportPaths(reportPaths(request.reports())))
    return error;
  auto policy = loadPolicyWith(context.store, pluginDirs(request.plugin_dirs()), request.policy());
  if (!policy)
    return policy.takeError();
  auto candidate = context.store.getVersion(*candidateSelector);
  if (!candidate)
    return candidate.takeError();
  std::optional<proto::ModelVersion> baseline;
  if (!request.baseline().empty()) {
    auto selector = registry::parseSelector(request.baseline());
    if (!selector)
      return selector.takeError();
    auto version = context.store.getVersion(*selector);
    if (!version)
      return version.takeError();
    baseline = std::move(*version);
  }
  auto report = gates::evaluatePolicy(*policy, context.store, *candidate, baseline,
                                      evaluationOptions(context));
  if (!report)
    return report.takeError();
  if (llvm::Error error = gates::writeReports(*report, reportPaths(request.reports())))
    return error;
  auto stored = context.store.storeGateReport(*report, context.actor);
  if (!stored)
    return stored.takeError();
  report->set_report_id(stored->id());
  return report;
}

llvm::Expected<proto::PromotionResult> promote(Context &context,
                                               const proto::PromoteRequest &request) {
  if (request.target().empty())
    return makeError(ErrorKind::BadInput, "missing NAME@V (see --help)");
  auto target = registry::parseExactVersion(request.target());
  if (!target)
    return target.takeError();
  if (request.alias().empty())
    return makeError(ErrorKind::BadInput, "missing --to (see --help)");
  if (llvm::Error error = registry::validateAliasName(request.alias()))
    return error;
  auto expect = parseExpect(request.expect());
  if (!expect)
    return expect.takeError();
  if (llvm::Error error = checkLength("--reason", request.reason(), kMaxReasonBytes))
    return error;
  if (request.force() && request.reason().empty())
    return makeError(ErrorKind::BadInput, "--force needs --reason: say why for the audit log");
  if (llvm::Error error = gates::checkReportPaths(reportPaths(request.reports())))
    return error;

  auto policy = promotionPolicy(context, request, target->name);
  if (!policy)
    return policy.takeError();
  auto candidate = context.store.getVersion(*target);
  if (!candidate)
    return candidate.takeError();
  auto baseline = context.store.aliasHolder(target->name, request.alias());
  if (!baseline)
    return baseline.takeError();
  int observed = *baseline ? (*baseline)->version() : 0;
  if (*expect && **expect != observed)
    return makeError(ErrorKind::Conflict, target->name + ": alias '" + request.alias() +
                                              "' points at " + describeHolder(observed) + ", not " +
                                              describeHolder(**expect) +
                                              " as --expect says; nothing changed");
  if (observed == *target->version) {
    // A retried job promoting what it promoted already: say so, record nothing.
    proto::PromotionResult result;
    result.set_unchanged(true);
    result.set_previous(observed);
    result.set_report_id((*baseline)->holder().gate_report_id());
    return result;
  }
  // The report compares with the holder as it was evaluated, without the
  // provenance the lookup added.
  if (*baseline)
    (*baseline)->clear_holder();
  auto outcome = gateReportFor(context, *policy, *candidate, *baseline);
  if (!outcome)
    return outcome.takeError();
  if (llvm::Error error = gates::writeReports(outcome->report, reportPaths(request.reports())))
    return error;
  return moveIfPassed(context, request, *target, observed, std::move(*outcome));
}

llvm::Expected<std::pair<std::string, std::string>> modelAndAlias(const std::string &target,
                                                                  const std::string &alias) {
  std::string model = target, named = alias;
  if (size_t at = target.find('@'); at != std::string::npos) {
    model = target.substr(0, at);
    std::string fromTarget = target.substr(at + 1);
    if (!named.empty() && named != fromTarget)
      return makeError(ErrorKind::BadInput, target + " names alias '" + fromTarget +
                                                "' but --alias says '" + named + "'");
    named = fromTarget;
  }
  if (llvm::Error error = registry::validateModelName(model))
    return error;
  if (named.empty())
    return makeError(ErrorKind::BadInput, "missing the alias: give NAME@ALIAS or --alias ALIAS");
  if (llvm::Error error = registry::validateAliasName(named))
    return error;
  return std::make_pair(model, named);
}

llvm::Expected<proto::AliasMove> rollback(Context &context, const proto::RollbackRequest &request) {
  auto names = modelAndAlias(request.model(), request.alias());
  if (!names)
    return names.takeError();
  if (llvm::Error error = checkLength("--reason", request.reason(), kMaxReasonBytes))
    return error;
  return context.store.rollbackAlias(names->first, names->second, context.actor, request.reason());
}

llvm::Expected<proto::AliasProtection> protectAlias(Context &context,
                                                    const proto::ProtectAliasRequest &request) {
  if (llvm::Error error = registry::validateModelName(request.model()))
    return error;
  if (llvm::Error error = registry::validateAliasName(request.alias()))
    return error;
  if (request.policy().empty())
    return makeError(ErrorKind::BadInput, "missing --policy (see --help)");
  if (llvm::Error error = checkLength("--reason", request.reason(), kMaxReasonBytes))
    return error;
  auto absolute = std::filesystem::absolute(request.policy()).lexically_normal().string();
  auto policy = loadPolicyWith(context.store, pluginDirs(request.plugin_dirs()), absolute);
  if (!policy)
    return policy.takeError();
  if (llvm::Error error = gates::requireBudgets(*policy))
    return error;
  auto files = gates::policyFileDigests(*policy);
  if (!files)
    return files.takeError();
  registry::ProtectRequest protect{request.model(), request.alias(), policy->digest,
                                   policy->text,    policy->path,    *files,
                                   context.actor,   request.reason()};
  return context.store.protectAlias(protect);
}

} // namespace graceful::operations
