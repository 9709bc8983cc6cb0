// Registration and read-back: register, alias holders, stored gate reports.
#include "graceful/gates/report.h"
#include "graceful/operations/operations.h"
#include "graceful/support/error.h"
#include "graceful/support/limits.h"

#include <algorithm>
#include <charconv>
#include <google/protobuf/util/time_util.h>

namespace graceful::operations {
namespace {

// The parents a registration records. --parent-if-exists parents that do
// not resolve (the first registration of a pipeline whose template names
// NAME@production) are left out and reported, and only those: any other
// failure (a malformed name, the store down) is still an error.
llvm::Error resolveParents(registry::Store &store, const proto::RegisterRequest &request,
                           registry::RegisterRequest &into, proto::RegisterResult &result) {
  for (const std::string &text : request.parents()) {
    auto parent = registry::parseParentSpec(text);
    if (!parent)
      return parent.takeError();
    into.parents.push_back(std::move(*parent));
  }
  for (const std::string &text : request.parents_if_exist()) {
    auto parent = registry::parseParentSpec(text);
    if (!parent)
      return parent.takeError();
    auto found = store.getVersion(parent->parent);
    if (found) {
      into.parents.push_back(std::move(*parent));
      continue;
    }
    ErrorReport report = describeError(found.takeError());
    if (report.kind != ErrorKind::NotFound)
      return makeError(report.kind, "parent " + text + ": " + report.message);
    result.add_skipped_parents(text);
  }
  return llvm::Error::success();
}

llvm::Error checkTagValue(const std::string &key, const std::string &value) {
  return checkLength("the value of tag '" + key + "'", value, kMaxTagValueBytes);
}

} // namespace

llvm::Expected<proto::RegisterResult> registerModel(Context &context,
                                                    const proto::RegisterRequest &request) {
  if (request.name().empty())
    return makeError(ErrorKind::BadInput, "missing NAME (see --help)");
  if (request.onnx().empty())
    return makeError(ErrorKind::BadInput, "missing --onnx (see --help)");
  if (llvm::Error error = registry::validateModelName(request.name()))
    return error;
  if (llvm::Error error = checkLength("--description", request.description(), kMaxDescriptionBytes))
    return error;
  registry::RegisterRequest record;
  record.name = request.name();
  record.artifactPath = request.onnx();
  record.description = request.description();
  record.tags = {request.tags().begin(), request.tags().end()};
  record.actor = context.actor;
  record.allowDuplicate = request.allow_duplicate();
  record.expectedDigest = request.expected_digest();
  proto::RegisterResult skipped;
  if (llvm::Error error = resolveParents(context.store, request, record, skipped))
    return error;
  auto result = context.store.registerModel(record);
  if (!result)
    return result.takeError();
  *result->mutable_skipped_parents() = skipped.skipped_parents();
  return result;
}

llvm::Expected<proto::ModelVersion> tag(Context &context, const proto::TagRequest &request) {
  registry::TagRequest record;
  auto selector = registry::parseSelector(request.target());
  if (!selector)
    return selector.takeError();
  record.target = *selector;
  for (const auto &[key, value] : request.set()) {
    if (llvm::Error error = registry::validateTagKey(key))
      return error;
    if (llvm::Error error = checkTagValue(key, value))
      return error;
    record.set[key] = value;
  }
  record.remove = {request.remove().begin(), request.remove().end()};
  if (record.set.empty() && record.remove.empty())
    return makeError(ErrorKind::BadInput, "graceful tag: give K=V to set or --remove K");
  if (llvm::Error error = checkLength("--reason", request.reason(), kMaxReasonBytes))
    return error;
  record.actor = context.actor;
  record.reason = request.reason();
  return context.store.setTags(record);
}

llvm::Expected<proto::ModelVersion> download(registry::Store &store, const std::string &selector,
                                             const std::string &out) {
  if (out.empty())
    return makeError(ErrorKind::BadInput, "missing --out (see --help)");
  if (store.artifacts().root().empty())
    return makeError(ErrorKind::BadInput,
                     "download reads artifacts: pass --artifacts DIR or set GRACEFUL_ARTIFACTS");
  auto parsed = registry::parseSelector(selector);
  if (!parsed)
    return parsed.takeError();
  auto version = store.getVersion(*parsed);
  if (!version)
    return version.takeError();
  if (llvm::Error error = store.artifacts().fetchTo(version->digest(), out))
    return error;
  return version;
}

llvm::Expected<proto::AliasMove> setAlias(Context &context, const std::string &target,
                                          const std::string &alias, const std::string &reason) {
  auto selector = registry::parseExactVersion(target);
  if (!selector)
    return selector.takeError();
  if (llvm::Error error = registry::validateAliasName(alias))
    return error;
  if (llvm::Error error = checkLength("--reason", reason, kMaxReasonBytes))
    return error;
  registry::AliasMoveRequest move;
  move.model = selector->name;
  move.alias = alias;
  move.version = *selector->version;
  move.action = registry::AliasAction::Move;
  move.actor = context.actor;
  move.reason = reason;
  return context.store.moveAlias(move);
}

llvm::Expected<proto::AliasMove> deleteAlias(Context &context,
                                             const proto::AliasDeleteRequest &request) {
  auto names = modelAndAlias(request.model(), request.alias());
  if (!names)
    return names.takeError();
  if (llvm::Error error = checkLength("--reason", request.reason(), kMaxReasonBytes))
    return error;
  return context.store.deleteAlias(names->first, names->second, context.actor, request.reason());
}

llvm::Expected<proto::Model> updateModel(Context &context,
                                         const proto::ModelUpdateRequest &request) {
  if (request.name().empty())
    return makeError(ErrorKind::BadInput, "missing NAME (see --help)");
  if (llvm::Error error = registry::validateModelName(request.name()))
    return error;
  if (!request.has_description() && request.set_tags().empty() && request.remove_tags().empty())
    return makeError(ErrorKind::BadInput,
                     "nothing to change: give --description TEXT, K=V to set or --remove K");
  if (llvm::Error error = checkLength("--description", request.description(), kMaxDescriptionBytes))
    return error;
  if (llvm::Error error = checkLength("--reason", request.reason(), kMaxReasonBytes))
    return error;
  registry::ModelInfoRequest update;
  update.model = request.name();
  if (request.has_description())
    update.description = request.description();
  for (const auto &[key, value] : request.set_tags()) {
    if (llvm::Error error = registry::validateTagKey(key))
      return error;
    if (llvm::Error error = checkLength("the value of tag '" + key + "'", value, kMaxTagValueBytes))
      return error;
    update.set[key] = value;
  }
  update.remove = {request.remove_tags().begin(), request.remove_tags().end()};
  update.actor = context.actor;
  update.reason = request.reason();
  return context.store.updateModel(update);
}

namespace {

bool holdsTag(const google::protobuf::Map<std::string, std::string> &tags,
              const std::pair<const std::string, std::string> &tag) {
  auto it = tags.find(tag.first);
  return it != tags.end() && it->second == tag.second;
}

} // namespace

llvm::Expected<std::map<std::string, std::string>>
parseTags(const std::vector<std::string> &texts) {
  std::map<std::string, std::string> tags;
  for (const std::string &text : texts) {
    auto tag = registry::parseTag(text);
    if (!tag)
      return tag.takeError();
    if (llvm::Error error = checkTagValue(tag->first, tag->second))
      return error;
    tags[tag->first] = tag->second;
  }
  return tags;
}

llvm::Expected<proto::ModelList> listModels(registry::Store &store,
                                            const std::map<std::string, std::string> &tags) {
  auto models = store.listModels();
  if (!models || tags.empty())
    return models;
  proto::ModelList matching;
  for (const proto::Model &model : models->models()) {
    auto detail = store.describeModel(model.name());
    if (!detail)
      return detail.takeError();
    // The model's own tags apply to every version, as if each carried them.
    auto coveredBy = [&](const google::protobuf::Map<std::string, std::string> *versionTags) {
      return std::all_of(tags.begin(), tags.end(), [&](const auto &tag) {
        return holdsTag(model.tags(), tag) || (versionTags && holdsTag(*versionTags, tag));
      });
    };
    bool tagged = coveredBy(nullptr) ||
                  std::any_of(detail->versions().begin(), detail->versions().end(),
                              [&](const proto::ModelVersion &v) { return coveredBy(&v.tags()); });
    if (tagged)
      *matching.add_models() = model;
  }
  return matching;
}

llvm::Expected<std::optional<proto::ModelVersion>>
aliasHolder(registry::Store &store, const std::string &model, const std::string &alias) {
  if (llvm::Error error = registry::validateModelName(model))
    return error;
  if (llvm::Error error = registry::validateAliasName(alias))
    return error;
  return store.aliasHolder(model, alias);
}

namespace {

// The report a selector names: ID, NAME@V or NAME@ALIAS.
llvm::Expected<std::int64_t> reportIdFor(registry::Store &store, const std::string &text) {
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec == std::errc() && end == text.data() + text.size()) {
    if (id < 1)
      return makeError(ErrorKind::BadInput, "report id '" + text + "': expected 1 or more");
    return id;
  }
  auto selector = registry::parseSelector(text);
  if (!selector)
    return selector.takeError();
  if (selector->alias) {
    auto holder = aliasHolder(store, selector->name, *selector->alias);
    if (!holder)
      return holder.takeError();
    if (!*holder)
      return makeError(ErrorKind::NotFound,
                       "model '" + selector->name + "' has no alias '" + *selector->alias + "'");
    if ((*holder)->holder().gate_report_id() == 0)
      return makeError(ErrorKind::NotFound, text + " was put there by " +
                                                (*holder)->holder().action() +
                                                " without a gate report");
    return (*holder)->holder().gate_report_id();
  }
  if (!selector->version)
    return makeError(ErrorKind::BadInput, "report '" + text +
                                              "': expected ID, NAME@V or NAME@ALIAS "
                                              "(`report list NAME` lists a model's reports)");
  auto reports = store.listGateReports(selector->name);
  if (!reports)
    return reports.takeError();
  std::string candidate = selector->name + "@" + std::to_string(*selector->version);
  for (auto it = reports->reports().rbegin(); it != reports->reports().rend(); ++it)
    if (it->report().candidate() == candidate)
      return it->id();
  return makeError(ErrorKind::NotFound, "no gate report for " + candidate);
}

} // namespace

llvm::Expected<proto::ModelVersion>
requireAliasHolder(registry::Store &store, const std::string &model, const std::string &alias) {
  auto holder = aliasHolder(store, model, alias);
  if (!holder)
    return holder.takeError();
  if (!*holder)
    return makeError(ErrorKind::NotFound, "model '" + model + "' has no alias '" + alias + "'");
  return std::move(**holder);
}

llvm::Expected<proto::AliasHistory> aliasHistory(registry::Store &store, const std::string &model,
                                                 const std::string &alias) {
  if (llvm::Error error = registry::validateModelName(model))
    return error;
  auto history = store.aliasHistory(model);
  if (!history)
    return history.takeError();
  if (!alias.empty()) {
    auto *tenures = history->mutable_tenures();
    tenures->erase(std::remove_if(tenures->begin(), tenures->end(),
                                  [&](const proto::AliasTenure &t) { return t.alias() != alias; }),
                   tenures->end());
  }
  return history;
}

llvm::Error parseAuditSince(const std::string &text, const std::string &what,
                            registry::AuditFilter &filter) {
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec == std::errc() && end == text.data() + text.size() && id >= 0) {
    filter.afterId = id;
    return llvm::Error::success();
  }
  google::protobuf::Timestamp time;
  if (!google::protobuf::util::TimeUtil::FromString(text, &time))
    return makeError(ErrorKind::BadInput,
                     what + " '" + text +
                         "': expected an audit event id or an RFC 3339 time such as "
                         "2026-12-01T12:00:00Z");
  filter.sinceMicros = google::protobuf::util::TimeUtil::TimestampToMicroseconds(time);
  return llvm::Error::success();
}

llvm::Expected<std::int64_t> parseRecordId(const std::string &text, const std::string &what) {
  std::string_view digits = text;
  if (digits.starts_with("#"))
    digits.remove_prefix(1);
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size() || id <= 0)
    return makeError(ErrorKind::BadInput,
                     what + " '" + text.substr(0, 64) + "': expected a " + what + " id");
  return id;
}

llvm::Expected<registry::DeliveryFilter>
deliveryFilter(const std::string &webhook, const std::string &status, const std::string &limit) {
  registry::DeliveryFilter filter;
  if (!webhook.empty()) {
    auto id = parseRecordId(webhook, "webhook");
    if (!id)
      return id.takeError();
    filter.webhookId = *id;
  }
  constexpr std::string_view kStatuses[] = {"pending", "delivered", "failed", "cancelled"};
  if (!status.empty() &&
      std::find(std::begin(kStatuses), std::end(kStatuses), status) == std::end(kStatuses))
    return makeError(ErrorKind::BadInput,
                     "status '" + status.substr(0, 64) +
                         "': expected pending, delivered, failed or cancelled");
  filter.status = status;
  if (!limit.empty()) {
    auto [end, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), filter.limit);
    if (ec != std::errc() || end != limit.data() + limit.size() || filter.limit < 0)
      return makeError(ErrorKind::BadInput,
                       "limit '" + limit.substr(0, 64) + "': expected a count");
  }
  return filter;
}

llvm::Expected<proto::StoredGateReport> showReport(registry::Store &store,
                                                   const proto::ReportShowRequest &request) {
  if (request.selector().empty())
    return makeError(ErrorKind::BadInput, "missing ID|NAME@V|NAME@ALIAS (see --help)");
  gates::ReportPaths paths{request.reports().html(), request.reports().junit(),
                           request.reports().markdown()};
  if (llvm::Error error = gates::checkReportPaths(paths))
    return error;
  auto id = reportIdFor(store, request.selector());
  if (!id)
    return id.takeError();
  auto stored = store.getGateReport(*id);
  if (!stored)
    return stored.takeError();
  if (llvm::Error error = gates::writeReports(stored->report(), paths))
    return error;
  return stored;
}

llvm::Expected<proto::GateReportList> listReports(registry::Store &store,
                                                  const std::string &model) {
  if (llvm::Error error = registry::validateModelName(model))
    return error;
  return store.listGateReports(model);
}

} // namespace graceful::operations
