// Commands that move aliases behind gates: gate run, promote, rollback.
#include "command.h"
#include "graceful/gates/gate.h"
#include "graceful/support/error.h"
#include "graceful/support/identity.h"
#include "output.h"

#include <charconv>
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
  for (const proto::GateResult &gate : report.gates()) {
    std::cout << "  " << gate.name() << ": " << gate.verdict() << "\n";
    std::map<std::string, double> metrics(gate.metrics().begin(), gate.metrics().end());
    for (const auto &[name, value] : metrics)
      std::cout << "    " << name << " = " << value << "\n";
    for (const std::string &violation : gate.violations())
      std::cout << "    violation: " << violation << "\n";
  }
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
  auto policy = gates::loadPolicy(*policyPath);
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
  auto report = gates::evaluatePolicy(*policy, **store, *candidate, baseline);
  if (!report)
    return report.takeError();
  auto stored = (*store)->storeGateReport(*report, currentActor());
  if (!stored)
    return stored.takeError();
  emit(args.common.json, *report, [&] {
    printReport(*report);
    std::cout << "stored as gate report #" << stored->id() << "\n";
  });
  return report->verdict() == "pass" ? kSuccess : kGateFailed;
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
  auto policyPath = required(args, "policy");
  if (!policyPath)
    return policyPath.takeError();
  auto expect = parseExpect(args);
  if (!expect)
    return expect.takeError();
  bool override = args.values["override"].as<bool>();
  std::string reason = optional(args, "reason");
  if (override && reason.empty())
    return makeError(ErrorKind::BadInput, "--override needs --reason: say why for the audit log");
  auto policy = gates::loadPolicy(*policyPath);
  if (!policy)
    return policy.takeError();

  auto store = openStoreFor(args.common);
  if (!store)
    return store.takeError();
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
  auto report = gates::evaluatePolicy(*policy, **store, *candidate, *baseline);
  if (!report)
    return report.takeError();

  proto::PromotionResult result;
  *result.mutable_report() = *report;
  bool passed = report->verdict() == "pass";
  if (passed || override) {
    // The gates judged the candidate against the holder we saw; if another
    // promotion moved the alias meanwhile, their verdict is stale: conflict.
    registry::AliasMoveRequest request{target->name,
                                       *alias,
                                       *target->version,
                                       observed,
                                       passed ? registry::AliasAction::Promote
                                              : registry::AliasAction::Override,
                                       currentActor(),
                                       reason,
                                       *report};
    auto move = (*store)->moveAlias(request);
    if (!move)
      return move.takeError();
    result.set_promoted(true);
    *result.mutable_move() = *move;
  }
  emit(args.common.json, result, [&] {
    printReport(*report);
    if (result.promoted())
      std::cout << (passed ? "promoted " : "OVERRIDE: promoted despite failed gates ")
                << target->text() << " to " << *alias << " (was "
                << (observed ? "v" + std::to_string(observed) : "unset") << ")\n";
    else
      std::cout << "not promoted: " << *alias << " stays at "
                << (observed ? "v" + std::to_string(observed) : "unset") << "\n";
  });
  return result.promoted() ? kSuccess : kGateFailed;
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
  auto move = (*store)->rollbackAlias(*name, *alias, currentActor(), optional(args, "reason"));
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
      {"gate run", "--policy P.yaml --candidate NAME@V [--baseline NAME@V|NAME@ALIAS]",
       "run a policy's gates and store the report",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("policy", po::value<std::string>(), "policy file (YAML)")(
             "candidate", po::value<std::string>(), "the new version NAME@V")(
             "baseline", po::value<std::string>(), "the version it replaces");
       },
       runGate},
      {"promote", "NAME@V --to ALIAS --policy P.yaml [--expect V|none] [--override --reason TEXT]",
       "move an alias to a version if the policy's gates pass",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("target", po::value<std::string>(), "the version NAME@V")(
             "to", po::value<std::string>(), "alias to move")("policy", po::value<std::string>(),
                                                              "policy file (YAML)")(
             "expect", po::value<std::string>(),
             "only if the alias points at this version now ('none': does not exist)")(
             "override", po::bool_switch(), "promote even if gates fail (audited)")(
             "reason", po::value<std::string>(), "why, for the audit log");
         pos.add("target", 1);
       },
       runPromote},
      {"rollback", "NAME --alias ALIAS [--reason TEXT]",
       "move an alias back to its previous holder",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("name", po::value<std::string>(), "model name")(
             "alias", po::value<std::string>(),
             "alias to roll back")("reason", po::value<std::string>(), "why, for the audit log");
         pos.add("name", 1);
       },
       runRollback},
  };
}

} // namespace graceful::cli
