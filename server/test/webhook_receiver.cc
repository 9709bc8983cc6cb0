#include "webhook_receiver.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <mutex>
#include <openssl/hmac.h>
#include <thread>

namespace graceful::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct WebhookReceiver::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<unsigned> status{200};
  std::atomic<bool> stopping{false};
  mutable std::mutex mutex;
  mutable std::condition_variable arrived;
  std::vector<ReceivedPost> posts;
  std::thread thread;

  void serve() {
    while (!stopping) {
      beast::error_code ec;
      tcp::socket socket(io);
      acceptor.accept(socket, ec);
      if (ec || stopping)
        return;
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec);
      if (ec)
        continue;
      ReceivedPost post;
      post.target = std::string(request.target());
      for (const auto &field : request) {
        std::string name(field.name_string());
        for (char &c : name)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        post.headers[name] = std::string(field.value());
      }
      post.body = request.body();
      // Taken before the POST is seen: a test that changes the answer
      // once it sees a POST changes the next one's.
      unsigned answer = status.load();
      {
        std::lock_guard<std::mutex> lock(mutex);
        posts.push_back(std::move(post));
      }
      arrived.notify_all();
      http::response<http::string_body> response(static_cast<http::status>(answer), 11);
      response.body() = "ok";
      response.keep_alive(false);
      response.prepare_payload();
      http::write(socket, response, ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }
};

WebhookReceiver::WebhookReceiver(unsigned short port) : state_(std::make_unique<State>()) {
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.set_option(asio::socket_base::reuse_address(true));
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  state_->thread = std::thread([state = state_.get()] { state->serve(); });
}

WebhookReceiver::~WebhookReceiver() {
  state_->stopping = true;
  // A connection of our own wakes the blocked accept.
  beast::error_code ec;
  tcp::socket wake(state_->io);
  wake.connect({asio::ip::make_address("127.0.0.1"), port()}, ec);
  state_->thread.join();
}

unsigned short WebhookReceiver::port() const { return state_->acceptor.local_endpoint().port(); }

void WebhookReceiver::answerWith(unsigned status) { state_->status = status; }

std::vector<ReceivedPost> WebhookReceiver::posts() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->posts;
}

bool WebhookReceiver::waitForPosts(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(state_->mutex);
  return state_->arrived.wait_for(lock, timeout, [&] { return state_->posts.size() >= count; });
}

bool signatureVerifies(const ReceivedPost &post, const std::string &secret) {
  std::string header = post.header("graceful-signature");
  size_t comma = header.find(",v1=");
  if (!header.starts_with("t=") || comma == std::string::npos)
    return false;
  std::string signedText = header.substr(2, comma - 2) + "." + post.body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char *>(signedText.data()), signedText.size(), mac, &size);
  static const char *digits = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < size; ++i) {
    hex.push_back(digits[mac[i] >> 4]);
    hex.push_back(digits[mac[i] & 15]);
  }
  return header.substr(comma + 4) == hex;
}

} // namespace graceful::testing
