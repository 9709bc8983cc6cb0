// An HTTP/1.1 client for graceful's own calls: webhook deliveries, and the
// CLI working against a `graceful serve` (--store http(s)://HOST:PORT).
// One request per connection, every step of it (connect, TLS handshake,
// sending, the answer) bounded by a timeout; https verifies the server's
// certificate and name.
#pragma once

#include <chrono>
#include <cstddef>
#include <llvm/Support/Error.h>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace graceful::server {

struct HttpUrl {
  bool tls = false;
  std::string host;        // an IPv6 address without its brackets
  unsigned short port = 0; // 0: the scheme's (80, 443)
  std::string target;      // path and query, "/" at least
  unsigned short portOrDefault() const { return port ? port : tls ? 443 : 80; }
  // scheme://host:port, as messages name the server
  std::string origin() const;
};

// http(s)://HOST[:PORT][/PATH][?QUERY] (the scheme in any case), at most
// 2,048 bytes of ASCII: HOST a name of letters, digits, '-' and '.', an
// IPv4 address or a bracketed IPv6 one; no user information (a password
// would be stored and shown), no fragment, no spaces or control
// characters. `what` names the URL in errors ("webhook URL", "--store").
llvm::Expected<HttpUrl> parseHttpUrl(std::string_view url, std::string_view what);

struct HttpCall {
  std::string method = "GET";
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string contentType = "application/json";
  // When set, the body is this file's bytes (an upload), not `body`.
  std::string bodyFile;
  // When set, a 2xx answer's body is written to this file (a download);
  // other answers are read into `body` as usual.
  std::string responseFile;
  // A larger answer in memory is cut off: only its status and headers count.
  std::size_t maxResponseBytes = 64 * 1024 * 1024;
};

struct HttpAnswer {
  unsigned status = 0;
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;
  bool truncated = false; // the body went past maxResponseBytes
  std::string header(const std::string &lowerCaseName) const;
};

struct HttpOptions {
  std::chrono::milliseconds timeout{10000}; // each step, or the whole call
  std::string caFile;                       // PEM certificates trusted besides the system's
  // The timeout bounds the whole call (a webhook attempt, leased for a
  // time), not each step (the CLI's long uploads and gate runs).
  bool wholeCall = false;
};

// The server's answer, whatever its status; an error naming the server and
// why when none came: Unavailable (unresolvable, refused, timed out,
// closed: retry) or StoreUnavailable (a certificate that does not verify).
llvm::Expected<HttpAnswer> httpCall(const HttpUrl &server, const HttpCall &call,
                                    const HttpOptions &options);

} // namespace graceful::server
