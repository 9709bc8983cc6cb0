#include "graceful/server/webhooks.h"

#include "graceful/server/tokens.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/identity.h"
#include "graceful/support/limits.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <openssl/hmac.h>
#include <thread>

namespace graceful::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr size_t kMaxUrlBytes = 2048;
// A receiver's answer is read only to learn its status.
constexpr std::uint32_t kMaxAnswerBytes = 64 * 1024;

llvm::Error badUrl(std::string_view url, const std::string &why) {
  std::string shown(url.substr(0, 200));
  for (char &c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      c = '?';
  return makeError(ErrorKind::BadInput, "webhook URL '" + shown + "': " + why);
}

// HOST[:PORT] of an authority; a bracketed IPv6 address keeps no brackets.
llvm::Error parseAuthority(std::string_view url, std::string_view authority, WebhookUrl &parsed) {
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return badUrl(url, "an IPv6 address opened with [ is not closed");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":"))
      return badUrl(url, "expected :PORT after the IPv6 address");
    port = rest.empty() ? rest : rest.substr(1);
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty())
    return badUrl(url, "names no host");
  parsed.host = std::string(host);
  if (port.empty())
    return llvm::Error::success();
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    return badUrl(url, "the port must be a number from 1 to 65535");
  parsed.port = static_cast<unsigned short>(value);
  return llvm::Error::success();
}

llvm::Error checkGlob(std::string_view what, const std::string &glob) {
  if (llvm::Error error = checkLength(what, glob, kMaxNameBytes))
    return error;
  if (std::any_of(glob.begin(), glob.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return makeError(ErrorKind::BadInput, std::string(what) + ": no control characters");
  return llvm::Error::success();
}

// The request's events, each known and named once; none means all.
llvm::Expected<std::vector<std::string>> checkedEvents(const proto::WebhookCreateRequest &request) {
  std::vector<std::string> events;
  for (std::string_view known : registry::webhookEvents())
    if (request.events().empty() || std::find(request.events().begin(), request.events().end(),
                                              known) != request.events().end())
      events.emplace_back(known);
  for (const std::string &event : request.events())
    if (std::find(events.begin(), events.end(), event) == events.end()) {
      std::string known;
      for (std::string_view name : registry::webhookEvents())
        known += (known.empty() ? "" : ", ") + std::string(name);
      return makeError(ErrorKind::BadInput,
                       "--event '" + event.substr(0, 64) + "': expected one of " + known);
    }
  return events;
}

// One POST of one delivery; the answer's status line or why none came.
// Every step of the exchange must finish within the timeout.
template <typename Stream> class Attempt {
public:
  Attempt(Stream &stream, http::request<http::string_body> request,
          std::chrono::milliseconds timeout)
      : stream_(stream), request_(std::move(request)), timeout_(timeout) {}

  void start(const tcp::resolver::results_type &endpoints) {
    connection().expires_after(timeout_);
    connection().async_connect(endpoints, [this](beast::error_code ec, const tcp::endpoint &) {
      if (ec)
        return finish("cannot connect: " + ec.message());
      if constexpr (kTls)
        handshake();
      else
        write();
    });
  }

  const std::string &outcome() const { return outcome_; }
  unsigned status() const { return status_; }

private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  beast::tcp_stream &connection() { return beast::get_lowest_layer(stream_); }

  void handshake() {
    connection().expires_after(timeout_);
    stream_.async_handshake(ssl::stream_base::client, [this](beast::error_code ec) {
      if (ec)
        return finish("TLS handshake failed: " + ec.message());
      write();
    });
  }

  void write() {
    connection().expires_after(timeout_);
    http::async_write(stream_, request_, [this](beast::error_code ec, size_t) {
      if (ec)
        return finish("sending failed: " + ec.message());
      read();
    });
  }

  void read() {
    connection().expires_after(timeout_);
    parser_.body_limit(kMaxAnswerBytes);
    http::async_read(stream_, buffer_, parser_, [this](beast::error_code ec, size_t) {
      // The status line is what counts; a body cut off at the limit is
      // still an answer.
      if (ec && !(ec == http::error::body_limit && parser_.is_header_done()))
        return finish("no answer: " + ec.message());
      status_ = parser_.get().result_int();
      finish("HTTP " + std::to_string(status_));
    });
  }

  void finish(std::string outcome) {
    outcome_ = std::move(outcome);
    beast::error_code ignored;
    connection().socket().shutdown(tcp::socket::shutdown_both, ignored);
    connection().socket().close(ignored);
  }

  Stream &stream_;
  http::request<http::string_body> request_;
  std::chrono::milliseconds timeout_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  std::string outcome_;
  unsigned status_ = 0;
};

struct Answer {
  bool delivered = false;
  std::string response;
};

http::request<http::string_body> postOf(const WebhookUrl &url, const registry::DueDelivery &due) {
  http::request<http::string_body> request(http::verb::post, url.target, 11);
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  request.set(http::field::host, url.port ? host + ":" + std::to_string(url.port) : host);
  request.set(http::field::user_agent, "graceful-webhooks");
  request.set(http::field::content_type, "application/json");
  request.set("Graceful-Event", due.delivery.event());
  request.set("Graceful-Delivery", std::to_string(due.delivery.id()));
  request.set("Idempotency-Key", "graceful-delivery-" + std::to_string(due.delivery.id()));
  request.set("Graceful-Signature",
              webhookSignature(due.secret, nowMicros() / 1'000'000, due.body));
  request.keep_alive(false);
  request.body() = due.body;
  request.prepare_payload();
  return request;
}

template <typename Stream>
Answer run(asio::io_context &io, Stream &stream, const tcp::resolver::results_type &endpoints,
           http::request<http::string_body> request, const DeliveryOptions &options) {
  Attempt<Stream> attempt(stream, std::move(request), options.timeout);
  attempt.start(endpoints);
  io.run();
  return {attempt.status() >= 200 && attempt.status() < 300, attempt.outcome()};
}

Answer post(const registry::DueDelivery &due, const DeliveryOptions &options) {
  auto url = parseWebhookUrl(due.url);
  if (!url)
    return {false, llvm::toString(url.takeError())};
  asio::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(url->host,
                                    std::to_string(url->port  ? url->port
                                                   : url->tls ? 443
                                                              : 80),
                                    ec);
  if (ec)
    return {false, "cannot resolve " + url->host + ": " + ec.message()};
  http::request<http::string_body> request = postOf(*url, due);
  if (!url->tls) {
    beast::tcp_stream stream(io);
    return run(io, stream, endpoints, std::move(request), options);
  }
  ssl::context tls(ssl::context::tls_client);
  tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                  ssl::context::no_tlsv1_1);
  tls.set_default_verify_paths(ec);
  if (!options.caFile.empty())
    tls.load_verify_file(options.caFile, ec);
  if (ec)
    return {false, "cannot load the trusted certificates: " + ec.message()};
  tls.set_verify_mode(ssl::verify_peer);
  tls.set_verify_callback(ssl::host_name_verification(url->host));
  beast::ssl_stream<beast::tcp_stream> stream(io, tls);
  // The server's name for SNI; an IP address is not sent.
  asio::ip::make_address(url->host, ec);
  if (ec && !SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str()))
    return {false, "cannot set the TLS server name"};
  return run(io, stream, endpoints, std::move(request), options);
}

std::int64_t retryDelayMicros(const DeliveryOptions &options, int attemptsMade) {
  std::int64_t delay = options.firstRetry.count() * 1000;
  for (int i = 1; i < attemptsMade && delay < options.maxRetry.count() * 1000; ++i)
    delay *= 2;
  return std::min<std::int64_t>(delay, options.maxRetry.count() * 1000);
}

} // namespace

llvm::Expected<WebhookUrl> parseWebhookUrl(std::string_view url) {
  if (url.size() > kMaxUrlBytes)
    return badUrl(url, "longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  if (std::any_of(url.begin(), url.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    return badUrl(url, "holds spaces or control characters (percent-encode them)");
  WebhookUrl parsed;
  std::string_view rest;
  if (url.starts_with("https://"))
    parsed.tls = true, rest = url.substr(8);
  else if (url.starts_with("http://"))
    rest = url.substr(7);
  else
    return badUrl(url, "expected http://HOST... or https://HOST...");
  if (url.find('#') != std::string_view::npos)
    return badUrl(url, "a fragment (#...) is never sent: leave it out");
  size_t end = std::min(rest.find_first_of("/?"), rest.size());
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos)
    return badUrl(url, "user information (USER:PASSWORD@) would be stored and shown: put a "
                       "receiver's secret in the path or check the signature instead");
  if (llvm::Error error = parseAuthority(url, authority, parsed))
    return error;
  std::string_view target = rest.substr(end);
  parsed.target = target.starts_with("/") ? std::string(target) : "/" + std::string(target);
  return parsed;
}

llvm::Expected<proto::Webhook> createWebhook(registry::Store &store,
                                             const proto::WebhookCreateRequest &request,
                                             const std::string &actor) {
  if (request.url().empty())
    return makeError(ErrorKind::BadInput, "missing --url (see --help)");
  if (auto url = parseWebhookUrl(request.url()); !url)
    return url.takeError();
  registry::WebhookRequest stored;
  stored.url = request.url();
  stored.models = request.models().empty() ? "*" : request.models();
  stored.aliases = request.aliases().empty() ? "*" : request.aliases();
  if (llvm::Error error = checkGlob("--models", stored.models))
    return error;
  if (llvm::Error error = checkGlob("--aliases", stored.aliases))
    return error;
  auto events = checkedEvents(request);
  if (!events)
    return events.takeError();
  stored.events = std::move(*events);
  auto secret = randomSecretHex();
  if (!secret)
    return secret.takeError();
  stored.secret = "whsec_" + *secret;
  stored.actor = actor;
  return store.createWebhook(stored);
}

std::string webhookSignature(std::string_view secret, std::int64_t unixSeconds,
                             std::string_view body) {
  std::string signed_ = std::to_string(unixSeconds) + "." + std::string(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char *>(signed_.data()), signed_.size(), mac, &size);
  return "t=" + std::to_string(unixSeconds) + ",v1=" + hexOf(mac, size);
}

llvm::Expected<DeliveryTally> deliverDue(registry::Store &store, const DeliveryOptions &options,
                                         const std::function<void(std::string_view)> &onOutcome) {
  DeliveryTally tally;
  // One claim per attempt, leased for twice the attempt's time: a sender
  // that dies mid-attempt holds back only that delivery, and not for long.
  for (int sent = 0; sent < options.batch; ++sent) {
    std::int64_t now = nowMicros();
    auto due = store.claimDeliveries(now, 1, now + 2000 * options.timeout.count());
    if (!due)
      return due.takeError();
    if (due->empty())
      break;
    const registry::DueDelivery &delivery = due->front();
    Answer answer = post(delivery, options);
    int attempts = delivery.delivery.attempts() + 1;
    registry::DeliveryOutcome outcome{delivery.delivery.id(), answer.delivered, answer.response, 0};
    std::string_view kind = "delivered";
    if (!answer.delivered && attempts < options.maxAttempts) {
      outcome.retryAtMicros = nowMicros() + retryDelayMicros(options, attempts);
      kind = "retried";
    } else if (!answer.delivered) {
      kind = "failed";
    }
    if (auto recorded = store.recordDeliveryAttempt(outcome); !recorded)
      return recorded.takeError();
    ++(kind == "delivered" ? tally.delivered : kind == "retried" ? tally.retried : tally.failed);
    if (onOutcome)
      onOutcome(kind);
  }
  return tally;
}

struct WebhookSender::State {
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;
};

WebhookSender::WebhookSender(registry::StoreConfig store, DeliveryOptions options,
                             std::chrono::milliseconds poll,
                             std::function<void(std::string_view)> onOutcome)
    : state_(std::make_unique<State>()) {
  state_->thread = std::thread([state = state_.get(), store = std::move(store), options, poll,
                                onOutcome = std::move(onOutcome)] {
    std::unique_ptr<registry::Store> open;
    std::unique_lock<std::mutex> lock(state->mutex);
    while (!state->stopping) {
      lock.unlock();
      if (!open) {
        auto opened = registry::openStore(store);
        if (opened)
          open = std::move(*opened);
        else
          std::cerr << "graceful serve: webhooks: " << llvm::toString(opened.takeError()) << "\n";
      }
      if (open) {
        auto tally = deliverDue(*open, options, onOutcome);
        if (!tally) {
          // A store that went away is opened afresh on the next round.
          std::cerr << "graceful serve: webhooks: " << llvm::toString(tally.takeError()) << "\n";
          open.reset();
        }
      }
      lock.lock();
      state->wake.wait_for(lock, poll, [state] { return state->stopping; });
    }
  });
}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  state_->thread.join();
}

} // namespace graceful::server
