#include "graceful/server/client.h"

#include "graceful/support/error.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <limits>
#include <optional>

namespace graceful::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr size_t kMaxUrlBytes = 2048;

bool isControlOrSpace(char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }
bool isNotAscii(char c) { return static_cast<unsigned char>(c) >= 0x80; }

// A host name of letters, digits, '-' and '.' (IDNA names already in
// their xn-- form), or an IP address.
bool isHost(const std::string &host, bool bracketed) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec)
    return bracketed == address.is_v6();
  return !bracketed && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

llvm::Error badUrl(std::string_view what, std::string_view url, const std::string &why) {
  std::string shown(url.substr(0, 200));
  std::replace_if(shown.begin(), shown.end(), isControlOrSpace, '?');
  return makeError(ErrorKind::BadInput, std::string(what) + " '" + shown + "': " + why);
}

// HOST[:PORT] of an authority; a bracketed IPv6 address keeps no brackets.
llvm::Error parseAuthority(std::string_view what, std::string_view url, std::string_view authority,
                           HttpUrl &parsed) {
  std::string_view host = authority, port;
  bool bracketed = authority.starts_with("[");
  if (bracketed) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return badUrl(what, url, "an IPv6 address opened with [ is not closed");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":"))
      return badUrl(what, url, "expected :PORT after the IPv6 address");
    port = rest.empty() ? rest : rest.substr(1);
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty())
    return badUrl(what, url, "names no host");
  parsed.host = std::string(host);
  if (!isHost(parsed.host, bracketed))
    return badUrl(what, url,
                  "the host must be a name of letters, digits, '-' and '.', an IPv4 address or "
                  "an IPv6 address in brackets");
  if (port.empty() && authority.ends_with(":"))
    return badUrl(what, url, "the port must be a number from 1 to 65535");
  if (port.empty())
    return llvm::Error::success();
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    return badUrl(what, url, "the port must be a number from 1 to 65535");
  parsed.port = static_cast<unsigned short>(value);
  return llvm::Error::success();
}

// One exchange on one connection: connect, [handshake,] send, read the
// answer's header, then its body into memory or a file. Each step gets the
// whole timeout; `failure` says why one did not finish.
template <typename Stream, typename RequestBody> class Exchange {
public:
  // With a deadline, every step ends by it; otherwise each gets `timeout`.
  Exchange(Stream &stream, http::request<RequestBody> &request, const HttpCall &call,
           std::chrono::milliseconds timeout,
           std::optional<std::chrono::steady_clock::time_point> deadline)
      : stream_(stream), request_(request), call_(call), timeout_(timeout), deadline_(deadline) {}

  void start(const tcp::resolver::results_type &endpoints) {
    arm();
    connection().async_connect(endpoints, [this](beast::error_code ec, const tcp::endpoint &) {
      if (ec)
        return fail("cannot connect", ec);
      if constexpr (kTls)
        handshake();
      else
        write();
    });
  }

  const std::string &failure() const { return failure_; }
  ErrorKind failureKind() const { return kind_; }
  HttpAnswer &answer() { return answer_; }

private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  beast::tcp_stream &connection() { return beast::get_lowest_layer(stream_); }

  void arm() {
    if (deadline_)
      connection().expires_at(*deadline_);
    else
      connection().expires_after(timeout_);
  }

  void handshake() {
    arm();
    stream_.async_handshake(ssl::stream_base::client, [this](beast::error_code ec) {
      if (ec) {
        // A certificate that does not verify will not verify on a retry.
        kind_ = ErrorKind::StoreUnavailable;
        return fail("TLS handshake failed", ec);
      }
      write();
    });
  }

  void write() {
    arm();
    http::async_write(stream_, request_, [this](beast::error_code ec, size_t) {
      if (ec)
        return fail("sending failed", ec);
      readHeader();
    });
  }

  void readHeader() {
    // The body's limit is set once the status says where it goes (none
    // would compare below every length in Boost 1.74).
    header_.body_limit(std::numeric_limits<std::uint64_t>::max());
    arm();
    http::async_read_header(stream_, buffer_, header_, [this](beast::error_code ec, size_t) {
      if (ec)
        return fail("no answer", ec);
      unsigned status = header_.get().result_int();
      answer_.status = status;
      for (const auto &field : header_.get()) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        answer_.headers[name] = std::string(field.value());
      }
      if (!call_.responseFile.empty() && status >= 200 && status < 300)
        readIntoFile();
      else
        readIntoMemory();
    });
  }

  void readIntoMemory() {
    text_.emplace(std::move(header_));
    text_->body_limit(call_.maxResponseBytes);
    arm();
    http::async_read(stream_, buffer_, *text_, [this](beast::error_code ec, size_t) {
      if (ec == http::error::body_limit)
        answer_.truncated = true;
      else if (ec)
        return fail("the answer was cut off", ec);
      answer_.body = std::move(text_->get().body());
      close();
    });
  }

  void readIntoFile() {
    file_.emplace(std::move(header_));
    file_->body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    file_->get().body().open(call_.responseFile.c_str(), beast::file_mode::write, ec);
    if (ec)
      return fail("cannot write " + call_.responseFile, ec);
    arm();
    http::async_read(stream_, buffer_, *file_, [this](beast::error_code ec, size_t) {
      file_->get().body().close();
      if (ec)
        return fail("the answer was cut off", ec);
      close();
    });
  }

  void fail(const std::string &what, beast::error_code ec) {
    failure_ = what + ": " + ec.message();
    close();
  }

  void close() {
    beast::error_code ignored;
    connection().socket().shutdown(tcp::socket::shutdown_both, ignored);
    connection().socket().close(ignored);
  }

  Stream &stream_;
  http::request<RequestBody> &request_;
  const HttpCall &call_;
  std::chrono::milliseconds timeout_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  beast::flat_buffer buffer_;
  http::response_parser<http::empty_body> header_;
  std::optional<http::response_parser<http::string_body>> text_;
  std::optional<http::response_parser<http::file_body>> file_;
  HttpAnswer answer_;
  std::string failure_;
  ErrorKind kind_ = ErrorKind::Unavailable;
};

template <typename Body>
void prepare(http::request<Body> &request, const HttpUrl &server, const HttpCall &call) {
  request.method_string(call.method);
  request.target(call.target.empty() ? "/" : call.target);
  request.version(11);
  std::string host =
      server.host.find(':') != std::string::npos ? "[" + server.host + "]" : server.host;
  request.set(http::field::host, server.port ? host + ":" + std::to_string(server.port) : host);
  request.set(http::field::user_agent, "graceful");
  request.set(http::field::content_type, call.contentType);
  for (const auto &[name, value] : call.headers)
    request.set(name, value);
  request.keep_alive(false);
}

template <typename Stream, typename Body>
llvm::Expected<HttpAnswer>
run(asio::io_context &io, Stream &stream, const tcp::resolver::results_type &endpoints,
    http::request<Body> &request, const HttpUrl &server, const HttpCall &call,
    const HttpOptions &options, std::optional<std::chrono::steady_clock::time_point> deadline) {
  Exchange<Stream, Body> exchange(stream, request, call, options.timeout, deadline);
  exchange.start(endpoints);
  io.run();
  if (!exchange.failure().empty())
    return makeError(exchange.failureKind(), server.origin() + ": " + exchange.failure());
  return std::move(exchange.answer());
}

template <typename Body>
llvm::Expected<HttpAnswer> send(http::request<Body> &request, const HttpUrl &server,
                                const HttpCall &call, const HttpOptions &options) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (options.wholeCall)
    deadline = std::chrono::steady_clock::now() + options.timeout;
  asio::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(server.host, std::to_string(server.portOrDefault()), ec);
  if (ec)
    return makeError(ErrorKind::Unavailable,
                     server.origin() + ": cannot resolve " + server.host + ": " + ec.message());
  // Name lookup cannot be cut short; a call past its deadline is not begun.
  if (deadline && std::chrono::steady_clock::now() >= *deadline)
    return makeError(ErrorKind::Unavailable,
                     server.origin() + ": resolving " + server.host + " took the whole timeout");
  if (!server.tls) {
    beast::tcp_stream stream(io);
    return run(io, stream, endpoints, request, server, call, options, deadline);
  }
  ssl::context tls(ssl::context::tls_client);
  tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                  ssl::context::no_tlsv1_1);
  tls.set_default_verify_paths(ec);
  if (!ec && !options.caFile.empty())
    tls.load_verify_file(options.caFile, ec);
  if (ec)
    return makeError(ErrorKind::BadInput, "cannot load the trusted certificates " + options.caFile +
                                              ": " + ec.message());
  tls.set_verify_mode(ssl::verify_peer);
  tls.set_verify_callback(ssl::host_name_verification(server.host));
  beast::ssl_stream<beast::tcp_stream> stream(io, tls);
  // SNI names a host; an IP address is not sent.
  asio::ip::make_address(server.host, ec);
  if (ec && !SSL_set_tlsext_host_name(stream.native_handle(), server.host.c_str()))
    return makeError(ErrorKind::Unavailable, server.origin() + ": cannot set the TLS server name");
  return run(io, stream, endpoints, request, server, call, options, deadline);
}

} // namespace

std::string HttpUrl::origin() const {
  std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return (tls ? "https://" : "http://") + shown + ":" + std::to_string(portOrDefault());
}

std::string HttpAnswer::header(const std::string &lowerCaseName) const {
  auto it = headers.find(lowerCaseName);
  return it == headers.end() ? "" : it->second;
}

llvm::Expected<HttpUrl> parseHttpUrl(std::string_view url, std::string_view what) {
  if (url.size() > kMaxUrlBytes)
    return badUrl(what, url, "longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  if (std::any_of(url.begin(), url.end(), isControlOrSpace) ||
      std::any_of(url.begin(), url.end(), isNotAscii))
    return badUrl(what, url,
                  "holds spaces, control characters or non-ASCII bytes (percent-encode them)");
  HttpUrl parsed;
  std::string_view rest;
  auto scheme = [&](std::string_view prefix) {
    return url.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), url.begin(), [](char a, char b) {
             return a == std::tolower(static_cast<unsigned char>(b));
           });
  };
  if (scheme("https://")) {
    parsed.tls = true;
    rest = url.substr(8);
  } else if (scheme("http://")) {
    rest = url.substr(7);
  } else {
    return badUrl(what, url, "expected http://HOST... or https://HOST...");
  }
  if (url.find('#') != std::string_view::npos)
    return badUrl(what, url, "a fragment (#...) is never sent: leave it out");
  size_t end = std::min(rest.find_first_of("/?"), rest.size());
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos)
    return badUrl(what, url,
                  "user information (USER:PASSWORD@) would be stored and shown: leave it "
                  "out");
  if (llvm::Error error = parseAuthority(what, url, authority, parsed))
    return error;
  std::string_view target = rest.substr(end);
  parsed.target = target.starts_with("/") ? std::string(target) : "/" + std::string(target);
  return parsed;
}

llvm::Expected<HttpAnswer> httpCall(const HttpUrl &server, const HttpCall &call,
                                    const HttpOptions &options) {
  if (call.bodyFile.empty()) {
    http::request<http::string_body> request;
    prepare(request, server, call);
    request.body() = call.body;
    request.prepare_payload();
    return send(request, server, call, options);
  }
  http::request<http::file_body> request;
  prepare(request, server, call);
  beast::error_code ec;
  request.body().open(call.bodyFile.c_str(), beast::file_mode::scan, ec);
  if (ec)
    return makeError(ErrorKind::BadInput,
                     call.bodyFile + ": cannot be read (" + ec.message() + ")");
  request.prepare_payload();
  return send(request, server, call, options);
}

} // namespace graceful::server
