#include "router.h"

#include "graceful/operations/operations.h"
#include "graceful/server/dataset_upload.h"
#include "graceful/server/tokens.h"
#include "graceful/server/webhooks.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/identity.h"
#include "graceful/support/json.h"
#include "graceful/support/limits.h"
#include "openapi.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <google/protobuf/util/json_util.h>
#include <llvm/ADT/ScopeExit.h>
#include <unistd.h>

namespace graceful::server {
namespace {

namespace http = boost::beast::http;
using Params = std::map<std::string, std::string>;

http::status statusFor(ErrorKind kind) {
  switch (kind) {
  case ErrorKind::BadInput:
    return http::status::bad_request;
  case ErrorKind::NotFound:
    return http::status::not_found;
  case ErrorKind::Conflict:
    return http::status::conflict;
  case ErrorKind::Unauthorized:
    return http::status::unauthorized;
  case ErrorKind::Forbidden:
    return http::status::forbidden;
  case ErrorKind::Unavailable:
  case ErrorKind::StoreUnavailable:
    return http::status::service_unavailable;
  case ErrorKind::Corrupt:
    return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

Response json(const google::protobuf::Message &message, int exitCode = kExitSuccess) {
  Response response;
  response.body = toJson(message) + "\n";
  // The CLI's exit code for the same answer: a refused promotion or a
  // failed gate is a 200 with the report, and exit 1.
  response.headers.emplace_back("X-Graceful-Exit-Code", std::to_string(exitCode));
  return response;
}

// A route's answer: the record's JSON, or its error.
template <typename Message> llvm::Expected<Response> answer(llvm::Expected<Message> result) {
  if (!result)
    return result.takeError();
  return json(*result);
}

// A registration's answer: 201 when it recorded something, 200 when the
// same thing was there already (`existing`).
template <typename Result> llvm::Expected<Response> registered(llvm::Expected<Result> result) {
  if (!result)
    return result.takeError();
  Response response = json(*result);
  if (!result->existing())
    response.status = http::status::created;
  return response;
}

Response errorResponse(llvm::Error error, const std::string &where) {
  ErrorReport report = describeError(std::move(error));
  Response response;
  response.status = statusFor(report.kind);
  response.body = errorJson(report, where) + "\n";
  response.headers.emplace_back("X-Graceful-Exit-Code", std::to_string(exitCodeFor(report.kind)));
  if (report.kind == ErrorKind::Unauthorized)
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

llvm::Expected<std::string> percentDecode(std::string_view text, bool plusIsSpace) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      int high = i + 2 < text.size() ? hexValue(text[i + 1]) : -1;
      int low = high >= 0 ? hexValue(text[i + 2]) : -1;
      if (low < 0)
        return makeError(ErrorKind::BadInput, "malformed percent-encoding in the request target");
      decoded.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      decoded.push_back(plusIsSpace && text[i] == '+' ? ' ' : text[i]);
    }
  }
  return decoded;
}

std::vector<std::string> all(const ParsedTarget &target, const std::string &key) {
  std::vector<std::string> values;
  auto [begin, end] = target.query.equal_range(key);
  for (auto it = begin; it != end; ++it)
    values.push_back(it->second);
  return values;
}

std::string one(const ParsedTarget &target, const std::string &key) {
  auto it = target.query.find(key);
  return it == target.query.end() ? "" : it->second;
}

// A request body as the proto message it names; unknown fields are
// errors, as unknown options are on the command line.
llvm::Error parseBody(const std::string &body, google::protobuf::Message &message) {
  if (body.empty())
    return llvm::Error::success();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(body, &message, options);
  if (!status.ok())
    return makeError(ErrorKind::BadInput, "request body: not a JSON " +
                                              message.GetDescriptor()->name() + " (" +
                                              std::string(status.message()) + ")");
  return llvm::Error::success();
}

// A free-standing temporary file for a download.
llvm::Expected<std::string> temporaryFile() {
  std::string path = (std::filesystem::temp_directory_path() / "graceful-download-XXXXXX").string();
  int fd = ::mkstemp(path.data());
  if (fd < 0)
    return makeError(ErrorKind::Unavailable, "cannot create a temporary file for the download");
  ::close(fd);
  return path;
}

// One matched request: its path parameters, the caller's grant and a
// borrowed store.
struct Call {
  const Request &request;
  const ParsedTarget &target;
  Params params;
  Grant grant;
  registry::Store &store;
  const ServerOptions &options;
  Metrics &metrics;

  const std::string &param(const std::string &name) { return params[name]; }

  // Forbidden, audited as a denial, unless the grant allows it.
  llvm::Error require(Action action, const std::string &model, const std::string &alias,
                      const std::string &route) {
    std::optional<std::string> why = denial(grant, action, model, alias);
    if (!why)
      return llvm::Error::success();
    if (llvm::Error error = store.recordDenial({grant.subject, model, alias, route + ": " + *why}))
      return error;
    return makeError(ErrorKind::Forbidden, *why);
  }

  operations::Context context() { return {store, grant.subject, false}; }

  // A policy file named in a request: a relative name inside the server's
  // policy directory, never a path of the client's choosing.
  llvm::Expected<std::string> policyPath(const std::string &name) {
    if (name.empty())
      return name;
    if (options.policiesDir.empty())
      return makeError(ErrorKind::BadInput,
                       "this server reads no policy files (start it with --policies DIR); "
                       "promote to a protected alias, whose bound policy runs");
    // A NUL would end the name where the file is opened, after the checks.
    if (std::any_of(name.begin(), name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      return makeError(ErrorKind::BadInput, "policy names hold no control characters");
    std::filesystem::path path(name);
    bool escapes = path.is_absolute();
    for (const auto &part : path)
      escapes = escapes || part == "..";
    if (escapes)
      return makeError(ErrorKind::BadInput, "policy '" + name +
                                                "': name a file inside the server's policy "
                                                "directory (no absolute paths, no ..)");
    return (std::filesystem::path(options.policiesDir) / path).string();
  }
};

llvm::Error refuseServerFiles(const proto::ReportFiles &reports, int pluginDirs) {
  if (!reports.html().empty() || !reports.junit().empty() || !reports.markdown().empty() ||
      pluginDirs > 0)
    return makeError(ErrorKind::BadInput,
                     "reports and plugin_dirs name files on the server: fetch reports with GET "
                     "/api/v1/reports/ID instead");
  return llvm::Error::success();
}

std::string exactTarget(Call &call) { return call.param("name") + "@" + call.param("version"); }

// ---- read endpoints --------------------------------------------------------

llvm::Expected<Response> listModels(Call &call) {
  auto tags = operations::parseTags(all(call.target, "tag"));
  if (!tags)
    return tags.takeError();
  auto models = operations::listModels(call.store, *tags);
  if (!models)
    return models.takeError();
  // A token limited to some models sees only those.
  auto *list = models->mutable_models();
  list->erase(std::remove_if(list->begin(), list->end(),
                             [&](const proto::Model &model) {
                               return denial(call.grant, Action::Read, model.name()).has_value();
                             }),
              list->end());
  return json(*models);
}

llvm::Expected<Response> showModel(Call &call) {
  auto detail = call.store.describeModel(call.param("name"));
  if (!detail)
    return detail.takeError();
  return json(*detail);
}

llvm::Expected<registry::VersionSelector> versionSelector(Call &call) {
  return registry::parseSelector(exactTarget(call));
}

llvm::Expected<Response> showVersion(Call &call) {
  auto selector = versionSelector(call);
  if (!selector)
    return selector.takeError();
  auto version = call.store.getVersion(*selector);
  if (!version)
    return version.takeError();
  return json(*version);
}

llvm::Expected<Response> showAlias(Call &call) {
  auto holder = operations::requireAliasHolder(call.store, call.param("name"), call.param("alias"));
  if (!holder)
    return holder.takeError();
  return json(*holder);
}

llvm::Expected<Response> lineage(Call &call) {
  if (llvm::Error error = registry::validateModelName(call.param("name")))
    return error;
  auto lineage = call.store.lineage(call.param("name"));
  if (!lineage)
    return lineage.takeError();
  return json(*lineage);
}

llvm::Expected<Response> history(Call &call) {
  auto history =
      operations::aliasHistory(call.store, call.param("name"), one(call.target, "alias"));
  if (!history)
    return history.takeError();
  return json(*history);
}

llvm::Expected<Response> audit(Call &call) {
  registry::AuditFilter filter;
  filter.model = one(call.target, "model");
  filter.action = one(call.target, "action");
  filter.alias = one(call.target, "alias");
  if (std::string limit = one(call.target, "limit"); !limit.empty()) {
    auto [end, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), filter.limit);
    if (ec != std::errc() || end != limit.data() + limit.size() || filter.limit < 0)
      return makeError(ErrorKind::BadInput, "limit '" + limit + "': expected a count");
  }
  if (std::string since = one(call.target, "since"); !since.empty())
    if (llvm::Error error = operations::parseAuditSince(since, "since", filter))
      return error;
  if (llvm::Error error = call.require(Action::Read, filter.model, "", "GET audit"))
    return error;
  auto log = call.store.auditLog(filter);
  if (!log)
    return log.takeError();
  return json(*log);
}

// Datasets are evaluation data, not a model's: every token may read them.
llvm::Expected<Response> listDatasets(Call &call) { return answer(call.store.listDatasets()); }

llvm::Expected<Response> showDataset(Call &call) {
  return answer(operations::showDataset(call.store, call.param("name")));
}

// The model a report's candidate ("m@3") belongs to.
std::string candidateModel(const proto::StoredGateReport &stored) {
  const std::string &candidate = stored.report().candidate();
  return candidate.substr(0, candidate.rfind('@'));
}

llvm::Expected<Response> showReport(Call &call) {
  proto::ReportShowRequest request;
  request.set_selector(call.param("selector"));
  auto stored = operations::showReport(call.store, request);
  if (!stored)
    return stored.takeError();
  if (llvm::Error error = call.require(Action::Read, candidateModel(*stored), "", "GET report"))
    return error;
  return json(*stored);
}

llvm::Expected<Response> listReports(Call &call) {
  auto reports = operations::listReports(call.store, call.param("name"));
  if (!reports)
    return reports.takeError();
  return json(*reports);
}

// The bytes [first, last] a Range header asks of a file of `size` bytes:
// nothing to ignore it (another unit, several ranges, bad syntax: RFC 9110
// lets a server send the whole file), or unsatisfiable (416).
struct ByteRange {
  uint64_t first = 0, last = 0;
  bool satisfiable = true;
};

std::optional<ByteRange> byteRange(std::string_view header, uint64_t size) {
  constexpr std::string_view unit = "bytes=";
  if (!header.starts_with(unit) || header.find(',') != std::string_view::npos)
    return std::nullopt;
  std::string_view spec = header.substr(unit.size());
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos)
    return std::nullopt;
  // Digits beyond 2^64 - 1 read as 2^64 - 1: past any file's end.
  auto number = [](std::string_view text) -> std::optional<uint64_t> {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || end != text.data() + text.size())
      return std::nullopt;
    if (ec == std::errc::result_out_of_range)
      return UINT64_MAX;
    if (ec != std::errc())
      return std::nullopt;
    return value;
  };
  std::string_view from = spec.substr(0, dash), to = spec.substr(dash + 1);
  if (from.empty()) { // the last N bytes
    auto suffix = number(to);
    if (!suffix)
      return std::nullopt;
    if (*suffix == 0 || size == 0)
      return ByteRange{0, 0, false};
    return ByteRange{size - std::min(*suffix, size), size - 1};
  }
  auto first = number(from);
  auto last = to.empty() ? std::optional<uint64_t>(UINT64_MAX) : number(to);
  if (!first || !last || *last < *first)
    return std::nullopt;
  if (*first >= size)
    return ByteRange{0, 0, false};
  return ByteRange{*first, std::min(*last, size - 1)};
}

// The part of a verified copy a Range asks for: 206 with the slice (copied
// into a file of its own), 416 when it lies past the end, the whole file
// otherwise.
llvm::Error applyRange(const std::string &header, Response &response) {
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(response.filePath, ec);
  if (ec)
    return makeError(ErrorKind::Unavailable, "cannot read the artifact copy");
  std::optional<ByteRange> range = byteRange(header, size);
  if (!range)
    return llvm::Error::success();
  if (!range->satisfiable) {
    std::filesystem::remove(response.filePath);
    response = Router::error(http::status::range_not_satisfiable, ErrorKind::BadInput,
                             "the range '" + header + "' lies past the artifact's " +
                                 std::to_string(size) + " bytes");
    response.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
    return llvm::Error::success();
  }
  auto slice = temporaryFile();
  if (!slice)
    return slice.takeError();
  {
    std::ifstream in(response.filePath, std::ios::binary);
    std::ofstream out(*slice, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(range->first));
    std::vector<char> buffer(1 << 16);
    for (uint64_t left = range->last - range->first + 1; left > 0 && in;) {
      in.read(buffer.data(), static_cast<std::streamsize>(std::min<uint64_t>(left, buffer.size())));
      out.write(buffer.data(), in.gcount());
      left -= static_cast<uint64_t>(in.gcount());
    }
    if (!out)
      return makeError(ErrorKind::Unavailable, "cannot write the requested range");
  }
  std::filesystem::remove(response.filePath);
  response.filePath = *slice;
  response.status = http::status::partial_content;
  response.headers.emplace_back("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                     std::to_string(range->last) + "/" +
                                                     std::to_string(size));
  return llvm::Error::success();
}

llvm::Expected<Response> downloadSelector(Call &call, const std::string &selector) {
  auto path = temporaryFile();
  if (!path)
    return path.takeError();
  auto version = operations::download(call.store, selector, *path);
  if (!version) {
    std::filesystem::remove(*path);
    return version.takeError();
  }
  Response response;
  response.filePath = *path;
  response.contentType = "application/octet-stream";
  response.headers.emplace_back("X-Graceful-Digest", version->digest());
  response.headers.emplace_back("X-Graceful-Version", std::to_string(version->version()));
  response.headers.emplace_back("Accept-Ranges", "bytes");
  // If-Range names the bytes a client resumes: once the version (an
  // alias's holder) is another, it gets the whole new artifact, never a
  // slice of it spliced onto the old one.
  std::string etag = "\"" + version->digest() + "\"";
  response.headers.emplace_back("ETag", etag);
  bool sameBytes = call.request.ifRange.empty() || call.request.ifRange == etag;
  if (!call.request.range.empty() && sameBytes)
    if (llvm::Error error = applyRange(call.request.range, response)) {
      std::filesystem::remove(response.filePath);
      return error;
    }
  return response;
}

llvm::Expected<Response> downloadVersion(Call &call) {
  return downloadSelector(call, exactTarget(call));
}

llvm::Expected<Response> downloadAlias(Call &call) {
  return downloadSelector(call, call.param("name") + "@" + call.param("alias"));
}

// ---- changes -------------------------------------------------------------------

llvm::Expected<Response> registerVersion(Call &call) {
  const std::string &received = call.request.uploadReceived.digest;
  if (!call.request.uploadDigest.empty() && received != call.request.uploadDigest)
    return makeError(ErrorKind::BadInput, "the upload hashes to " + received +
                                              ", not to the X-Graceful-Digest given (" +
                                              call.request.uploadDigest + ")");
  proto::RegisterRequest request;
  request.set_name(call.param("name"));
  request.set_onnx(call.request.uploadPath);
  request.set_expected_digest(received);
  request.set_description(one(call.target, "description"));
  for (const std::string &parent : all(call.target, "parent"))
    request.add_parents(parent);
  for (const std::string &parent : all(call.target, "parent_if_exists"))
    request.add_parents_if_exist(parent);
  std::string duplicate = one(call.target, "allow_duplicate");
  if (!duplicate.empty() && duplicate != "true" && duplicate != "false")
    return makeError(ErrorKind::BadInput, "allow_duplicate '" + duplicate + "': true or false");
  request.set_allow_duplicate(duplicate == "true");
  auto tags = operations::parseTags(all(call.target, "tag"));
  if (!tags)
    return tags.takeError();
  request.mutable_tags()->insert(tags->begin(), tags->end());
  auto context = call.context();
  return registered(operations::registerModel(context, request));
}

// A dataset's files in one upload (dataset_upload.h): split into a
// directory of their own, checked against the manifest, then registered as
// the CLI registers local files.
llvm::Expected<Response> registerDataset(Call &call) {
  auto files = parseManifest(call.request.datasetFiles);
  if (!files)
    return files.takeError();
  std::string directory =
      (std::filesystem::temp_directory_path() / "graceful-dataset-XXXXXX").string();
  if (::mkdtemp(directory.data()) == nullptr)
    return makeError(ErrorKind::Unavailable, "cannot create a directory for the upload");
  auto removeDirectory = llvm::make_scope_exit([&] {
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  });
  if (llvm::Error error = unbundle(call.request.uploadPath, *files, directory))
    return error;
  proto::DatasetRegisterRequest request;
  request.set_name(call.param("dataset"));
  request.set_description(one(call.target, "description"));
  for (const BundledFile &file : *files)
    (*request.mutable_files())[file.name] = file.path;
  auto context = call.context();
  return registered(operations::registerDataset(context, request));
}

llvm::Expected<Response> tagVersion(Call &call) {
  proto::TagRequest request;
  if (llvm::Error error = parseBody(call.request.body, request))
    return error;
  request.set_target(exactTarget(call));
  auto context = call.context();
  auto version = operations::tag(context, request);
  if (!version)
    return version.takeError();
  return json(*version);
}

// The body's alias, when it names one, must be the path's.
llvm::Error samePlace(Call &call, const std::string &alias, const std::string &target) {
  if (!alias.empty() && alias != call.param("alias"))
    return makeError(ErrorKind::BadInput, "the body names alias '" + alias + "', the path '" +
                                              call.param("alias") + "'");
  if (target.empty())
    return makeError(ErrorKind::BadInput, "the body names no target NAME@V");
  if (target.substr(0, target.rfind('@')) != call.param("name"))
    return makeError(ErrorKind::BadInput, "the body's target '" + target +
                                              "' is not a version of model '" + call.param("name") +
                                              "'");
  return llvm::Error::success();
}

// Runs an operation whose request names a policy, once the name is
// resolved in the server's policy directory.
template <typename Request, typename Result>
llvm::Expected<Result> withServerPolicy(Call &call, Request &request,
                                        llvm::Expected<Result> (*operation)(operations::Context &,
                                                                            const Request &)) {
  auto policy = call.policyPath(request.policy());
  if (!policy)
    return policy.takeError();
  request.set_policy(*policy);
  auto context = call.context();
  return operation(context, request);
}

llvm::Expected<Response> promote(Call &call) {
  proto::PromoteRequest request;
  if (llvm::Error error = parseBody(call.request.body, request))
    return error;
  if (llvm::Error error = samePlace(call, request.alias(), request.target()))
    return error;
  if (llvm::Error error = refuseServerFiles(request.reports(), request.plugin_dirs_size()))
    return error;
  request.set_alias(call.param("alias"));
  if (request.force())
    if (llvm::Error error = call.require(Action::Administer, call.param("name"), request.alias(),
                                         "POST promote --force"))
      return error;
  auto result = withServerPolicy(call, request, operations::promote);
  if (!result)
    return result.takeError();
  bool success = result->promoted() || result->unchanged();
  if (!result->unchanged() && !result->reused_report())
    call.metrics.recordVerdicts(result->report());
  call.metrics.recordPromotion(result->unchanged()  ? "unchanged"
                               : result->promoted() ? "promoted"
                                                    : "refused");
  return json(*result, success ? kExitSuccess : kExitGateFailed);
}

// gate run: the candidate is the path's version; the policy a name in the
// server's policy directory. The report is stored, as the CLI stores it.
llvm::Expected<Response> runGates(Call &call) {
  proto::GateRunRequest request;
  if (llvm::Error error = parseBody(call.request.body, request))
    return error;
  if (!request.candidate().empty() && request.candidate() != exactTarget(call))
    return makeError(ErrorKind::BadInput, "the body names candidate '" + request.candidate() +
                                              "', the path '" + exactTarget(call) + "'");
  request.set_candidate(exactTarget(call));
  if (llvm::Error error = refuseServerFiles(request.reports(), request.plugin_dirs_size()))
    return error;
  if (request.policy().empty())
    return makeError(ErrorKind::BadInput, "the body names no policy");
  // The baseline is read too: a token limited to some models may not
  // judge against another's.
  if (!request.baseline().empty()) {
    auto baseline = registry::parseSelector(request.baseline());
    if (!baseline)
      return baseline.takeError();
    if (llvm::Error error = call.require(Action::Read, baseline->name, "", "POST gates: baseline"))
      return error;
  }
  auto report = withServerPolicy(call, request, operations::runGates);
  if (!report)
    return report.takeError();
  call.metrics.recordVerdicts(*report);
  return json(*report, report->verdict() == "pass" ? kExitSuccess : kExitGateFailed);
}

llvm::Expected<Response> rollback(Call &call) {
  proto::RollbackRequest request;
  if (llvm::Error error = parseBody(call.request.body, request))
    return error;
  if (!request.model().empty() && request.model() != call.param("name"))
    return makeError(ErrorKind::BadInput, "the body names model '" + request.model() +
                                              "', the path '" + call.param("name") + "'");
  if (!request.alias().empty() && request.alias() != call.param("alias"))
    return makeError(ErrorKind::BadInput, "the body names alias '" + request.alias() +
                                              "', the path '" + call.param("alias") + "'");
  request.set_model(call.param("name"));
  request.set_alias(call.param("alias"));
  auto context = call.context();
  auto move = operations::rollback(context, request);
  if (!move)
    return move.takeError();
  return json(*move);
}

llvm::Expected<Response> setAlias(Call &call) {
  proto::AliasSetRequest request;
  if (llvm::Error error = parseBody(call.request.body, request))
    return error;
  if (llvm::Error error = samePlace(call, request.alias(), request.target()))
    return error;
  auto context = call.context();
  auto move =
      operations::setAlias(context, request.target(), call.param("alias"), request.reason());
  if (!move)
    return move.takeError();
  return json(*move);
}

// DELETE of an alias; the reason is the query's `reason` (a DELETE has no
// body to carry it).
llvm::Expected<Response> deleteAlias(Call &call) {
  proto::AliasDeleteRequest request;
  request.set_model(call.param("name"));
  request.set_alias(call.param("alias"));
  request.set_reason(one(call.target, "reason"));
  auto context = call.context();
  auto move = operations::deleteAlias(context, request);
  if (!move)
    return move.takeError();
  return json(*move);
}

llvm::Expected<Response> protect(Call &call) {
  proto::ProtectAliasRequest request;
  if (llvm::Error error = parseBody(call.request.body, request))
    return error;
  if (request.plugin_dirs_size() > 0)
    return makeError(ErrorKind::BadInput, "plugin_dirs name directories on the server");
  request.set_model(call.param("name"));
  request.set_alias(call.param("alias"));
  if (request.policy().empty())
    return makeError(ErrorKind::BadInput, "the body names no policy");
  auto policy = call.policyPath(request.policy());
  if (!policy)
    return policy.takeError();
  request.set_policy(*policy);
  auto context = call.context();
  auto protection = operations::protectAlias(context, request);
  if (!protection)
    return protection.takeError();
  return json(*protection);
}

// ---- webhooks (admin) ------------------------------------------------------------

llvm::Expected<Response> listWebhooks(Call &call) { return answer(call.store.listWebhooks()); }

llvm::Expected<Response> createWebhook(Call &call) {
  proto::WebhookCreateRequest request;
  if (llvm::Error error = parseBody(call.request.body, request))
    return error;
  auto webhook = server::createWebhook(call.store, request, call.grant.subject);
  if (!webhook)
    return webhook.takeError();
  Response response = json(*webhook);
  response.status = http::status::created;
  return response;
}

llvm::Expected<Response> deleteWebhook(Call &call) {
  auto id = operations::parseRecordId(call.param("id"), "webhook");
  if (!id)
    return id.takeError();
  std::string reason = one(call.target, "reason");
  if (llvm::Error error = checkLength("reason", reason, kMaxReasonBytes))
    return error;
  return answer(call.store.deleteWebhook(*id, call.grant.subject, reason));
}

llvm::Expected<Response> listDeliveries(Call &call) {
  auto filter = operations::deliveryFilter(one(call.target, "webhook"), one(call.target, "status"),
                                           one(call.target, "limit"));
  if (!filter)
    return filter.takeError();
  return answer(call.store.listDeliveries(*filter));
}

llvm::Expected<Response> redeliver(Call &call) {
  auto id = operations::parseRecordId(call.param("id"), "delivery");
  if (!id)
    return id.takeError();
  return answer(call.store.redeliver(*id, call.grant.subject));
}

// ---- the table -----------------------------------------------------------------

struct Route {
  http::verb method;
  std::vector<std::string> pattern; // "{x}" matches one segment, bound to x
  Action action;
  // Routes that name no model in their path check the grant themselves.
  bool checksItself;
  llvm::Expected<Response> (*run)(Call &);
};

const std::vector<Route> &routes() {
  using enum http::verb;
  static const std::vector<Route> table = {
      {get, {"models"}, Action::Read, true, listModels},
      {get, {"models", "{name}"}, Action::Read, false, showModel},
      {post, {"models", "{name}", "versions"}, Action::Publish, false, registerVersion},
      {get, {"models", "{name}", "versions", "{version}"}, Action::Read, false, showVersion},
      {get,
       {"models", "{name}", "versions", "{version}", "artifact"},
       Action::Read,
       false,
       downloadVersion},
      {post,
       {"models", "{name}", "versions", "{version}", "tags"},
       Action::Publish,
       false,
       tagVersion},
      {post,
       {"models", "{name}", "versions", "{version}", "gates"},
       Action::Publish,
       false,
       runGates},
      {get, {"models", "{name}", "aliases", "{alias}"}, Action::Read, false, showAlias},
      {put, {"models", "{name}", "aliases", "{alias}"}, Action::MoveAlias, false, setAlias},
      {delete_, {"models", "{name}", "aliases", "{alias}"}, Action::MoveAlias, false, deleteAlias},
      {get,
       {"models", "{name}", "aliases", "{alias}", "artifact"},
       Action::Read,
       false,
       downloadAlias},
      {post,
       {"models", "{name}", "aliases", "{alias}", "promote"},
       Action::MoveAlias,
       false,
       promote},
      {post,
       {"models", "{name}", "aliases", "{alias}", "rollback"},
       Action::MoveAlias,
       false,
       rollback},
      {post,
       {"models", "{name}", "aliases", "{alias}", "protect"},
       Action::Administer,
       false,
       protect},
      {get, {"models", "{name}", "lineage"}, Action::Read, false, lineage},
      {get, {"models", "{name}", "history"}, Action::Read, false, history},
      {get, {"models", "{name}", "reports"}, Action::Read, false, listReports},
      {get, {"reports", "{selector}"}, Action::Read, true, showReport},
      {get, {"audit"}, Action::Read, true, audit},
      {get, {"datasets"}, Action::Read, true, listDatasets},
      {get, {"datasets", "{name}"}, Action::Read, true, showDataset},
      // {dataset}, not {name}: the grant check reads {name} as a model's,
      // and registering data needs a token for every model.
      {post, {"datasets", "{dataset}"}, Action::Publish, false, registerDataset},
      {get, {"webhooks"}, Action::Administer, false, listWebhooks},
      {post, {"webhooks"}, Action::Administer, false, createWebhook},
      {delete_, {"webhooks", "{id}"}, Action::Administer, false, deleteWebhook},
      {get, {"webhooks", "deliveries"}, Action::Administer, false, listDeliveries},
      {post, {"webhooks", "deliveries", "{id}", "redeliver"}, Action::Administer, false, redeliver},
  };
  return table;
}

// The route for a path below /api/v1/, binding its parameters; `pathOnly`
// is set when some route has this path under another method.
const Route *match(http::verb method, const std::vector<std::string> &segments, Params &params,
                   bool &pathOnly) {
  pathOnly = false;
  for (const Route &route : routes()) {
    if (route.pattern.size() != segments.size())
      continue;
    Params bound;
    bool same = true;
    for (size_t i = 0; i < segments.size() && same; ++i) {
      const std::string &part = route.pattern[i];
      if (part.starts_with("{"))
        bound[part.substr(1, part.size() - 2)] = segments[i];
      else
        same = part == segments[i];
    }
    if (!same)
      continue;
    if (route.method != method) {
      pathOnly = true;
      continue;
    }
    params = std::move(bound);
    return &route;
  }
  return nullptr;
}

// Authenticates, checks the grant and runs the route; with `admitOnly`,
// stops after the checks (200 with no body: go on).
Response runRoute(const Route &route, const Request &request, const ParsedTarget &target,
                  Params params, bool admitOnly, const ServerOptions &options, StorePool &stores,
                  Metrics &metrics) {
  std::string where = routeName(request.method, request.target);
  auto lease = stores.acquire();
  if (!lease)
    return errorResponse(lease.takeError(), where);
  auto respond = [&](llvm::Error error) {
    ErrorReport report = describeError(std::move(error));
    if (report.kind == ErrorKind::Unavailable || report.kind == ErrorKind::StoreUnavailable)
      (*lease)->discard();
    return errorResponse(makeError(report.kind, report.message), where);
  };
  auto grant = authenticate(***lease, request.authorization, nowMicros());
  if (!grant)
    return respond(grant.takeError());
  Call call{request, target, std::move(params), std::move(*grant), ***lease, options, metrics};
  if (!route.checksItself)
    if (llvm::Error error =
            call.require(route.action, call.param("name"), call.param("alias"), where))
      return respond(std::move(error));
  if (admitOnly)
    return Response();
  llvm::Expected<Response> response = route.run(call);
  if (!response)
    return respond(response.takeError());
  return std::move(*response);
}

bool apiPath(const std::vector<std::string> &segments) {
  return segments.size() >= 2 && segments[0] == "api" && segments[1] == "v1";
}

} // namespace

llvm::Expected<ParsedTarget> parseTarget(const std::string &target) {
  ParsedTarget parsed;
  std::string_view text = target;
  size_t question = text.find('?');
  std::string_view path = text.substr(0, question);
  if (!path.starts_with("/"))
    return makeError(ErrorKind::BadInput, "the request target must be an absolute path");
  for (size_t start = 1; start <= path.size();) {
    size_t slash = path.find('/', start);
    std::string_view segment = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!segment.empty() || slash != std::string_view::npos) {
      auto decoded = percentDecode(segment, false);
      if (!decoded)
        return decoded.takeError();
      if (!decoded->empty())
        parsed.segments.push_back(std::move(*decoded));
    }
    if (slash == std::string_view::npos)
      break;
    start = slash + 1;
  }
  if (question == std::string_view::npos)
    return parsed;
  std::string_view query = text.substr(question + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (pair.empty())
      continue;
    size_t equals = pair.find('=');
    auto key = percentDecode(pair.substr(0, equals), true);
    if (!key)
      return key.takeError();
    auto value = percentDecode(
        equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1), true);
    if (!value)
      return value.takeError();
    parsed.query.emplace(std::move(*key), std::move(*value));
  }
  return parsed;
}

bool isUpload(http::verb method, const std::string &target) {
  auto parsed = parseTarget(target);
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return false;
  }
  if (!apiPath(parsed->segments))
    return false;
  std::vector<std::string> rest(parsed->segments.begin() + 2, parsed->segments.end());
  Params params;
  bool pathOnly = false;
  const Route *route = match(method, rest, params, pathOnly);
  return route != nullptr && (route->run == registerVersion || route->run == registerDataset);
}

std::string routeName(http::verb method, const std::string &target) {
  std::string verb(http::to_string(method));
  auto parsed = parseTarget(target);
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return verb + " (malformed)";
  }
  const std::vector<std::string> &segments = parsed->segments;
  if (segments.size() == 1 &&
      (segments[0] == "healthz" || segments[0] == "readyz" || segments[0] == "metrics"))
    return verb + " /" + segments[0];
  if (!apiPath(segments))
    return verb + " (unknown)";
  std::vector<std::string> rest(segments.begin() + 2, segments.end());
  if (rest.size() == 1 && rest[0] == "openapi.json")
    return verb + " /api/v1/openapi.json";
  Params params;
  bool pathOnly = false;
  const Route *route = match(method, rest, params, pathOnly);
  if (route == nullptr)
    return verb + " (unknown)";
  std::string name = verb + " /api/v1";
  for (const std::string &part : route->pattern)
    name += "/" + part;
  return name;
}

Response Router::error(http::status status, ErrorKind kind, const std::string &message) {
  Response response = errorResponse(makeError(kind, message), "");
  response.status = status;
  return response;
}

Response Router::handle(const Request &request) {
  auto target = parseTarget(request.target);
  if (!target)
    return errorResponse(target.takeError(), "");
  const std::vector<std::string> &segments = target->segments;
  if (segments.size() == 1 && segments[0] == "healthz") {
    Response response;
    response.body = "{\"status\":\"ok\"}\n";
    return response;
  }
  if (segments.size() == 1 && segments[0] == "readyz") {
    // Ready when a store can be borrowed and answers.
    auto lease = stores_.acquire();
    if (!lease)
      return errorResponse(lease.takeError(), "readyz");
    auto head = (**lease)->auditLog({"", 1});
    if (!head) {
      (*lease)->discard();
      return errorResponse(head.takeError(), "readyz");
    }
    Response response;
    response.body = "{\"status\":\"ready\"}\n";
    return response;
  }
  if (segments.size() == 1 && segments[0] == "metrics") {
    Response response;
    response.body = metrics_.text();
    response.contentType = "text/plain; version=0.0.4";
    return response;
  }
  if (!apiPath(segments))
    return errorResponse(makeError(ErrorKind::NotFound, "no such endpoint: " + request.target), "");
  std::vector<std::string> rest(segments.begin() + 2, segments.end());
  if (rest.size() == 1 && rest[0] == "openapi.json") {
    Response response;
    response.body = std::string(openApiDocument());
    return response;
  }
  Params params;
  bool pathOnly = false;
  const Route *route = match(request.method, rest, params, pathOnly);
  if (route == nullptr) {
    if (!pathOnly)
      return errorResponse(makeError(ErrorKind::NotFound, "no such endpoint: " + request.target),
                           "");
    Response response =
        errorResponse(makeError(ErrorKind::BadInput, std::string(http::to_string(request.method)) +
                                                         " is not allowed on " + request.target),
                      "");
    response.status = http::status::method_not_allowed;
    return response;
  }
  return runRoute(*route, request, *target, std::move(params), /*admitOnly=*/false, options_,
                  stores_, metrics_);
}

std::optional<Response> Router::admitUpload(const Request &request) {
  auto target = parseTarget(request.target);
  if (!target)
    return errorResponse(target.takeError(), "");
  Params params;
  bool pathOnly = false;
  std::vector<std::string> rest(target->segments.begin() + 2, target->segments.end());
  const Route *route = match(request.method, rest, params, pathOnly);
  if (route == nullptr)
    return std::nullopt; // not an upload after all: handle() answers
  Response refusal = runRoute(*route, request, *target, std::move(params), /*admitOnly=*/true,
                              options_, stores_, metrics_);
  if (refusal.status == http::status::ok)
    return std::nullopt;
  return refusal;
}

} // namespace graceful::server
