// Commands that record and read the registry: init, register, tag, list,
// show, lineage, history, audit, check.
#include "command.h"
#include "graceful/operations/operations.h"
#include "graceful/support/error.h"
#include "graceful/support/format.h"
#include "graceful/support/identity.h"
#include "graceful/support/limits.h"
#include "output.h"

#include <algorithm>
#include <charconv>
#include <google/protobuf/util/time_util.h>
#include <iostream>
#include <set>

namespace graceful::cli {
namespace {

using registry::VersionSelector;

std::string versionName(const proto::VersionRef &ref) {
  return ref.name() + "@" + std::to_string(ref.version());
}

std::string versionName(const proto::ModelVersion &version) {
  return version.name() + "@" + std::to_string(version.version());
}

std::string joinAliases(const google::protobuf::RepeatedPtrField<std::string> &aliases) {
  std::string text;
  for (const std::string &alias : aliases)
    text += (text.empty() ? "" : ", ") + alias;
  return text;
}

void printVersion(const proto::ModelVersion &version) {
  std::cout << versionName(version) << "\n"
            << "  digest:      " << version.digest() << "\n"
            << "  size:        " << version.size_bytes() << " bytes\n"
            << "  created:     " << formatTime(version.created_at()) << " by "
            << escapeUnprintable(version.created_by()) << "\n";
  if (!version.description().empty())
    std::cout << "  description: " << escapeUnprintable(version.description()) << "\n";
  if (version.aliases_size() > 0)
    std::cout << "  aliases:     " << joinAliases(version.aliases()) << "\n";
  std::map<std::string, std::string> tags(version.tags().begin(), version.tags().end());
  for (const auto &[key, value] : tags)
    std::cout << "  tag:         " << escapeUnprintable(key) << "=" << escapeUnprintable(value)
              << "\n";
  for (const proto::LineageEdge &edge : version.parents())
    std::cout << "  parent:      " << versionName(edge.parent()) << " (" << edge.kind() << ")\n";
  if (version.has_holder()) {
    const proto::AliasProvenance &holder = version.holder();
    std::cout << "  holds:       " << holder.alias() << " since " << formatTime(holder.since())
              << " (" << holder.action() << " by " << escapeUnprintable(holder.actor());
    if (holder.gate_report_id())
      std::cout << ", gate report #" << holder.gate_report_id();
    if (!holder.reason().empty())
      std::cout << ": " << escapeUnprintable(holder.reason());
    std::cout << ")\n";
  }
}

// A model's own description and tags, under its name.
void printModelInfo(const proto::Model &model) {
  if (!model.description().empty())
    std::cout << "  description: " << escapeUnprintable(model.description()) << "\n";
  std::map<std::string, std::string> tags(model.tags().begin(), model.tags().end());
  for (const auto &[key, value] : tags)
    std::cout << "  tag:         " << escapeUnprintable(key) << "=" << escapeUnprintable(value)
              << "\n";
}

// ---- init ----------------------------------------------------------------

llvm::Expected<int> runInit(const ParsedArgs &args) {
  auto config = registry::storeConfigFromEnvironment(args.common.store, args.common.artifacts);
  auto store = registry::initStore(config);
  if (!store)
    return store.takeError();
  auto models = (*store)->listModels();
  if (!models)
    return models.takeError();
  proto::CheckReport summary;
  summary.set_ok(true);
  summary.set_models(models->models_size());
  emit(args.common.json, summary, [&] {
    std::cout << "initialized registry " << (*store)->describe() << " (artifacts in "
              << (*store)->artifacts().root() << ")\n";
  });
  return kSuccess;
}

// ---- register ------------------------------------------------------------

llvm::Expected<int> runRegister(const ParsedArgs &args) {
  proto::RegisterRequest request;
  auto name = required(args, "name");
  if (!name)
    return name.takeError();
  auto onnx = required(args, "onnx");
  if (!onnx)
    return onnx.takeError();
  request.set_name(*name);
  request.set_onnx(*onnx);
  request.set_description(optional(args, "description"));
  for (const std::string &parent : many(args, "parent"))
    request.add_parents(parent);
  for (const std::string &parent : many(args, "parent-if-exists"))
    request.add_parents_if_exist(parent);
  request.set_allow_duplicate(args.values["allow-duplicate"].as<bool>());
  auto tags = tagsFrom(args, "tag");
  if (!tags)
    return tags.takeError();
  request.mutable_tags()->insert(tags->begin(), tags->end());
  if (llvm::Error error = registry::validateModelName(*name))
    return error;
  auto result = changeStore<proto::RegisterResult>(
      args.common, [&](const Remote &server) { return remote::registerModel(server, request); },
      [&](operations::Context &context) { return operations::registerModel(context, request); });
  if (!result)
    return result.takeError();
  emit(args.common.json, *result, [&] {
    const proto::ModelVersion &version = result->version();
    std::cout << (result->existing() ? "already registered " : "registered ")
              << versionName(version) << " (" << version.digest() << ")";
    if (result->existing())
      std::cout << ": identical bytes, nothing recorded (--allow-duplicate registers anew)";
    std::cout << "\n";
    for (const std::string &parent : result->skipped_parents())
      std::cout << "  no parent " << parent << " yet: left out\n";
  });
  return kSuccess;
}

// ---- tag -------------------------------------------------------------------

llvm::Expected<int> runTag(const ParsedArgs &args) {
  auto target = required(args, "target");
  if (!target)
    return target.takeError();
  proto::TagRequest request;
  request.set_target(*target);
  auto tags = tagsFrom(args, "set");
  if (!tags)
    return tags.takeError();
  request.mutable_set()->insert(tags->begin(), tags->end());
  for (const std::string &key : many(args, "remove"))
    request.add_remove(key);
  auto reason = optionalText(args, "reason", kMaxReasonBytes);
  if (!reason)
    return reason.takeError();
  request.set_reason(*reason);
  auto version = changeStore<proto::ModelVersion>(
      args.common, [&](const Remote &server) { return remote::tag(server, request); },
      [&](operations::Context &context) { return operations::tag(context, request); });
  if (!version)
    return version.takeError();
  emit(args.common.json, *version, [&] { printVersion(*version); });
  return kSuccess;
}

// ---- list / show -------------------------------------------------------------

llvm::Expected<int> runList(const ParsedArgs &args) {
  auto tags = tagsFrom(args, "tag");
  if (!tags)
    return tags.takeError();
  auto models = onStore<proto::ModelList>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::listModels(server, *tags); },
      [&](registry::Store &store) { return operations::listModels(store, *tags); });
  if (!models)
    return models.takeError();
  emit(args.common.json, *models, [&] {
    if (models->models().empty())
      std::cout << "no models registered\n";
    for (const proto::Model &model : models->models()) {
      std::cout << model.name() << "  latest v" << model.latest_version();
      std::map<std::string, int> aliases(model.aliases().begin(), model.aliases().end());
      for (const auto &[alias, version] : aliases)
        std::cout << "  " << alias << "=v" << version;
      std::cout << "\n";
      printModelInfo(model);
    }
  });
  return kSuccess;
}

llvm::Expected<int> runShow(const ParsedArgs &args) {
  auto target = required(args, "target");
  if (!target)
    return target.takeError();
  auto selector = registry::parseSelector(*target);
  if (!selector)
    return selector.takeError();
  if (selector->alias || selector->version) {
    auto version = onStore<proto::ModelVersion>(
        args.common, StoreAccess::ReadOnly,
        [&](const Remote &server) { return remote::getVersion(server, *target); },
        [&](registry::Store &store) -> llvm::Expected<proto::ModelVersion> {
          if (selector->alias)
            return operations::requireAliasHolder(store, selector->name, *selector->alias);
          return store.getVersion(*selector);
        });
    if (!version)
      return version.takeError();
    emit(args.common.json, *version, [&] { printVersion(*version); });
    return kSuccess;
  }
  auto detail = onStore<proto::ModelDetail>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::describeModel(server, selector->name); },
      [&](registry::Store &store) { return store.describeModel(selector->name); });
  if (!detail)
    return detail.takeError();
  emit(args.common.json, *detail, [&] {
    std::cout << "model " << detail->model().name() << " (created "
              << formatTime(detail->model().created_at()) << ")\n";
    printModelInfo(detail->model());
    for (const proto::ModelVersion &version : detail->versions())
      printVersion(version);
  });
  return kSuccess;
}

llvm::Expected<int> runDownload(const ParsedArgs &args) {
  auto target = required(args, "target");
  if (!target)
    return target.takeError();
  auto out = required(args, "out");
  if (!out)
    return out.takeError();
  auto version = onStore<proto::ModelVersion>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::download(server, *target, *out); },
      [&](registry::Store &store) { return operations::download(store, *target, *out); });
  if (!version)
    return version.takeError();
  emit(args.common.json, *version, [&] {
    std::cout << "wrote " << versionName(*version) << " to " << *out << " (" << version->digest()
              << ", verified)\n";
  });
  return kSuccess;
}

llvm::Expected<int> runAliasSet(const ParsedArgs &args) {
  auto target = required(args, "target");
  if (!target)
    return target.takeError();
  auto alias = required(args, "alias");
  if (!alias)
    return alias.takeError();
  std::string reason = optional(args, "reason");
  auto move = changeStore<proto::AliasMove>(
      args.common,
      [&](const Remote &server) { return remote::setAlias(server, *target, *alias, reason); },
      [&](operations::Context &context) {
        return operations::setAlias(context, *target, *alias, reason);
      });
  if (!move)
    return move.takeError();
  emit(args.common.json, *move, [&] {
    std::cout << "set " << move->model() << "@" << move->alias() << " to v" << move->after()
              << " (was " << (move->before() ? "v" + std::to_string(move->before()) : "unset")
              << ")\n";
  });
  return kSuccess;
}

llvm::Expected<int> runAliasDelete(const ParsedArgs &args) {
  auto request = aliasRequest<proto::AliasDeleteRequest>(args, "target");
  if (!request)
    return request.takeError();
  auto move = changeStore<proto::AliasMove>(
      args.common, [&](const Remote &server) { return remote::deleteAlias(server, *request); },
      [&](operations::Context &context) { return operations::deleteAlias(context, *request); });
  if (!move)
    return move.takeError();
  emit(args.common.json, *move, [&] {
    std::cout << "deleted " << move->model() << "@" << move->alias() << " (was v" << move->before()
              << ")\n";
  });
  return kSuccess;
}

// ---- model describe / model tag ------------------------------------------------

llvm::Expected<int> updateModelWith(const ParsedArgs &args, proto::ModelUpdateRequest &request) {
  auto name = required(args, "name");
  if (!name)
    return name.takeError();
  request.set_name(*name);
  request.set_reason(optional(args, "reason"));
  auto store = openStoreFor(args.common);
  if (!store)
    return store.takeError();
  operations::Context context{**store, currentActor(), false};
  auto model = operations::updateModel(context, request);
  if (!model)
    return model.takeError();
  emit(args.common.json, *model, [&] {
    std::cout << "model " << model->name() << "\n";
    printModelInfo(*model);
  });
  return kSuccess;
}

llvm::Expected<int> runModelDescribe(const ParsedArgs &args) {
  auto description = required(args, "description");
  if (!description)
    return description.takeError();
  proto::ModelUpdateRequest request;
  request.set_description(*description);
  return updateModelWith(args, request);
}

llvm::Expected<int> runModelTag(const ParsedArgs &args) {
  auto tags = tagsFrom(args, "set");
  if (!tags)
    return tags.takeError();
  proto::ModelUpdateRequest request;
  request.mutable_set_tags()->insert(tags->begin(), tags->end());
  for (const std::string &key : many(args, "remove"))
    request.add_remove_tags(key);
  if (tags->empty() && request.remove_tags().empty())
    return makeError(ErrorKind::BadInput, "graceful model tag: give K=V to set or --remove K");
  return updateModelWith(args, request);
}

// ---- lineage -------------------------------------------------------------------

std::string dotQuote(const std::string &text) { return "\"" + text + "\""; }

void printLineageDot(const proto::Lineage &lineage) {
  std::cout << "digraph lineage {\n  rankdir=BT;\n  node [shape=box];\n";
  for (const proto::ModelVersion &node : lineage.nodes()) {
    std::string label = versionName(node);
    if (node.aliases_size() > 0)
      label += "\\n[" + joinAliases(node.aliases()) + "]";
    std::cout << "  " << dotQuote(versionName(node)) << " [label=" << dotQuote(label) << "];\n";
  }
  for (const proto::Lineage::Edge &edge : lineage.edges())
    std::cout << "  " << dotQuote(versionName(edge.child())) << " -> "
              << dotQuote(versionName(edge.parent())) << " [label=" << dotQuote(edge.kind())
              << "];\n";
  std::cout << "}\n";
}

// Each version with its ancestors indented beneath it; an ancestor already
// printed is marked instead of repeated (the lineage is a DAG).
void printLineageTree(const proto::Lineage &lineage, const std::string &model) {
  std::map<std::string, const proto::ModelVersion *> byName;
  for (const proto::ModelVersion &node : lineage.nodes())
    byName[versionName(node)] = &node;
  std::set<std::string> printed;
  std::function<void(const std::string &, const std::string &, int)> visit =
      [&](const std::string &name, const std::string &kind, int depth) {
        std::cout << std::string(static_cast<size_t>(depth) * 2, ' ') << (depth > 0 ? "<- " : "")
                  << name;
        if (!kind.empty())
          std::cout << " (" << kind << ")";
        const proto::ModelVersion *node = byName[name];
        if (node != nullptr && node->aliases_size() > 0)
          std::cout << " [" << joinAliases(node->aliases()) << "]";
        bool repeat = !printed.insert(name).second;
        std::cout << (repeat && node != nullptr && node->parents_size() > 0 ? " ...\n" : "\n");
        if (repeat || node == nullptr)
          return;
        for (const proto::LineageEdge &edge : node->parents())
          visit(versionName(edge.parent()), edge.kind(), depth + 1);
      };
  for (auto it = lineage.nodes().rbegin(); it != lineage.nodes().rend(); ++it)
    if (it->name() == model || it->parents_size() > 0)
      if (!printed.contains(versionName(*it)))
        visit(versionName(*it), "", 0);
}

llvm::Expected<int> runLineage(const ParsedArgs &args) {
  auto name = required(args, "name");
  if (!name)
    return name.takeError();
  if (llvm::Error error = registry::validateModelName(*name))
    return error;
  auto lineage = onStore<proto::Lineage>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::lineage(server, *name); },
      [&](registry::Store &store) { return store.lineage(*name); });
  if (!lineage)
    return lineage.takeError();
  if (args.values["dot"].as<bool>())
    printLineageDot(*lineage);
  else
    emit(args.common.json, *lineage, [&] { printLineageTree(*lineage, *name); });
  return kSuccess;
}

// ---- history / audit -------------------------------------------------------------

// history NAME, or NAME@ALIAS (or --alias) for one alias's tenures.
llvm::Expected<int> runHistory(const ParsedArgs &args) {
  auto target = required(args, "name");
  if (!target)
    return target.takeError();
  std::string name = *target, alias = optional(args, "alias");
  if (target->find('@') != std::string::npos || !alias.empty()) {
    auto names = operations::modelAndAlias(*target, alias);
    if (!names)
      return names.takeError();
    std::tie(name, alias) = *names;
  }
  if (llvm::Error error = registry::validateModelName(name))
    return error;
  auto history = onStore<proto::AliasHistory>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::aliasHistory(server, name, alias); },
      [&](registry::Store &store) { return operations::aliasHistory(store, name, alias); });
  if (!history)
    return history.takeError();
  emit(args.common.json, *history, [&] {
    if (history->tenures().empty())
      std::cout << name
                << (alias.empty() ? " has never had an alias\n"
                                  : " has never had alias " + alias + "\n");
    for (const proto::AliasTenure &tenure : history->tenures()) {
      std::cout << tenure.alias() << " -> v" << tenure.version() << "  "
                << formatTime(tenure.since()) << " .. "
                << (tenure.has_until() ? formatTime(tenure.until()) : std::string("now")) << "  ("
                << tenure.action() << " by " << escapeUnprintable(tenure.actor());
      if (tenure.gate_report_id())
        std::cout << ", gate report #" << tenure.gate_report_id();
      if (!tenure.reason().empty())
        std::cout << ": " << escapeUnprintable(tenure.reason());
      std::cout << ")\n";
    }
  });
  return kSuccess;
}

llvm::Expected<int> runAudit(const ParsedArgs &args) {
  registry::AuditFilter filter;
  filter.model = optional(args, "model");
  filter.limit = args.values["limit"].as<int>();
  filter.action = optional(args, "action");
  filter.alias = optional(args, "alias");
  std::string since = optional(args, "since");
  if (!since.empty())
    if (llvm::Error error = operations::parseAuditSince(since, "--since", filter))
      return error;
  auto log = onStore<proto::AuditLog>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) {
        return remote::auditLog(server, filter.model, since, filter.action, filter.alias,
                                filter.limit);
      },
      [&](registry::Store &store) { return store.auditLog(filter); });
  if (!log)
    return log.takeError();
  emit(args.common.json, *log, [&] {
    for (const proto::AuditEvent &event : log->events()) {
      // Every field is escaped: actors, reasons and tag values are whatever
      // a user typed, and a raw newline in one would forge the next line.
      std::string before = escapeUnprintable(event.before()),
                  after = escapeUnprintable(event.after());
      std::cout << "#" << event.id() << " " << formatTime(event.at()) << " "
                << escapeUnprintable(event.actor()) << " " << escapeUnprintable(event.action())
                << " " << escapeUnprintable(event.model());
      // Events on a model as a whole or on an alias's policy name no version.
      if (event.version() != 0)
        std::cout << "@" << event.version();
      if (!event.alias().empty())
        std::cout << " alias " << escapeUnprintable(event.alias()) << ": "
                  << (before.empty() ? "-" : before) << " -> " << (after.empty() ? "-" : after);
      else if (event.action() == "describe")
        std::cout << " description \"" << before << "\" -> \"" << after << "\"";
      else if (event.action() == "register")
        std::cout << " " << after;
      else if (event.action() == "gate-report")
        std::cout << " verdict " << after << (before.empty() ? "" : " against " + before);
      else
        std::cout << " tags [" << before << "] -> [" << after << "]";
      if (!event.reason().empty())
        std::cout << " (" << escapeUnprintable(event.reason()) << ")";
      if (event.gate_report_id() != 0)
        std::cout << " report #" << event.gate_report_id();
      std::cout << "\n";
    }
  });
  return kSuccess;
}

// ---- check -------------------------------------------------------------------------

// --head prints only the chain head, for a pipeline to pin; --expect-head
// fails unless the chain still passes through a head pinned earlier.
llvm::Expected<int> runCheck(const ParsedArgs &args) {
  std::optional<registry::ChainHead> pinned;
  if (std::string text = optional(args, "expect-head"); !text.empty()) {
    auto head = registry::parseChainHead(text);
    if (!head)
      return head.takeError();
    pinned = std::move(*head);
  }
  auto store = openStoreFor(args.common, StoreAccess::ReadOnly);
  if (!store)
    return store.takeError();
  auto report = (*store)->check(pinned);
  if (!report)
    return report.takeError();
  bool headOnly = args.values["head"].as<bool>();
  emit(args.common.json, *report, [&] {
    if (headOnly && report->ok()) {
      std::cout << report->chain_head() << "\n";
      return;
    }
    std::cout << (report->ok() ? "ok" : "PROBLEMS") << ": " << report->models() << " models, "
              << report->versions() << " versions, " << report->artifacts_verified()
              << " artifacts verified, " << report->aliases() << " aliases, "
              << report->audit_events() << " audit events, " << report->orphan_artifacts()
              << " orphan artifacts\n";
    std::cout << "  chain head " << report->chain_head() << "\n";
    for (const std::string &problem : report->problems())
      std::cout << "  " << escapeUnprintable(problem) << "\n";
  });
  return report->ok() ? kSuccess : kGateFailed;
}

void noOptions(po::options_description &, po::positional_options_description &) {}

void namePositional(po::options_description &options, po::positional_options_description &pos,
                    const char *name, const char *help) {
  options.add_options()(name, po::value<std::string>(), help);
  pos.add(name, 1);
}

} // namespace

std::vector<CommandSpec> registryCommands() {
  return {
      {"init", "", "create the registry (or migrate an older one)", noOptions, runInit},
      {"register",
       "NAME --onnx FILE [--parent NAME@V[:KIND]]... [--parent-if-exists NAME@ALIAS[:KIND]]..."
       " [--tag K=V]... [--allow-duplicate]",
       "record a new version of a model from an ONNX file",
       [](po::options_description &options, po::positional_options_description &pos) {
         namePositional(options, pos, "name", "model name");
         options.add_options()("onnx", po::value<std::string>(), "ONNX model file")(
             "parent", po::value<std::vector<std::string>>(),
             "parent version NAME@V[:KIND]; KIND is fine-tuned-from, distilled-from, "
             "retrained-from (default), rewritten-from or compatible-with")(
             "tag", po::value<std::vector<std::string>>(), "tag K=V (value at most 1024 bytes)")(
             "description", po::value<std::string>(), "free text, at most 4096 bytes")(
             "parent-if-exists", po::value<std::vector<std::string>>(),
             "a parent recorded only if it resolves (NAME@ALIAS on a fresh registry: the first "
             "registration of a pipeline)")(
             "allow-duplicate", po::bool_switch(),
             "register bytes identical to an existing version as a new version (by default "
             "that version is returned, marked existing)");
       },
       runRegister},
      {"tag", "NAME[@V|@ALIAS] [K=V]... [--remove K]... [--reason TEXT]",
       "set or remove tags of a version (audited)",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("target", po::value<std::string>(), "the version")(
             "set", po::value<std::vector<std::string>>(), "tag K=V (value at most 1024 bytes)")(
             "remove", po::value<std::vector<std::string>>(), "tag key to remove")(
             "reason", po::value<std::string>(), "why, for the audit log (at most 4096 bytes)");
         pos.add("target", 1).add("set", -1);
       },
       runTag},
      {"list", "[--tag K=V]...", "list models with their latest version and aliases",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("tag", po::value<std::vector<std::string>>(),
                               "only models tagged K=V, or with a version tagged so (all of "
                               "them, if several)");
       },
       runList},
      {"download", "NAME@V|NAME@ALIAS --out FILE",
       "write a version's ONNX artifact to FILE, checked against its digest",
       [](po::options_description &options, po::positional_options_description &pos) {
         namePositional(options, pos, "target", "NAME@V or NAME@ALIAS");
         options.add_options()("out", po::value<std::string>(), "where to write the model");
       },
       runDownload},
      {"alias set", "NAME@V ALIAS [--reason TEXT]",
       "point an alias at a version without gates (audited; refused on a protected alias)",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("target", po::value<std::string>(), "the version NAME@V")(
             "alias", po::value<std::string>(), "the alias")(
             "reason", po::value<std::string>(), "why, for the audit log (at most 4096 bytes)");
         pos.add("target", 1).add("alias", 1);
       },
       runAliasSet},
      {"alias delete", "NAME@ALIAS [--reason TEXT]   (or NAME --alias ALIAS)",
       "remove an alias (audited; refused on a protected alias)",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("target", po::value<std::string>(),
                               "NAME@ALIAS, or NAME with --alias")(
             "alias", po::value<std::string>(), "the alias")(
             "reason", po::value<std::string>(), "why, for the audit log (at most 4096 bytes)");
         pos.add("target", 1);
       },
       runAliasDelete},
      {"model describe", "NAME --description TEXT [--reason TEXT]",
       "set a model's own description (audited)",
       [](po::options_description &options, po::positional_options_description &pos) {
         namePositional(options, pos, "name", "model name");
         options.add_options()("description", po::value<std::string>(),
                               "free text, at most 4096 bytes")(
             "reason", po::value<std::string>(), "why, for the audit log (at most 4096 bytes)");
       },
       runModelDescribe},
      {"model tag", "NAME [K=V]... [--remove K]... [--reason TEXT]",
       "set or remove a model's own tags (audited; `list --tag` finds them)",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("name", po::value<std::string>(), "model name")(
             "set", po::value<std::vector<std::string>>(), "tag K=V (value at most 1024 bytes)")(
             "remove", po::value<std::vector<std::string>>(), "tag key to remove")(
             "reason", po::value<std::string>(), "why, for the audit log (at most 4096 bytes)");
         pos.add("name", 1).add("set", -1);
       },
       runModelTag},
      {"show", "NAME[@V|@ALIAS]", "show a model's versions, or one version",
       [](po::options_description &options, po::positional_options_description &pos) {
         namePositional(options, pos, "target", "NAME, NAME@V or NAME@ALIAS");
       },
       runShow},
      {"lineage", "NAME [--dot]", "show the lineage DAG of a model's versions",
       [](po::options_description &options, po::positional_options_description &pos) {
         namePositional(options, pos, "name", "model name");
         options.add_options()("dot", po::bool_switch(), "print Graphviz dot");
       },
       runLineage},
      {"history", "NAME[@ALIAS] [--alias ALIAS]",
       "which version held each alias, since when, put there by whom with which report",
       [](po::options_description &options, po::positional_options_description &pos) {
         namePositional(options, pos, "name", "model name, or NAME@ALIAS for one alias");
         options.add_options()("alias", po::value<std::string>(), "only this alias");
       },
       runHistory},
      {"audit", "[--model NAME] [--since ID|TIME] [--action A] [--alias A] [--limit N]",
       "show the append-only audit log",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("model", po::value<std::string>(), "only this model")(
             "since", po::value<std::string>(),
             "only events after this event id, or at or after this RFC 3339 time")(
             "action", po::value<std::string>(),
             "only this action (register, tag, describe, model-tag, promote, force, rollback, "
             "alias-move, alias-delete, gate-report, refuse, protect, deny, ...)")(
             "alias", po::value<std::string>(), "only events on this alias")(
             "limit", po::value<int>()->default_value(0), "only the newest N events");
       },
       runAudit},
      {"check", "[--head] [--expect-head N:sha256:HEX]",
       "verify artifacts, aliases and the audit log's hash chain",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("head", po::bool_switch(),
                               "print only the chain head N:sha256:HEX (to pin it)")(
             "expect-head", po::value<std::string>(),
             "fail unless the chain still passes through this head (pinned earlier)");
       },
       runCheck},
  };
}

} // namespace graceful::cli
