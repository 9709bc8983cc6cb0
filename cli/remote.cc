#include "remote.h"

#include "graceful/gates/report.h"
#include "graceful/operations/operations.h"
#include "graceful/registry/refs.h"
#include "graceful/server/dataset_upload.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/json.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <llvm/ADT/ScopeExit.h>
#include <unistd.h>

namespace graceful::cli {
namespace {

using server::HttpAnswer;
using server::HttpCall;

constexpr int kDefaultTimeoutMs = 600000; // gate runs on the server take their time

bool unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

std::string encode(std::string_view text) {
  static const char *digits = "0123456789ABCDEF";
  std::string encoded;
  for (char c : text) {
    if (unreserved(c)) {
      encoded.push_back(c);
      continue;
    }
    auto byte = static_cast<unsigned char>(c);
    encoded += {'%', digits[byte >> 4], digits[byte & 15]};
  }
  return encoded;
}

// /api/v1/ and the segments, each percent-encoded.
std::string route(std::initializer_list<std::string_view> segments) {
  std::string target = "/api/v1";
  for (std::string_view segment : segments)
    target += "/" + encode(segment);
  return target;
}

// A query, "?k=v&...", built a parameter at a time; empty values are left
// out.
class Query {
public:
  Query &add(std::string_view key, std::string_view value) {
    if (!value.empty())
      text_ += (text_.empty() ? "?" : "&") + encode(key) + "=" + encode(value);
    return *this;
  }
  const std::string &text() const { return text_; }

private:
  std::string text_;
};

std::string query(std::initializer_list<std::pair<std::string_view, std::string_view>> params) {
  Query query;
  for (const auto &[key, value] : params)
    query.add(key, value);
  return query.text();
}

ErrorKind kindOfStatus(unsigned status) {
  switch (status) {
  case 401:
    return ErrorKind::Unauthorized;
  case 403:
    return ErrorKind::Forbidden;
  case 404:
    return ErrorKind::NotFound;
  case 409:
    return ErrorKind::Conflict;
  case 503:
    return ErrorKind::Unavailable;
  default:
    return ErrorKind::BadInput;
  }
}

// The error a non-2xx answer carries ({"error", "kind", ...}), with its
// kind, so the exit code is the server's.
llvm::Error errorOf(const HttpAnswer &answer, const Remote &remote) {
  google::protobuf::Struct error;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  ErrorKind kind = kindOfStatus(answer.status);
  if (google::protobuf::util::JsonStringToMessage(answer.body, &error, options).ok()) {
    const auto &fields = error.fields();
    auto message = fields.find("error");
    auto named = fields.find("kind");
    if (named != fields.end())
      for (ErrorKind candidate :
           {ErrorKind::BadInput, ErrorKind::NotFound, ErrorKind::StoreUnavailable,
            ErrorKind::Corrupt, ErrorKind::Conflict, ErrorKind::Unavailable,
            ErrorKind::Unauthorized, ErrorKind::Forbidden})
        if (errorKindName(candidate) == named->second.string_value())
          kind = candidate;
    if (message != fields.end() && !message->second.string_value().empty())
      return makeError(kind, message->second.string_value());
  }
  return makeError(kind,
                   remote.server.origin() + " answered HTTP " + std::to_string(answer.status));
}

llvm::Expected<HttpAnswer> exchange(const Remote &remote, HttpCall call) {
  if (remote.token.empty())
    return makeError(ErrorKind::Unauthorized,
                     "GRACEFUL_TOKEN is not set: " + remote.server.origin() +
                         " needs a bearer token (graceful token create, on its store)");
  call.headers.emplace_back("Authorization", "Bearer " + remote.token);
  auto answer = server::httpCall(remote.server, call, remote.options);
  if (!answer)
    return answer.takeError();
  if (answer->status < 200 || answer->status >= 300)
    return errorOf(*answer, remote);
  return answer;
}

template <typename Response>
llvm::Expected<Response> parseAnswer(const HttpAnswer &answer, const Remote &remote) {
  Response response;
  google::protobuf::util::JsonParseOptions options;
  // A newer server may answer with fields this client does not know yet.
  options.ignore_unknown_fields = true;
  if (answer.truncated ||
      !google::protobuf::util::JsonStringToMessage(answer.body, &response, options).ok())
    return makeError(ErrorKind::StoreUnavailable,
                     remote.server.origin() + " answered with something other than a " +
                         response.GetDescriptor()->name() + ": is it a graceful server?");
  return response;
}

template <typename Response>
llvm::Expected<Response> call(const Remote &remote, const std::string &method,
                              const std::string &target,
                              const google::protobuf::Message *body = nullptr) {
  HttpCall http;
  http.method = method;
  http.target = target;
  if (body != nullptr)
    http.body = toJson(*body);
  auto answer = exchange(remote, std::move(http));
  if (!answer)
    return answer.takeError();
  return parseAnswer<Response>(*answer, remote);
}

llvm::Expected<registry::VersionSelector> exactVersion(const std::string &target) {
  return registry::parseExactVersion(target);
}

// Report files and plugin directories name files here: the reports are
// written here from the answer, plugins cannot be sent.
llvm::Error refusePlugins(int pluginDirs) {
  if (pluginDirs > 0)
    return makeError(ErrorKind::BadInput,
                     "--plugins names directories on this machine; a server runs the gates with "
                     "the plugins it loads itself");
  return llvm::Error::success();
}

gates::ReportPaths pathsOf(const proto::ReportFiles &files) {
  return {files.html(), files.junit(), files.markdown()};
}

// The files a request names stay here: checked before it is sent, written
// from the answer.
template <typename Request> llvm::Expected<Request> withoutLocalFiles(const Request &request) {
  if (llvm::Error error = refusePlugins(request.plugin_dirs_size()))
    return error;
  if (llvm::Error error = gates::checkReportPaths(pathsOf(request.reports())))
    return error;
  Request sent = request;
  sent.clear_reports();
  return sent;
}

} // namespace

llvm::Expected<std::optional<Remote>> remoteFor(const std::string &uri) {
  if (!uri.starts_with("http://") && !uri.starts_with("https://"))
    return std::nullopt;
  auto server = server::parseHttpUrl(uri, "--store");
  if (!server)
    return server.takeError();
  if (server->target != "/")
    return makeError(ErrorKind::BadInput, "--store '" + uri +
                                              "': name the server only (http(s)://HOST:PORT), "
                                              "its routes are under /api/v1/");
  Remote remote{*server, "", {}};
  if (const char *token = std::getenv("GRACEFUL_TOKEN"))
    remote.token = token;
  if (const char *ca = std::getenv("GRACEFUL_CA_FILE"))
    remote.options.caFile = ca;
  int timeout = kDefaultTimeoutMs;
  if (const char *text = std::getenv("GRACEFUL_HTTP_TIMEOUT_MS")) {
    std::string_view value = text;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), timeout);
    if (ec != std::errc() || end != value.data() + value.size() || timeout < 1)
      return makeError(ErrorKind::BadInput, "GRACEFUL_HTTP_TIMEOUT_MS: expected milliseconds");
  }
  remote.options.timeout = std::chrono::milliseconds(timeout);
  return remote;
}

namespace remote {

llvm::Expected<proto::ModelList> listModels(const Remote &remote,
                                            const std::map<std::string, std::string> &tags) {
  Query query;
  for (const auto &[key, value] : tags)
    query.add("tag", key + "=" + value);
  return call<proto::ModelList>(remote, "GET", route({"models"}) + query.text());
}

llvm::Expected<proto::ModelDetail> describeModel(const Remote &remote, const std::string &name) {
  return call<proto::ModelDetail>(remote, "GET", route({"models", name}));
}

llvm::Expected<proto::ModelVersion> getVersion(const Remote &remote, const std::string &selector) {
  auto parsed = registry::parseSelector(selector);
  if (!parsed)
    return parsed.takeError();
  if (parsed->alias)
    return call<proto::ModelVersion>(remote, "GET",
                                     route({"models", parsed->name, "aliases", *parsed->alias}));
  if (!parsed->version)
    return makeError(ErrorKind::BadInput, "'" + selector + "': expected NAME@V or NAME@ALIAS");
  return call<proto::ModelVersion>(
      remote, "GET", route({"models", parsed->name, "versions", std::to_string(*parsed->version)}));
}

llvm::Expected<proto::Lineage> lineage(const Remote &remote, const std::string &name) {
  return call<proto::Lineage>(remote, "GET", route({"models", name, "lineage"}));
}

llvm::Expected<proto::AliasHistory> aliasHistory(const Remote &remote, const std::string &name,
                                                 const std::string &alias) {
  return call<proto::AliasHistory>(remote, "GET",
                                   route({"models", name, "history"}) + query({{"alias", alias}}));
}

llvm::Expected<proto::AuditLog> auditLog(const Remote &remote, const std::string &model,
                                         const std::string &since, const std::string &action,
                                         const std::string &alias, int limit) {
  std::string count = limit > 0 ? std::to_string(limit) : "";
  return call<proto::AuditLog>(remote, "GET",
                               route({"audit"}) + query({{"model", model},
                                                         {"since", since},
                                                         {"action", action},
                                                         {"alias", alias},
                                                         {"limit", count}}));
}

llvm::Expected<proto::RegisterResult> registerModel(const Remote &remote,
                                                    const proto::RegisterRequest &request) {
  // The digest travels with the bytes: the server refuses others.
  auto digest = sha256File(request.onnx());
  if (!digest)
    return digest.takeError();
  HttpCall http;
  http.method = "POST";
  Query query;
  query.add("description", request.description())
      .add("allow_duplicate", request.allow_duplicate() ? "true" : "");
  for (const std::string &parent : request.parents())
    query.add("parent", parent);
  for (const std::string &parent : request.parents_if_exist())
    query.add("parent_if_exists", parent);
  for (const auto &[key, value] : request.tags())
    query.add("tag", key + "=" + value);
  http.target = route({"models", request.name(), "versions"}) + query.text();
  http.bodyFile = request.onnx();
  http.contentType = "application/octet-stream";
  http.headers.emplace_back("X-Graceful-Digest", digest->digest);
  auto answer = exchange(remote, std::move(http));
  if (!answer)
    return answer.takeError();
  return parseAnswer<proto::RegisterResult>(*answer, remote);
}

llvm::Expected<proto::ModelVersion> tag(const Remote &remote, const proto::TagRequest &request) {
  auto target = exactVersion(request.target());
  if (!target)
    return target.takeError();
  return call<proto::ModelVersion>(
      remote, "POST",
      route({"models", target->name, "versions", std::to_string(*target->version), "tags"}),
      &request);
}

llvm::Expected<proto::ModelVersion> download(const Remote &remote, const std::string &selector,
                                             const std::string &out) {
  if (out.empty())
    return makeError(ErrorKind::BadInput, "missing --out (see --help)");
  if (llvm::Error error = checkReplaceable(out))
    return error;
  auto version = getVersion(remote, selector);
  if (!version)
    return version.takeError();
  std::filesystem::path destination(out);
  std::string partial =
      (destination.parent_path().empty() ? std::filesystem::path(".") : destination.parent_path()) /
      (destination.filename().string() + ".partial-XXXXXX");
  int fd = ::mkstemp(partial.data());
  if (fd < 0)
    return makeError(ErrorKind::BadInput, out + ": cannot create a file beside it");
  ::close(fd);
  auto removePartial = llvm::make_scope_exit([&] { std::filesystem::remove(partial); });
  HttpCall http;
  http.target = route(
      {"models", version->name(), "versions", std::to_string(version->version()), "artifact"});
  http.responseFile = partial;
  auto answer = exchange(remote, std::move(http));
  if (!answer)
    return answer.takeError();
  auto received = sha256File(partial);
  if (!received)
    return received.takeError();
  if (received->digest != version->digest())
    return makeError(ErrorKind::Corrupt, remote.server.origin() + " sent bytes hashing to " +
                                             received->digest + " for " + selector + ", not " +
                                             version->digest() + ": nothing written");
  std::error_code ec;
  std::filesystem::rename(partial, out, ec);
  if (ec)
    return makeError(ErrorKind::BadInput, out + ": " + ec.message());
  if (llvm::Error error = syncDirectory(
          destination.parent_path().empty() ? "." : destination.parent_path().string()))
    return error;
  return version;
}

llvm::Expected<proto::AliasMove> setAlias(const Remote &remote, const std::string &target,
                                          const std::string &alias, const std::string &reason) {
  auto version = exactVersion(target);
  if (!version)
    return version.takeError();
  proto::AliasSetRequest request;
  request.set_target(target);
  request.set_reason(reason);
  return call<proto::AliasMove>(remote, "PUT", route({"models", version->name, "aliases", alias}),
                                &request);
}

llvm::Expected<proto::AliasMove> deleteAlias(const Remote &remote,
                                             const proto::AliasDeleteRequest &request) {
  auto names = operations::modelAndAlias(request.model(), request.alias());
  if (!names)
    return names.takeError();
  return call<proto::AliasMove>(remote, "DELETE",
                                route({"models", names->first, "aliases", names->second}) +
                                    query({{"reason", request.reason()}}));
}

llvm::Expected<proto::GateReport> runGates(const Remote &remote,
                                           const proto::GateRunRequest &request) {
  auto candidate = exactVersion(request.candidate());
  if (!candidate)
    return candidate.takeError();
  auto sent = withoutLocalFiles(request);
  if (!sent)
    return sent.takeError();
  auto report = call<proto::GateReport>(
      remote, "POST",
      route({"models", candidate->name, "versions", std::to_string(*candidate->version), "gates"}),
      &*sent);
  if (!report)
    return report.takeError();
  if (llvm::Error error = gates::writeReports(*report, pathsOf(request.reports())))
    return error;
  return report;
}

llvm::Expected<proto::PromotionResult> promote(const Remote &remote,
                                               const proto::PromoteRequest &request) {
  auto target = exactVersion(request.target());
  if (!target)
    return target.takeError();
  if (request.alias().empty())
    return makeError(ErrorKind::BadInput, "missing --to (see --help)");
  auto sent = withoutLocalFiles(request);
  if (!sent)
    return sent.takeError();
  auto result = call<proto::PromotionResult>(
      remote, "POST", route({"models", target->name, "aliases", request.alias(), "promote"}),
      &*sent);
  if (!result)
    return result.takeError();
  if (!result->unchanged())
    if (llvm::Error error = gates::writeReports(result->report(), pathsOf(request.reports())))
      return error;
  return result;
}

llvm::Expected<proto::AliasMove> rollback(const Remote &remote,
                                          const proto::RollbackRequest &request) {
  auto names = operations::modelAndAlias(request.model(), request.alias());
  if (!names)
    return names.takeError();
  proto::RollbackRequest sent;
  sent.set_reason(request.reason());
  return call<proto::AliasMove>(
      remote, "POST", route({"models", names->first, "aliases", names->second, "rollback"}), &sent);
}

llvm::Expected<proto::AliasProtection> protectAlias(const Remote &remote,
                                                    const proto::ProtectAliasRequest &request) {
  if (llvm::Error error = refusePlugins(request.plugin_dirs_size()))
    return error;
  proto::ProtectAliasRequest sent;
  sent.set_policy(request.policy());
  sent.set_reason(request.reason());
  return call<proto::AliasProtection>(
      remote, "POST", route({"models", request.model(), "aliases", request.alias(), "protect"}),
      &sent);
}

llvm::Expected<proto::StoredGateReport> showReport(const Remote &remote,
                                                   const proto::ReportShowRequest &request) {
  if (llvm::Error error = gates::checkReportPaths(pathsOf(request.reports())))
    return error;
  auto stored =
      call<proto::StoredGateReport>(remote, "GET", route({"reports", request.selector()}));
  if (!stored)
    return stored.takeError();
  if (llvm::Error error = gates::writeReports(stored->report(), pathsOf(request.reports())))
    return error;
  return stored;
}

llvm::Expected<proto::GateReportList> listReports(const Remote &remote, const std::string &name) {
  return call<proto::GateReportList>(remote, "GET", route({"models", name, "reports"}));
}

llvm::Expected<proto::DatasetList> listDatasets(const Remote &remote) {
  return call<proto::DatasetList>(remote, "GET", route({"datasets"}));
}

llvm::Expected<proto::DatasetResult> registerDataset(const Remote &remote,
                                                     const proto::DatasetRegisterRequest &request) {
  std::map<std::string, std::string> files(request.files().begin(), request.files().end());
  auto bundle = server::describeBundle(files);
  if (!bundle)
    return bundle.takeError();
  std::string body =
      (std::filesystem::temp_directory_path() / "graceful-dataset-upload-XXXXXX").string();
  int fd = ::mkstemp(body.data());
  if (fd < 0)
    return makeError(ErrorKind::Unavailable, "cannot create a file for the upload");
  ::close(fd);
  auto removeBody = llvm::make_scope_exit([&] { std::filesystem::remove(body); });
  if (llvm::Error error = server::writeBundle(*bundle, body))
    return error;
  HttpCall http;
  http.method = "POST";
  http.target =
      route({"datasets", request.name()}) + query({{"description", request.description()}});
  http.bodyFile = body;
  http.contentType = "application/octet-stream";
  http.headers.emplace_back("X-Graceful-Dataset-Files", server::manifestOf(*bundle));
  auto answer = exchange(remote, std::move(http));
  if (!answer)
    return answer.takeError();
  return parseAnswer<proto::DatasetResult>(*answer, remote);
}

llvm::Expected<proto::Dataset> showDataset(const Remote &remote, const std::string &name) {
  return call<proto::Dataset>(remote, "GET", route({"datasets", name}));
}

llvm::Expected<proto::WebhookList> listWebhooks(const Remote &remote) {
  return call<proto::WebhookList>(remote, "GET", route({"webhooks"}));
}

llvm::Expected<proto::Webhook> createWebhook(const Remote &remote,
                                             const proto::WebhookCreateRequest &request) {
  return call<proto::Webhook>(remote, "POST", route({"webhooks"}), &request);
}

llvm::Expected<proto::Webhook> deleteWebhook(const Remote &remote, std::int64_t id,
                                             const std::string &reason) {
  return call<proto::Webhook>(
      remote, "DELETE", route({"webhooks", std::to_string(id)}) + query({{"reason", reason}}));
}

llvm::Expected<proto::WebhookDeliveryList> listDeliveries(const Remote &remote,
                                                          const std::string &webhook,
                                                          const std::string &status,
                                                          const std::string &limit) {
  return call<proto::WebhookDeliveryList>(
      remote, "GET",
      route({"webhooks", "deliveries"}) +
          query({{"webhook", webhook}, {"status", status}, {"limit", limit}}));
}

llvm::Expected<proto::WebhookDelivery> redeliver(const Remote &remote, std::int64_t id) {
  return call<proto::WebhookDelivery>(
      remote, "POST", route({"webhooks", "deliveries", std::to_string(id), "redeliver"}));
}

} // namespace remote
} // namespace graceful::cli
