#include "http_client.h"

#include <arpa/inet.h>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <optional>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace graceful::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

// Each answer as N.method, N.target, N.status, N.type and N.body in
// GRACEFUL_TEST_HTTP_LOG (by default the build's http-responses), for
// openapi_test.py to validate against the OpenAPI document.
void record(const HttpRequest &request, const HttpResult &result) {
  const char *directory = std::getenv("GRACEFUL_TEST_HTTP_LOG");
  if (directory == nullptr)
    directory = GRACEFUL_HTTP_LOG_DEFAULT;
  if (*directory == '\0' || result.status == 0)
    return;
  std::filesystem::create_directories(directory);
  static std::atomic<int> counter{0};
  std::string base =
      std::string(directory) + "/" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::ofstream(base + ".method") << request.method;
  std::ofstream(base + ".target") << request.target;
  std::ofstream(base + ".status") << result.status;
  std::ofstream(base + ".type") << result.header("content-type");
  std::ofstream(base + ".body", std::ios::binary) << result.body;
}

// One request and its answer on an open stream (plain or TLS).
template <typename Stream>
HttpResult exchange(Stream &stream, beast::flat_buffer &buffer, const HttpRequest &request) {
  http::request<http::string_body> message(http::string_to_verb(request.method), request.target,
                                           11);
  message.set(http::field::host, "127.0.0.1");
  if (!request.token.empty())
    message.set(http::field::authorization, "Bearer " + request.token);
  if (!request.body.empty())
    message.set(http::field::content_type, request.contentType);
  for (const auto &[name, value] : request.headers)
    message.set(name, value);
  message.body() = request.body;
  message.keep_alive(true);
  message.prepare_payload();
  HttpResult result;
  beast::error_code ec;
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(120));
  http::write(stream, message, ec);
  if (ec)
    return result;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  http::read(stream, buffer, parser, ec);
  if (ec)
    return result;
  const auto &response = parser.get();
  result.status = response.result_int();
  result.body = response.body();
  for (const auto &field : response) {
    std::string name(field.name_string());
    for (char &c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers[name] = std::string(field.value());
  }
  record(request, result);
  return result;
}

} // namespace

struct HttpConnection::State {
  asio::io_context io;
  beast::tcp_stream stream{io};
  ssl::context tlsContext{ssl::context::tlsv12_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool connected = false;
  std::string failure;
};

HttpConnection::HttpConnection(unsigned short port, const std::string &caFile)
    : state_(std::make_unique<State>()) {
  beast::error_code ec;
  state_->stream.socket().connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  state_->connected = !ec;
  if (!state_->connected || caFile.empty())
    return;
  // The server's certificate must chain to caFile and name 127.0.0.1.
  state_->tlsContext.load_verify_file(caFile, ec);
  state_->tlsContext.set_verify_mode(ssl::verify_peer, ec);
  state_->tls.emplace(std::move(state_->stream), state_->tlsContext);
  state_->tls->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
  beast::get_lowest_layer(*state_->tls).expires_after(std::chrono::seconds(60));
  state_->tls->handshake(ssl::stream_base::client, ec);
  state_->connected = !ec;
  state_->failure = ec ? ec.message() : "";
}

HttpConnection::~HttpConnection() {
  beast::error_code ignored;
  auto &socket =
      state_->tls ? beast::get_lowest_layer(*state_->tls).socket() : state_->stream.socket();
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
}

const std::string &HttpConnection::failure() const { return state_->failure; }

HttpResult HttpConnection::send(const HttpRequest &request) {
  if (!state_->connected)
    return {};
  return state_->tls ? exchange(*state_->tls, state_->buffer, request)
                     : exchange(state_->stream, state_->buffer, request);
}

HttpResult http(unsigned short port, const HttpRequest &request) {
  HttpConnection connection(port);
  return connection.send(request);
}

RawConnection::RawConnection(unsigned short port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  timeval guard{60, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0)
    ::close(fd_);
}

void RawConnection::write(const std::string &bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t wrote = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (wrote <= 0)
      return; // the server closed: what it answered is still readable
    sent += static_cast<size_t>(wrote);
  }
}

std::string RawConnection::readToEnd() {
  std::string text;
  char buffer[4096];
  ssize_t got;
  while ((got = ::recv(fd_, buffer, sizeof buffer, 0)) > 0)
    text.append(buffer, static_cast<size_t>(got));
  return text;
}

unsigned statusOf(const std::string &rawAnswer) {
  if (!rawAnswer.starts_with("HTTP/1.1 ") || rawAnswer.size() < 12)
    return 0;
  return static_cast<unsigned>(std::atoi(rawAnswer.substr(9, 3).c_str()));
}

} // namespace graceful::testing
