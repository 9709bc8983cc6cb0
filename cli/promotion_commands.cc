// Commands that move aliases behind gates: gate run, promote, rollback.
#include "command.h"
#include "graceful/gates/gate.h"
#include "graceful/gates/plugin.h"
#include "graceful/gates/report.h"
#include "graceful/support/error.h"
#include "graceful/support/format.h"
#include "graceful/support/identity.h"
#include "graceful/support/limits.h"
#include "output.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace graceful::cli {
namespace {

void printReport(const proto::GateReport &report) {
  std::cout << "gates " << report.verdict() << " for " << report.candidate();
  if (!report.baseline().empty())
    std::cout << " against " << report.baseline();
  std::cout << " (policy " << report.policy_digest().substr(0, 19) << "...)\n";
  if (report.gates().empty())
    std::cout << "  (the policy has no gates)\n";
  // Names, metrics and violations carry model text (op types, node names).
  for (const proto::GateResult &gate : report.gates()) {
    std::cout << "  " << escapeUnprintable(gate.name()) << ": " << escapeUnprintable(gate.verdict())
              << "\n";
    for (const auto &[name, value] : gates::sortedMetrics(gate))
      std::cout << "    " << escapeUnprintable(name) << " = " << escapeUnprintable(value) << "\n";
    for (const std::string &violation : gate.violations())
      std::cout << "    violation: " << escapeUnprintable(violation) << "\n";
  }
}

// Model outputs and compiled models are cached next to the artifacts
// (GRACEFUL_CACHE overrides; "off" disables the caches).
gates::EvaluationOptions evaluationOptions(registry::Store &store, const ParsedArgs &args) {
  gates::EvaluationOptions options;
  const char *override = std::getenv("GRACEFUL_CACHE");
  std::filesystem::path root =
      override && *override
          ? std::filesystem::path(override)
          : std::filesystem::path(store.artifacts().root()).parent_path() / "cache";
  if (!override || std::string(override) != "off") {
    options.cacheDirectory = (root / "outputs").string();
    options.compileCacheDirectory = (root / "compiled").string();
  }
  options.showProgress = !args.common.json;
  return options;
}

gates::ReportPaths reportPaths(const ParsedArgs &args) {
  return {optional(args, "report"), optional(args, "junit"), optional(args, "markdown")};
}

// The policy, with the gate plugins it may use loaded first.
llvm::Expected<gates::Policy> policyFor(const ParsedArgs &args, const std::string &path) {
  if (llvm::Error error = gates::loadPlugins(gates::pluginDirectories(many(args, "plugins"))))
    return error;
  return gates::loadPolicy(path);
}

void declareGateOptions(po::options_description &options) {
  options.add_options()("plugins", po::value<std::vector<std::string>>(),
                        "load gate plugins (*.so) from DIR (also GRACEFUL_PLUGIN_PATH)")(
      "report", po::value<std::string>(), "write an HTML report here")(
      "junit", po::value<std::string>(), "write a JUnit XML report here")(
      "markdown", po::value<std::string>(), "write a Markdown summary here");
}

// --expect V: a version number, or "none" for an alias that must not exist.
llvm::Expected<std::optional<int>> parseExpect(const ParsedArgs &args) {
  if (!args.values.count("expect"))
    return std::optional<int>();
  std::string text = args.values["expect"].as<std::string>();
  if (text == "none")
    return std::optional<int>(0);
  int version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || version < 1)
    return makeError(ErrorKind::BadInput,
                     "--expect '" + text + "': expected a version number or 'none'");
  return std::optional<int>(version);
}

// The version an alias points at now, or nothing if it does not exist.
llvm::Expected<std::optional<proto::ModelVersion>>
currentHolder(registry::Store &store, const std::string &model, const std::string &alias) {
  auto version = store.getVersion(registry::VersionSelector{model, std::nullopt, alias});
  if (version)
    return std::optional<proto::ModelVersion>(std::move(*version));
  ErrorReport report = describeError(version.takeError());
  if (report.kind != ErrorKind::NotFound || report.message.find("no alias") == std::string::npos)
    return makeError(report.kind, report.message);
  return std::optional<proto::ModelVersion>();
}

llvm::Expected<int> runGate(const ParsedArgs &args) {
  auto policyPath = required(args, "policy");
  if (!policyPath)
    return policyPath.takeError();
  auto candidateText = required(args, "candidate");
  if (!candidateText)
    return candidateText.takeError();
  auto candidateSelector = registry::parseExactVersion(*candidateText);
  if (!candidateSelector)
    return candidateSelector.takeError();
  if (llvm::Error error = gates::checkReportPaths(reportPaths(args)))
    return error;
  auto policy = policyFor(args, *policyPath);
  if (!policy)
    return policy.takeError();
  auto store = openStoreFor(args.common);
  if (!store)
    return store.takeError();
  auto candidate = (*store)->getVersion(*candidateSelector);
  if (!candidate)
    return candidate.takeError();
  std::optional<proto::ModelVersion> baseline;
  if (std::string baselineText = optional(args, "baseline"); !baselineText.empty()) {
    auto selector = registry::parseSelector(baselineText);
    if (!selector)
      return selector.takeError();
    auto version = (*store)->getVersion(*selector);
    if (!version)
      return version.takeError();
    baseline = std::move(*version);
  }
  auto report = gates::evaluatePolicy(*policy, **store, *candidate, baseline,
                                      evaluationOptions(**store, args));
  if (!report)
    return report.takeError();
  if (llvm::Error error = gates::writeReports(*report, reportPaths(args)))
    return error;
  auto stored = (*store)->storeGateReport(*report, currentActor());
  if (!stored)
    return stored.takeError();
  emit(args.common.json, *report, [&] {
    printReport(*report);
    std::cout << "stored as gate report #" << stored->id() << "\n";
  });
  return report->verdict() == "pass" ? kSuccess : kGateFailed;
}

// A gate report for a promotion: one stored earlier for the same
// candidate, baseline, policy and data, or a fresh evaluation.
struct GateOutcome {
  proto::GateReport report;
  std::int64_t storedId = 0; // set when reused
};

llvm::Expected<GateOutcome> gateReportFor(registry::Store &store, const gates::Policy &policy,
                                          const proto::ModelVersion &candidate,
                                          const std::optional<proto::ModelVersion> &baseline,
                                          const ParsedArgs &args) {
  auto dataDigest = gates::policyDataDigest(policy);
  if (!dataDigest)
    return dataDigest.takeError();
  auto name = [](const proto::ModelVersion &v) {
    return v.name() + "@" + std::to_string(v.version());
  };
  auto stored = store.findGateReport(name(candidate), baseline ? name(*baseline) : "",
                                     policy.digest, *dataDigest);
  if (!stored)
    return stored.takeError();
  if (*stored)
    return GateOutcome{(*stored)->report(), (*stored)->id()};
  auto report =
      gates::evaluatePolicy(policy, store, candidate, baseline, evaluationOptions(store, args));
  if (!report)
    return report.takeError();
  return GateOutcome{std::move(*report), 0};
}

llvm::Expected<int> moveIfPassed(registry::Store &store, const registry::VersionSelector &target,
                                 const std::string &alias, int observed, bool override,
                                 const std::string &reason, const GateOutcome &outcome, bool json);

// The policy bound to a protected alias, as it was read when bound, once
// the data files it names are checked to hold the same bytes.
llvm::Expected<gates::Policy> boundPolicy(const ParsedArgs &args,
                                          const proto::AliasProtection &protection) {
  if (llvm::Error error = gates::loadPlugins(gates::pluginDirectories(many(args, "plugins"))))
    return error;
  auto policy = gates::parsePolicy(protection.policy(), protection.policy_path());
  if (!policy)
    return policy.takeError();
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
      return makeError(ErrorKind::BadInput, where + ": " + path +
                                                " changed since the policy was bound (" +
                                                bound[static_cast<int>(i)].digest() + ", now " +
                                                digest + "); protect the alias again to accept it");
  }
  return policy;
}

// The policy a promotion evaluates: the alias's bound one when it is
// protected (a --policy that differs is refused), else --policy.
llvm::Expected<gates::Policy> promotionPolicy(const ParsedArgs &args, registry::Store &store,
                                              const std::string &model, const std::string &alias) {
  std::string given = optional(args, "policy");
  auto protection = store.aliasProtection(model, alias);
  if (!protection)
    return protection.takeError();
  if (!*protection) {
    if (given.empty())
      return makeError(ErrorKind::BadInput, "missing policy (see --help)");
    return policyFor(args, given);
  }
  if (!given.empty()) {
    auto chosen = policyFor(args, given);
    if (!chosen)
      return chosen.takeError();
    if (chosen->digest != (*protection)->policy_digest())
      return makeError(ErrorKind::BadInput, model + "@" + alias + " is protected by policy " +
                                                (*protection)->policy_digest() + " (" +
                                                (*protection)->policy_path() + "); --policy " +
                                                given + " is another (" + chosen->digest +
                                                "): omit --policy, promotion runs the bound one");
  }
  return boundPolicy(args, **protection);
}

llvm::Expected<int> runPromote(const ParsedArgs &args) {
  auto targetText = required(args, "target");
  if (!targetText)
    return targetText.takeError();
  auto target = registry::parseExactVersion(*targetText);
  if (!target)
    return target.takeError();
  auto alias = required(args, "to");
  if (!alias)
    return alias.takeError();
  if (llvm::Error error = registry::validateAliasName(*alias))
    return error;
  auto expect = parseExpect(args);
  if (!expect)
    return expect.takeError();
  bool override = args.values["force"].as<bool>() || args.values["override"].as<bool>();
  auto reason = optionalText(args, "reason", kMaxReasonBytes);
  if (!reason)
    return reason.takeError();
  if (override && reason->empty())
    return makeError(ErrorKind::BadInput, "--force needs --reason: say why for the audit log");
  if (llvm::Error error = gates::checkReportPaths(reportPaths(args)))
    return error;

  auto store = openStoreFor(args.common);
  if (!store)
    return store.takeError();
  auto policy = promotionPolicy(args, **store, target->name, *alias);
  if (!policy)
    return policy.takeError();
  auto candidate = (*store)->getVersion(*target);
  if (!candidate)
    return candidate.takeError();
  auto baseline = currentHolder(**store, target->name, *alias);
  if (!baseline)
    return baseline.takeError();
  int observed = *baseline ? (*baseline)->version() : 0;
  if (*expect && **expect != observed)
    return makeError(ErrorKind::Conflict,
                     target->name + ": alias '" + *alias + "' points at " +
                         (observed ? "version " + std::to_string(observed) : "nothing") + ", not " +
                         (**expect ? "version " + std::to_string(**expect) : "nothing") +
                         " as --expect says; nothing changed");
  auto report = gateReportFor(**store, *policy, *candidate, *baseline, args);
  if (!report)
    return report.takeError();
  if (llvm::Error error = gates::writeReports(report->report, reportPaths(args)))
    return error;
  return moveIfPassed(**store, *target, *alias, observed, override, *reason, *report,
                      args.common.json);
}

llvm::Expected<int> moveIfPassed(registry::Store &store, const registry::VersionSelector &target,
                                 const std::string &alias, int observed, bool override,
                                 const std::string &reason, const GateOutcome &outcome, bool json) {
  const proto::GateReport *report = &outcome.report;
  proto::PromotionResult result;
  *result.mutable_report() = *report;
  bool passed = report->verdict() == "pass";
  if (passed || override) {
    // The gates judged the candidate against the holder we saw; if another
    // promotion moved the alias meanwhile, their verdict is stale: conflict.
    registry::AliasMoveRequest request{target.name,
                                       alias,
                                       *target.version,
                                       observed,
                                       passed ? registry::AliasAction::Promote
                                              : registry::AliasAction::Override,
                                       currentActor(),
                                       reason,
                                       std::nullopt,
                                       outcome.storedId};
    if (!outcome.storedId)
      request.gateReport = *report;
    auto move = store.moveAlias(request);
    if (!move)
      return move.takeError();
    result.set_promoted(true);
    *result.mutable_move() = *move;
  } else if (!outcome.storedId) {
    // A refused promotion keeps its report, so the failure is on record.
    auto stored = store.storeGateReport(*report, currentActor());
    if (!stored)
      return stored.takeError();
  }
  emit(json, result, [&] {
    if (outcome.storedId)
      std::cout << "reusing stored gate report #" << outcome.storedId
                << " (same candidate, baseline, policy and data)\n";
    printReport(*report);
    if (result.promoted())
      std::cout << (passed ? "promoted " : "FORCED: promoted despite failed gates ")
                << target.text() << " to " << alias << " (was "
                << (observed ? "v" + std::to_string(observed) : "unset") << ")\n";
    else
      std::cout << "not promoted: " << alias << " stays at "
                << (observed ? "v" + std::to_string(observed) : "unset") << "\n";
  });
  return result.promoted() ? kSuccess : kGateFailed;
}

llvm::Expected<int> runProtect(const ParsedArgs &args) {
  auto name = required(args, "name");
  if (!name)
    return name.takeError();
  auto alias = required(args, "alias");
  if (!alias)
    return alias.takeError();
  auto policyPath = required(args, "policy");
  if (!policyPath)
    return policyPath.takeError();
  auto reason = optionalText(args, "reason", kMaxReasonBytes);
  if (!reason)
    return reason.takeError();
  if (llvm::Error error = registry::validateModelName(*name))
    return error;
  if (llvm::Error error = registry::validateAliasName(*alias))
    return error;
  auto absolute = std::filesystem::absolute(*policyPath).lexically_normal().string();
  auto policy = policyFor(args, absolute);
  if (!policy)
    return policy.takeError();
  if (llvm::Error error = gates::requireBudgets(*policy))
    return error;
  auto files = gates::policyFileDigests(*policy);
  if (!files)
    return files.takeError();
  auto store = openStoreFor(args.common);
  if (!store)
    return store.takeError();
  registry::ProtectRequest request{*name,        *alias, policy->digest, policy->text,
                                   policy->path, *files, currentActor(), *reason};
  auto protection = (*store)->protectAlias(request);
  if (!protection)
    return protection.takeError();
  emit(args.common.json, *protection, [&] {
    std::cout << "protected " << *name << "@" << *alias << ": promotion runs policy "
              << protection->policy_digest() << " (" << escapeUnprintable(policy->path) << ", "
              << protection->files_size() << " data files bound by digest)\n";
  });
  return kSuccess;
}

llvm::Expected<int> runRollback(const ParsedArgs &args) {
  auto name = required(args, "name");
  if (!name)
    return name.takeError();
  if (llvm::Error error = registry::validateModelName(*name))
    return error;
  auto alias = required(args, "alias");
  if (!alias)
    return alias.takeError();
  auto store = openStoreFor(args.common);
  if (!store)
    return store.takeError();
  auto reason = optionalText(args, "reason", kMaxReasonBytes);
  if (!reason)
    return reason.takeError();
  auto move = (*store)->rollbackAlias(*name, *alias, currentActor(), *reason);
  if (!move)
    return move.takeError();
  emit(args.common.json, *move, [&] {
    std::cout << "rolled back " << *name << "@" << *alias << ": v" << move->before() << " -> v"
              << move->after() << "\n";
  });
  return kSuccess;
}

} // namespace

std::vector<CommandSpec> promotionCommands() {
  return {
      {"gate run",
       "--policy P.yaml --candidate NAME@V [--baseline NAME@V|NAME@ALIAS]"
       " [--report R.html] [--junit R.xml] [--markdown R.md]",
       "run a policy's gates and store the report",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("policy", po::value<std::string>(), "policy file (YAML)")(
             "candidate", po::value<std::string>(), "the new version NAME@V")(
             "baseline", po::value<std::string>(), "the version it replaces");
         declareGateOptions(options);
       },
       runGate},
      {"alias protect", "NAME ALIAS --policy P.yaml [--reason TEXT]",
       "bind a policy to an alias: promotion to it then always runs that policy",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("name", po::value<std::string>(),
                               "model name")("alias", po::value<std::string>(), "alias to protect")(
             "policy", po::value<std::string>(),
             "policy file (YAML): at least one gate, each with a budget")(
             "reason", po::value<std::string>(), "why, for the audit log (at most 4096 bytes)")(
             "plugins", po::value<std::vector<std::string>>(),
             "load gate plugins (*.so) from DIR (also GRACEFUL_PLUGIN_PATH)");
         pos.add("name", 1).add("alias", 1);
       },
       runProtect},
      {"promote",
       "NAME@V --to ALIAS [--policy P.yaml] [--expect V|none] [--force --reason TEXT]"
       " [--report R.html] [--junit R.xml] [--markdown R.md]",
       "move an alias to a version if the policy's gates pass",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("target", po::value<std::string>(), "the version NAME@V")(
             "to", po::value<std::string>(), "alias to move")(
             "policy", po::value<std::string>(),
             "policy file (YAML); a protected alias runs its bound policy, and a different "
             "one is refused")(
             "expect", po::value<std::string>(),
             "only if the alias points at this version now ('none': does not exist)")(
             "force", po::bool_switch(), "promote even if gates fail (audited with the report)")(
             "override", po::bool_switch(), "the same as --force (older spelling)")(
             "reason", po::value<std::string>(), "why, for the audit log (at most 4096 bytes)");
         declareGateOptions(options);
         pos.add("target", 1);
       },
       runPromote},
      {"rollback", "NAME --alias ALIAS [--reason TEXT]",
       "move an alias back to its previous holder",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("name", po::value<std::string>(), "model name")(
             "alias", po::value<std::string>(), "alias to roll back")(
             "reason", po::value<std::string>(), "why, for the audit log (at most 4096 bytes)");
         pos.add("name", 1);
       },
       runRollback},
  };
}

} // namespace graceful::cli
