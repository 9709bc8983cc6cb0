// A small HTTP/1.1 client for the server tests: keep-alive connections
// through Boost.Beast, raw sockets for what no well-behaved client sends,
// and a log of every answer for the OpenAPI check (openapi_test.py).
#pragma once

#include <map>
#include <memory>
#include <string>

namespace graceful::testing {

struct HttpResult {
  unsigned status = 0; // 0: the connection closed without an answer
  std::string body;
  std::map<std::string, std::string> headers; // names in lower case
  std::string header(const std::string &name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct HttpRequest {
  HttpRequest(std::string method, std::string target, std::string token = "", std::string body = "",
              std::string contentType = "application/json")
      : method(std::move(method)), target(std::move(target)), token(std::move(token)),
        body(std::move(body)), contentType(std::move(contentType)) {}
  std::string method = "GET";
  std::string target;
  std::string token; // sent as "Authorization: Bearer <token>" when not empty
  std::string body;
  std::string contentType = "application/json";
  std::map<std::string, std::string> headers;
};

// One connection, kept alive across requests; with `caFile`, HTTPS whose
// certificate must chain to it and name 127.0.0.1.
class HttpConnection {
public:
  explicit HttpConnection(unsigned short port, const std::string &caFile = "");
  ~HttpConnection();
  HttpConnection(const HttpConnection &) = delete;
  HttpConnection &operator=(const HttpConnection &) = delete;
  HttpResult send(const HttpRequest &request);
  // Why the connection or its TLS handshake failed ("" when it did not).
  const std::string &failure() const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

// One request on a fresh connection.
HttpResult http(unsigned short port, const HttpRequest &request);

// A raw TCP connection: bytes out, bytes in until the server closes.
class RawConnection {
public:
  explicit RawConnection(unsigned short port);
  ~RawConnection();
  RawConnection(const RawConnection &) = delete;
  RawConnection &operator=(const RawConnection &) = delete;
  void write(const std::string &bytes);
  // Everything until the server closes the connection (a guard of 60 s
  // stops a test that would hang).
  std::string readToEnd();
  bool connected() const { return fd_ >= 0; }

private:
  int fd_ = -1;
};

// The status line's code in a raw answer ("HTTP/1.1 400 Bad Request"), 0
// when there is none.
unsigned statusOf(const std::string &rawAnswer);

} // namespace graceful::testing
