// `graceful serve` and the bearer tokens it accepts: token create, list,
// revoke. The server itself lives in server/.
#include "command.h"
#include "graceful/operations/operations.h"
#include "graceful/server/server.h"
#include "graceful/server/tokens.h"
#include "graceful/support/format.h"
#include "graceful/support/identity.h"
#include "graceful/support/limits.h"
#include "output.h"

#include <charconv>
#include <iostream>

namespace graceful::cli {
namespace {

// HOST:PORT with an IPv4 or bracketed IPv6 host.
llvm::Error parseListen(const std::string &text, server::ServerOptions &options) {
  size_t colon = text.rfind(':');
  unsigned port = 0;
  if (colon != std::string::npos) {
    auto [end, ec] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), port);
    if (ec == std::errc() && end == text.data() + text.size() && port <= 65535 && colon > 0) {
      std::string host = text.substr(0, colon);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
      options.host = host;
      options.port = static_cast<unsigned short>(port);
      return llvm::Error::success();
    }
  }
  return makeError(ErrorKind::BadInput,
                   "--listen '" + text + "': expected HOST:PORT such as 127.0.0.1:8080");
}

llvm::Expected<int> runServe(const ParsedArgs &args) {
  server::ServerOptions options;
  options.store = registry::storeConfigFromEnvironment(args.common.store, args.common.artifacts);
  if (llvm::Error error = parseListen(optional(args, "listen"), options))
    return error;
  options.threads = args.values["threads"].as<int>();
  if (options.threads < 1 || options.threads > 256)
    return makeError(ErrorKind::BadInput, "--threads: between 1 and 256");
  options.policiesDir = optional(args, "policies");
  options.tlsCertFile = optional(args, "tls-cert");
  options.tlsKeyFile = optional(args, "tls-key");
  options.maxBodyBytes = args.values["max-body-bytes"].as<size_t>();
  options.maxUploadBytes = args.values["max-upload-bytes"].as<size_t>();
  options.maxHeaderBytes = args.values["max-header-bytes"].as<size_t>();
  options.requestTimeout = std::chrono::milliseconds(args.values["request-timeout-ms"].as<int>());
  options.shutdownGrace = std::chrono::milliseconds(args.values["shutdown-grace-ms"].as<int>());
  auto webhooks = deliveryOptionsFrom(args);
  if (!webhooks)
    return webhooks.takeError();
  options.webhooks = *webhooks;
  int poll = args.values["webhook-poll-ms"].as<int>();
  if (poll < 1)
    return makeError(ErrorKind::BadInput, "--webhook-poll-ms: at least 1");
  options.webhookPoll = std::chrono::milliseconds(poll);
  options.onListening = [&](unsigned short port) {
    // Tests and supervisors read this line for the port (--listen ...:0).
    std::cout << "graceful serve: listening on " << (options.tlsCertFile.empty() ? "http" : "https")
              << "://" << options.host << ":" << port << std::endl;
  };
  if (llvm::Error error = server::serve(options))
    return error;
  std::cout << "graceful serve: stopped" << std::endl;
  return kSuccess;
}

void printToken(const proto::ApiToken &token) {
  std::cout << "token #" << token.id() << "  " << escapeUnprintable(token.subject()) << "  "
            << token.role() << "  models=" << token.models() << "  aliases=" << token.aliases()
            << "  expires "
            << (token.has_expires_at() ? formatTime(token.expires_at()) : std::string("never"))
            << (token.has_revoked_at() ? "  REVOKED " + formatTime(token.revoked_at()) : "")
            << "\n";
}

llvm::Expected<int> runTokenCreate(const ParsedArgs &args) {
  server::TokenSpec spec;
  auto subject = required(args, "subject");
  if (!subject)
    return subject.takeError();
  if (llvm::Error error = checkLength("--subject", *subject, kMaxNameBytes))
    return error;
  spec.subject = *subject;
  auto role = required(args, "role");
  if (!role)
    return role.takeError();
  auto parsedRole = server::parseRole(*role);
  if (!parsedRole)
    return parsedRole.takeError();
  spec.role = *parsedRole;
  spec.models = args.values["models"].as<std::string>();
  spec.aliases = args.values["aliases"].as<std::string>();
  auto expires = server::parseExpiry(optional(args, "expires"), nowMicros());
  if (!expires)
    return expires.takeError();
  spec.expiresMicros = *expires;
  auto store = openStoreFor(args.common);
  if (!store)
    return store.takeError();
  auto token = server::createToken(**store, spec, currentActor());
  if (!token)
    return token.takeError();
  emit(args.common.json, *token, [&] {
    printToken(*token);
    std::cout << token->token() << "\n(shown only now: the registry keeps only its hash)\n";
  });
  return kSuccess;
}

llvm::Expected<int> runTokenList(const ParsedArgs &args) {
  auto store = openStoreFor(args.common, StoreAccess::ReadOnly);
  if (!store)
    return store.takeError();
  auto tokens = (*store)->listTokens();
  if (!tokens)
    return tokens.takeError();
  emit(args.common.json, *tokens, [&] {
    if (tokens->tokens().empty())
      std::cout << "no tokens\n";
    for (const proto::ApiToken &token : tokens->tokens())
      printToken(token);
  });
  return kSuccess;
}

llvm::Expected<int> runTokenRevoke(const ParsedArgs &args) {
  auto text = required(args, "id");
  if (!text)
    return text.takeError();
  auto id = operations::parseRecordId(*text, "token");
  if (!id)
    return id.takeError();
  auto reason = optionalText(args, "reason", kMaxReasonBytes);
  if (!reason)
    return reason.takeError();
  auto store = openStoreFor(args.common);
  if (!store)
    return store.takeError();
  auto token = (*store)->revokeToken(*id, currentActor(), *reason);
  if (!token)
    return token.takeError();
  emit(args.common.json, *token, [&] { printToken(*token); });
  return kSuccess;
}

} // namespace

std::vector<CommandSpec> serverCommands() {
  return {
      {"serve",
       "[--listen HOST:PORT] [--threads N] [--policies DIR] [--max-body-bytes N] "
       "[--max-upload-bytes N] [--max-header-bytes N] [--request-timeout-ms MS] "
       "[--shutdown-grace-ms MS] [--tls-cert CERT.pem --tls-key KEY.pem] [--webhook-poll-ms MS] "
       "[--webhook-attempts N] [--webhook-retry-ms MS] [--webhook-timeout-ms MS] "
       "[--webhook-ca CA.pem]",
       "serve the registry as an HTTP JSON API under /api/v1/ (bearer tokens)",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("listen", po::value<std::string>()->default_value("127.0.0.1:8080"),
                               "address and port (port 0: any free one, printed)")(
             "threads", po::value<int>()->default_value(4), "threads serving connections")(
             "policies", po::value<std::string>(),
             "directory that policy names in gate run, promote and protect requests resolve in")(
             "max-body-bytes", po::value<size_t>()->default_value(1024 * 1024),
             "largest JSON request body (413 beyond)")(
             "max-upload-bytes", po::value<size_t>()->default_value(size_t{1} << 30),
             "largest ONNX upload (413 beyond)")("max-header-bytes",
                                                 po::value<size_t>()->default_value(16 * 1024),
                                                 "largest request header (431 beyond)")(
             "request-timeout-ms", po::value<int>()->default_value(30000),
             "time a client has to send a request's header (and idle keep-alive time)")(
             "shutdown-grace-ms", po::value<int>()->default_value(30000),
             "after SIGTERM, how long requests in flight may take to finish")(
             "tls-cert", po::value<std::string>(),
             "serve HTTPS (TLS 1.2+) with this PEM certificate chain (needs --tls-key)")(
             "tls-key", po::value<std::string>(), "the certificate's PEM private key")(
             "webhook-poll-ms", po::value<int>()->default_value(1000),
             "how often to look for webhook deliveries that are due");
         declareDeliveryOptions(options);
       },
       runServe,
       /*runsModels=*/true},
      {"token create",
       "--subject S --role reader|publisher|promoter|admin [--models GLOB] [--aliases GLOB] "
       "[--expires never|30m|12h|90d|TIME]",
       "create a bearer token for graceful serve (printed once; stored as a hash)",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("subject", po::value<std::string>(),
                               "who uses it: the audit log's actor for its requests")(
             "role", po::value<std::string>(), "reader, publisher, promoter or admin")(
             "models", po::value<std::string>()->default_value("*"),
             "glob of the models it may use")("aliases",
                                              po::value<std::string>()->default_value("*"),
                                              "glob of the aliases a promoter may move")(
             "expires", po::value<std::string>(), "never (default), 30m, 12h, 90d or a time");
       },
       runTokenCreate},
      {"token list", "", "list tokens (never their secrets)",
       [](po::options_description &, po::positional_options_description &) {}, runTokenList},
      {"token revoke", "ID [--reason TEXT]", "revoke a token (audited)",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("id", po::value<std::string>(), "the token's id")(
             "reason", po::value<std::string>(), "why, for the audit log");
         pos.add("id", 1);
       },
       runTokenRevoke},
  };
}

} // namespace graceful::cli
