// Commands that move aliases behind gates, and read their reports back:
// gate run, promote, rollback, alias protect, report show, report list. Each
// parses its flags into a request, calls operations/ and prints the answer.
#include "command.h"
#include "graceful/gates/report.h"
#include "graceful/operations/operations.h"
#include "graceful/support/error.h"
#include "graceful/support/format.h"
#include "graceful/support/identity.h"
#include "output.h"

#include <iostream>

namespace graceful::cli {
namespace {

void printReport(const proto::GateReport &report) {
  std::cout << "gates " << report.verdict() << " for " << report.candidate()
            << gates::describeComparison(
                   report, " against ", [](const std::string &text) { return text; }, "");
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

proto::ReportFiles reportFiles(const ParsedArgs &args) {
  proto::ReportFiles files;
  files.set_html(optional(args, "report"));
  files.set_junit(optional(args, "junit"));
  files.set_markdown(optional(args, "markdown"));
  return files;
}

void addPlugins(const ParsedArgs &args, google::protobuf::RepeatedPtrField<std::string> &into) {
  for (const std::string &dir : many(args, "plugins"))
    into.Add(std::string(dir));
}

void declareReportFiles(po::options_description &options) {
  options.add_options()("report", po::value<std::string>(), "write an HTML report here")(
      "junit", po::value<std::string>(), "write a JUnit XML report here")(
      "markdown", po::value<std::string>(), "write a Markdown summary here");
}

void declareGateOptions(po::options_description &options) {
  options.add_options()("plugins", po::value<std::vector<std::string>>(),
                        "load gate plugins (*.so) from DIR (also GRACEFUL_PLUGIN_PATH)");
  declareReportFiles(options);
}

llvm::Expected<int> runGate(const ParsedArgs &args) {
  proto::GateRunRequest request;
  request.set_policy(optional(args, "policy"));
  request.set_candidate(optional(args, "candidate"));
  request.set_baseline(optional(args, "baseline"));
  *request.mutable_reports() = reportFiles(args);
  addPlugins(args, *request.mutable_plugin_dirs());
  auto report = changeStore<proto::GateReport>(
      args.common, [&](const Remote &server) { return remote::runGates(server, request); },
      [&](operations::Context &context) { return operations::runGates(context, request); },
      !args.common.json);
  if (!report)
    return report.takeError();
  emit(args.common.json, *report, [&] {
    printReport(*report);
    std::cout << "stored as gate report #" << report->report_id() << "\n";
  });
  return report->verdict() == "pass" ? kSuccess : kGateFailed;
}

std::string holderText(int version) { return version ? "v" + std::to_string(version) : "unset"; }

void printPromotion(const proto::PromotionResult &result, const proto::PromoteRequest &request) {
  if (result.unchanged()) {
    std::cout << request.target() << " holds " << request.alias()
              << " already: nothing to do, nothing recorded\n";
    return;
  }
  const proto::GateReport &report = result.report();
  if (result.reused_report())
    std::cout << "reusing stored gate report #" << result.report_id()
              << " (same candidate, baseline, policy and data)\n";
  printReport(report);
  std::cout << "gate report #" << result.report_id() << "\n";
  bool passed = report.verdict() == "pass";
  if (result.promoted())
    std::cout << (passed ? "promoted " : "FORCED: promoted despite failed gates ")
              << request.target() << " to " << request.alias() << " (was "
              << holderText(result.previous()) << ")\n";
  else if (result.previous())
    std::cout << "not promoted: " << request.alias() << " stays at v" << result.previous() << "\n";
  else
    std::cout << "not promoted: " << request.alias() << " stays unset\n";
}

llvm::Expected<int> runPromote(const ParsedArgs &args) {
  proto::PromoteRequest request;
  request.set_target(optional(args, "target"));
  request.set_alias(optional(args, "to"));
  request.set_policy(optional(args, "policy"));
  request.set_expect(optional(args, "expect"));
  request.set_force(args.values["force"].as<bool>() || args.values["override"].as<bool>());
  request.set_reason(optional(args, "reason"));
  *request.mutable_reports() = reportFiles(args);
  addPlugins(args, *request.mutable_plugin_dirs());
  auto result = changeStore<proto::PromotionResult>(
      args.common, [&](const Remote &server) { return remote::promote(server, request); },
      [&](operations::Context &context) { return operations::promote(context, request); },
      !args.common.json);
  if (!result)
    return result.takeError();
  emit(args.common.json, *result, [&] { printPromotion(*result, request); });
  return result->promoted() || result->unchanged() ? kSuccess : kGateFailed;
}

llvm::Expected<int> runProtect(const ParsedArgs &args) {
  proto::ProtectAliasRequest request;
  auto name = required(args, "name");
  if (!name)
    return name.takeError();
  auto alias = required(args, "alias");
  if (!alias)
    return alias.takeError();
  auto policy = required(args, "policy");
  if (!policy)
    return policy.takeError();
  request.set_model(*name);
  request.set_alias(*alias);
  request.set_policy(*policy);
  request.set_reason(optional(args, "reason"));
  addPlugins(args, *request.mutable_plugin_dirs());
  auto protection = changeStore<proto::AliasProtection>(
      args.common, [&](const Remote &server) { return remote::protectAlias(server, request); },
      [&](operations::Context &context) { return operations::protectAlias(context, request); });
  if (!protection)
    return protection.takeError();
  emit(args.common.json, *protection, [&] {
    std::cout << "protected " << *name << "@" << *alias << ": promotion runs policy "
              << protection->policy_digest() << " (" << escapeUnprintable(protection->policy_path())
              << ", " << protection->files_size() << " data files bound by digest)\n";
  });
  return kSuccess;
}

llvm::Expected<int> runRollback(const ParsedArgs &args) {
  auto request = aliasRequest<proto::RollbackRequest>(args, "name");
  if (!request)
    return request.takeError();
  auto move = changeStore<proto::AliasMove>(
      args.common, [&](const Remote &server) { return remote::rollback(server, *request); },
      [&](operations::Context &context) { return operations::rollback(context, *request); });
  if (!move)
    return move.takeError();
  emit(args.common.json, *move, [&] {
    std::cout << "rolled back " << move->model() << "@" << move->alias() << ": v" << move->before()
              << " -> v" << move->after();
    if (move->gate_report_id())
      std::cout << " (gate report #" << move->gate_report_id() << ")";
    std::cout << "\n";
  });
  return kSuccess;
}

llvm::Expected<int> runReportShow(const ParsedArgs &args) {
  auto selector = required(args, "selector");
  if (!selector)
    return selector.takeError();
  proto::ReportShowRequest request;
  request.set_selector(*selector);
  *request.mutable_reports() = reportFiles(args);
  auto stored = onStore<proto::StoredGateReport>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::showReport(server, request); },
      [&](registry::Store &store) { return operations::showReport(store, request); });
  if (!stored)
    return stored.takeError();
  emit(args.common.json, *stored, [&] {
    std::cout << "gate report #" << stored->id() << ", " << formatTime(stored->created_at())
              << " by " << escapeUnprintable(stored->created_by()) << "\n";
    printReport(stored->report());
  });
  return kSuccess;
}

llvm::Expected<int> runReportList(const ParsedArgs &args) {
  auto name = required(args, "name");
  if (!name)
    return name.takeError();
  auto list = onStore<proto::GateReportList>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::listReports(server, *name); },
      [&](registry::Store &store) { return operations::listReports(store, *name); });
  if (!list)
    return list.takeError();
  emit(args.common.json, *list, [&] {
    if (list->reports().empty())
      std::cout << *name << " has no gate reports\n";
    for (const proto::StoredGateReport &stored : list->reports()) {
      const proto::GateReport &report = stored.report();
      std::cout << "#" << stored.id() << " " << formatTime(stored.created_at()) << " "
                << report.candidate()
                << gates::describeComparison(
                       report, " vs ", [](const std::string &text) { return text; },
                       " (no baseline)")
                << " " << report.verdict() << " by " << escapeUnprintable(stored.created_by())
                << "\n";
    }
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
       runGate,
       /*runsModels=*/true},
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
       runPromote,
       /*runsModels=*/true},
      {"rollback", "NAME@ALIAS [--reason TEXT]   (or NAME --alias ALIAS)",
       "move an alias back to its previous holder",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("name", po::value<std::string>(),
                               "NAME@ALIAS, or NAME with --alias")(
             "alias", po::value<std::string>(), "alias to roll back")(
             "reason", po::value<std::string>(), "why, for the audit log (at most 4096 bytes)");
         pos.add("name", 1);
       },
       runRollback},
      {"report show", "ID|NAME@V|NAME@ALIAS [--report R.html] [--junit R.xml] [--markdown R.md]",
       "show a stored gate report (NAME@ALIAS: the one its holder was promoted with)",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("selector", po::value<std::string>(),
                               "report id, NAME@V (its newest report) or NAME@ALIAS");
         declareReportFiles(options);
         pos.add("selector", 1);
       },
       runReportShow},
      {"report list", "NAME", "list a model's stored gate reports",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("name", po::value<std::string>(), "model name");
         pos.add("name", 1);
       },
       runReportList},
  };
}

} // namespace graceful::cli
