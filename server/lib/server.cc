// The network side of `graceful serve`: an acceptor and one session per
// connection on a fixed pool of threads running one io_context. Reads are
// asynchronous, so a slow client holds no thread; a request's handler runs
// on the pool thread that read it (store calls block, and the pool is
// sized for that). Sessions are serialised on their own strand. With a
// certificate and key, every connection is TLS (1.2 or newer) and a
// plain-text client is dropped at the handshake.
#include "graceful/server/server.h"

#include "graceful/support/error.h"
#include "hashing_file_body.h"
#include "router.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <list>
#include <optional>
#include <thread>
#include <unistd.h>

namespace graceful::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// What the listener and a shutdown need of a session, whichever its stream.
class SessionBase {
public:
  virtual ~SessionBase() = default;
  virtual void start() = 0;
  // SIGTERM: a session waiting for its next request closes now; one busy
  // with a request closes after answering it.
  virtual void drain() = 0;
};

// What every session shares: the options, the router, and the set of live
// sessions that a shutdown walks.
struct Shared {
  Shared(const ServerOptions &options, StorePool &stores, Metrics &metrics)
      : options(options), router(options, stores, metrics), metrics(metrics) {}

  const ServerOptions &options;
  Router router;
  Metrics &metrics;
  std::atomic<bool> draining{false};
  std::mutex mutex;
  std::condition_variable changed;
  std::list<std::weak_ptr<SessionBase>> sessions;
  size_t live = 0;
};

// Stream: beast::tcp_stream, or beast::ssl_stream over one.
template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

public:
  Session(tcp::socket socket, Shared &shared) requires(!kTls)
      : stream_(std::move(socket)), shared_(shared) {}
  Session(tcp::socket socket, ssl::context &tls, Shared &shared) requires kTls
      : stream_(std::move(socket), tls),
        shared_(shared) {}

  ~Session() {
    removeUpload();
    std::lock_guard<std::mutex> lock(shared_.mutex);
    --shared_.live;
    shared_.changed.notify_all();
  }

  void start() override {
    asio::dispatch(stream_.get_executor(), [me = this->shared_from_this()] {
      if constexpr (kTls)
        me->handshake();
      else
        me->readHeader();
    });
  }

  // An idle session has a read pending, which a TLS shutdown would queue
  // behind until the read's own deadline: it is closed at once instead.
  void drain() override {
    asio::post(stream_.get_executor(), [me = this->shared_from_this()] {
      if (!me->busy_)
        me->closeSocket();
    });
  }

private:
  beast::tcp_stream &connection() { return beast::get_lowest_layer(stream_); }

  // Within the request timeout, as a header must arrive: a client that
  // connects and says nothing holds no more than a slow one.
  void handshake() {
    connection().expires_after(shared_.options.requestTimeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [me = this->shared_from_this()](beast::error_code ec) {
                              if (ec)
                                return me->closeSocket(); // nothing to shut down
                              me->readHeader();
                            });
  }

  void readHeader() {
    if (shared_.draining)
      return close();
    busy_ = false;
    header_.emplace();
    header_->header_limit(static_cast<std::uint32_t>(shared_.options.maxHeaderBytes));
    // The route's own limit is checked once the header says which route;
    // this one only keeps the header parser from refusing an upload.
    header_->body_limit(std::max(shared_.options.maxBodyBytes, shared_.options.maxUploadBytes));
    connection().expires_after(shared_.options.requestTimeout);
    http::async_read_header(
        stream_, buffer_, *header_,
        [me = this->shared_from_this()](beast::error_code ec, size_t) { me->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    // Closed by the peer, by the timeout or by a drain: nothing to answer.
    if (closedByPeer(ec) || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        !connection().socket().is_open())
      return close();
    started_ = std::chrono::steady_clock::now();
    busy_ = true;
    counting_ = true;
    shared_.metrics.beginRequest();
    if (ec == http::error::body_limit)
      return tooLarge(std::max(shared_.options.maxBodyBytes, shared_.options.maxUploadBytes));
    if (ec == http::error::header_limit)
      return refuse(http::status::request_header_fields_too_large,
                    "the request header is larger than " +
                        std::to_string(shared_.options.maxHeaderBytes) + " bytes");
    if (ec)
      return refuse(http::status::bad_request, "malformed HTTP request: " + ec.message());
    const auto &header = header_->get();
    request_ = {};
    request_.method = header.method();
    request_.target = std::string(header.target());
    request_.authorization = std::string(header[http::field::authorization]);
    request_.uploadDigest = std::string(header["X-Graceful-Digest"]);
    request_.datasetFiles = std::string(header["X-Graceful-Dataset-Files"]);
    request_.range = std::string(header[http::field::range]);
    request_.ifRange = std::string(header[http::field::if_range]);
    keepAlive_ = header.keep_alive();
    bool upload = isUpload(request_.method, request_.target);
    // A declared length over the limit is refused before a byte of the
    // body is read (a chunked body is cut off by the parser's limit).
    size_t limit = upload ? shared_.options.maxUploadBytes : shared_.options.maxBodyBytes;
    if (auto length = header_->content_length(); length && *length > limit)
      return tooLarge(limit);
    if (upload) {
      // Nothing of an upload is stored for a caller who may not make it.
      if (std::optional<Response> refusal = shared_.router.admitUpload(request_)) {
        keepAlive_ = false;
        return send(std::move(*refusal), routeName(request_.method, request_.target));
      }
      return readUpload();
    }
    body_.emplace(std::move(*header_));
    body_->body_limit(shared_.options.maxBodyBytes);
    http::async_read(stream_, buffer_, *body_,
                     [me = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (!me->bodyFailed(ec, me->shared_.options.maxBodyBytes)) {
                         me->request_.body = std::move(me->body_->get().body());
                         me->answer();
                       }
                     });
  }

  // An upload streams into a temporary file, never into memory, and is
  // hashed on the way in.
  void readUpload() {
    std::string path =
        (std::filesystem::temp_directory_path() / "graceful-upload-XXXXXX.onnx").string();
    int fd = ::mkstemps(path.data(), 5);
    if (fd < 0)
      return refuse(http::status::service_unavailable, "cannot create a file for the upload");
    ::close(fd);
    uploadPath_ = path;
    upload_.emplace(std::move(*header_));
    upload_->body_limit(shared_.options.maxUploadBytes);
    beast::error_code ec;
    upload_->get().body().file.open(path.c_str(), beast::file_mode::write, ec);
    if (ec)
      return refuse(http::status::service_unavailable, "cannot open the upload's file");
    connection().expires_after(shared_.options.uploadTimeout);
    http::async_read(stream_, buffer_, *upload_,
                     [me = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (!me->bodyFailed(ec, me->shared_.options.maxUploadBytes)) {
                         auto &body = me->upload_->get().body();
                         beast::error_code closed;
                         body.file.close(closed);
                         me->request_.uploadPath = me->uploadPath_;
                         me->request_.uploadReceived = body.received;
                         me->answer();
                       }
                     });
  }

  // A TLS client may hang up without close_notify (many do): that is a
  // closed connection, not a malformed request.
  static bool closedByPeer(beast::error_code ec) {
    return ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == ssl::error::stream_truncated;
  }

  // Answers a failed body read; true when it failed.
  bool bodyFailed(beast::error_code ec, size_t limit) {
    if (!ec)
      return false;
    if (ec == http::error::body_limit)
      tooLarge(limit);
    else if (ec == beast::error::timeout)
      refuse(http::status::request_timeout, "the request body did not arrive in time");
    else if (closedByPeer(ec))
      close();
    else
      refuse(http::status::bad_request, "malformed HTTP request body: " + ec.message());
    return true;
  }

  void tooLarge(size_t limit) {
    refuse(http::status::payload_too_large,
           "the request body is larger than " + std::to_string(limit) + " bytes");
  }

  // A refusal before routing ends the connection: what follows on the
  // wire cannot be trusted to start a request.
  void refuse(http::status status, const std::string &message) {
    keepAlive_ = false;
    ErrorKind kind =
        status == http::status::service_unavailable ? ErrorKind::Unavailable : ErrorKind::BadInput;
    send(Router::error(status, kind, message), "(refused)");
  }

  void answer() {
    Response response = shared_.router.handle(request_);
    removeUpload();
    send(std::move(response), routeName(request_.method, request_.target));
  }

  void send(Response response, const std::string &route) {
    stopCounting();
    bool keepAlive = keepAlive_ && !shared_.draining;
    unsigned status = static_cast<unsigned>(response.status);
    shared_.metrics.recordRequest(route, status, std::chrono::steady_clock::now() - started_);
    connection().expires_after(shared_.options.requestTimeout);
    if (!response.filePath.empty()) {
      auto message = std::make_shared<http::response<http::file_body>>(response.status, 11);
      beast::error_code ec;
      message->body().open(response.filePath.c_str(), beast::file_mode::scan, ec);
      // The open file keeps its bytes; the name is not needed any more.
      std::filesystem::remove(response.filePath);
      if (ec)
        return send(Router::error(http::status::service_unavailable, ErrorKind::Unavailable,
                                  "cannot read the artifact copy"),
                    route);
      prepare(*message, response, keepAlive);
      write(message);
      return;
    }
    auto message = std::make_shared<http::response<http::string_body>>(response.status, 11);
    message->body() = std::move(response.body);
    prepare(*message, response, keepAlive);
    write(message);
  }

  template <typename Message>
  void prepare(Message &message, const Response &response, bool keepAlive) {
    message.set(http::field::server, "graceful");
    message.set(http::field::content_type, response.contentType);
    for (const auto &[name, value] : response.headers)
      message.set(name, value);
    message.keep_alive(keepAlive);
    message.prepare_payload();
  }

  template <typename Message> void write(std::shared_ptr<Message> message) {
    http::async_write(stream_, *message,
                      [me = this->shared_from_this(), message](beast::error_code ec, size_t) {
                        if (ec || !message->keep_alive())
                          return me->close();
                        me->readHeader();
                      });
  }

  void stopCounting() {
    if (counting_)
      shared_.metrics.endRequest();
    counting_ = false;
  }

  void close() {
    stopCounting();
    busy_ = false;
    if constexpr (kTls) {
      if (!closing_ && connection().socket().is_open()) {
        // close_notify first, so the client knows the answer was whole;
        // a peer that does not answer it is cut off at the timeout.
        closing_ = true;
        connection().expires_after(std::chrono::seconds(2));
        return stream_.async_shutdown(
            [me = this->shared_from_this()](beast::error_code) { me->closeSocket(); });
      }
    }
    closeSocket();
  }

  void closeSocket() {
    beast::error_code ignored;
    connection().socket().shutdown(tcp::socket::shutdown_both, ignored);
    connection().socket().close(ignored);
  }

  void removeUpload() {
    if (uploadPath_.empty())
      return;
    upload_.reset();
    std::error_code ignored;
    std::filesystem::remove(uploadPath_, ignored);
    uploadPath_.clear();
  }

  Stream stream_;
  Shared &shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_;
  std::optional<http::request_parser<http::string_body>> body_;
  std::optional<http::request_parser<HashingFileBody>> upload_;
  std::string uploadPath_;
  Request request_;
  bool keepAlive_ = true;
  bool busy_ = false;
  bool counting_ = false; // counted in the in-flight gauge
  bool closing_ = false;  // a TLS shutdown is under way
  std::chrono::steady_clock::time_point started_;
};

class Listener {
public:
  // With `tls`, every connection starts with a TLS handshake.
  Listener(asio::io_context &io, Shared &shared, ssl::context *tls)
      : io_(io), acceptor_(io), shared_(shared), tls_(tls) {}

  llvm::Error listen(const std::string &host, unsigned short port) {
    beast::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec)
      return makeError(ErrorKind::BadInput, "--listen '" + host + "': not an IP address");
    tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec)
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor_.bind(endpoint, ec);
    if (!ec)
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return makeError(ErrorKind::Unavailable, "cannot listen on " + host + ":" +
                                                   std::to_string(port) + ": " + ec.message());
    return llvm::Error::success();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  void accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket s) {
      if (ec)
        return; // closed for shutdown
      std::shared_ptr<SessionBase> session;
      if (tls_)
        session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(s),
                                                                                  *tls_, shared_);
      else
        session = std::make_shared<Session<beast::tcp_stream>>(std::move(s), shared_);
      {
        std::lock_guard<std::mutex> lock(shared_.mutex);
        ++shared_.live;
        // Forget sessions that have gone, so the list stays short.
        shared_.sessions.remove_if([](const std::weak_ptr<SessionBase> &s) { return s.expired(); });
        shared_.sessions.push_back(session);
      }
      session->start();
      if (!shared_.draining)
        accept();
    });
  }

  void close() {
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
  }

private:
  asio::io_context &io_;
  tcp::acceptor acceptor_;
  Shared &shared_;
  ssl::context *tls_;
};

// The server's TLS context from PEM files: the certificate (chain) and its
// private key, which must match; TLS 1.2 and newer only.
llvm::Expected<std::unique_ptr<ssl::context>> tlsContext(const ServerOptions &options) {
  if (options.tlsCertFile.empty() != options.tlsKeyFile.empty())
    return makeError(ErrorKind::BadInput, "--tls-cert and --tls-key go together");
  if (options.tlsCertFile.empty())
    return nullptr;
  for (const auto &[option, path] :
       {std::pair{"--tls-cert", options.tlsCertFile}, std::pair{"--tls-key", options.tlsKeyFile}})
    if (!std::ifstream(path))
      return makeError(ErrorKind::BadInput,
                       std::string(option) + " " + path + ": does not exist or cannot be read");
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  // An encrypted key fails to load instead of prompting on a terminal.
  context->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  beast::error_code ec;
  context->use_certificate_chain_file(options.tlsCertFile, ec);
  if (ec)
    return makeError(ErrorKind::BadInput, "--tls-cert " + options.tlsCertFile +
                                              ": not a readable PEM certificate (" + ec.message() +
                                              ")");
  context->use_private_key_file(options.tlsKeyFile, ssl::context::pem, ec);
  if (ec)
    return makeError(ErrorKind::BadInput, "--tls-key " + options.tlsKeyFile +
                                              ": not a readable PEM private key, or not the "
                                              "certificate's (" +
                                              ec.message() + ")");
  return context;
}

} // namespace

llvm::Error serve(const ServerOptions &options) {
  // A peer or a supervisor that closed its end must not kill the server:
  // writes to it fail instead (stdout's last line, a socket asio missed).
  std::signal(SIGPIPE, SIG_IGN);
  auto tls = tlsContext(options);
  if (!tls)
    return tls.takeError();
  // Opening a store first turns a wrong URI or a missing schema into an
  // error at start-up rather than a 503 on every request.
  StorePool stores(options.store);
  {
    auto lease = stores.acquire();
    if (!lease)
      return lease.takeError();
  }
  Metrics metrics;
  WebhookSender webhooks(options.store, options.webhooks, options.webhookPoll,
                         [&metrics](std::string_view outcome) { metrics.recordDelivery(outcome); });
  // Declared before the io_context: destroying it destroys the sessions
  // its pending handlers hold, and they use `shared` as they go.
  Shared shared(options, stores, metrics);
  asio::io_context io(options.threads);
  Listener listener(io, shared, tls->get());
  if (llvm::Error error = listener.listen(options.host, options.port))
    return error;
  if (options.onListening)
    options.onListening(listener.port());
  listener.accept();

  bool stopRequested = false;
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](beast::error_code ec, int) {
    if (ec)
      return;
    shared.draining = true;
    listener.close();
    // Locked only to copy: the last reference to a session may be
    // dropped here, and its destructor takes the same lock.
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard<std::mutex> lock(shared.mutex);
      for (const std::weak_ptr<SessionBase> &weak : shared.sessions)
        if (auto session = weak.lock())
          live.push_back(std::move(session));
    }
    for (const auto &session : live)
      session->drain();
    live.clear();
    std::lock_guard<std::mutex> lock(shared.mutex);
    stopRequested = true;
    shared.changed.notify_all();
  });

  std::vector<std::thread> pool;
  for (int i = 0; i < std::max(1, options.threads); ++i)
    pool.emplace_back([&io] { io.run(); });
  {
    std::unique_lock<std::mutex> lock(shared.mutex);
    shared.changed.wait(lock, [&] { return stopRequested; });
    // Requests in flight finish within the grace period; the rest are cut.
    shared.changed.wait_for(lock, options.shutdownGrace, [&] { return shared.live == 0; });
  }
  io.stop();
  for (std::thread &thread : pool)
    thread.join();
  return llvm::Error::success();
}

} // namespace graceful::server
