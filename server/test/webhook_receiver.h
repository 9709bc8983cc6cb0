// A webhook receiver for the server tests: a real HTTP server on loopback,
// on its own thread, that keeps every POST and answers with the status it
// is told to (200 unless told otherwise).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace graceful::testing {

struct ReceivedPost {
  std::string target;
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;
  std::string header(const std::string &name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class WebhookReceiver {
public:
  // Listens on 127.0.0.1:port (0: any free port).
  explicit WebhookReceiver(unsigned short port = 0);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver &) = delete;
  WebhookReceiver &operator=(const WebhookReceiver &) = delete;

  unsigned short port() const;
  void answerWith(unsigned status);
  std::vector<ReceivedPost> posts() const;
  // Whether `count` POSTs have arrived within `timeout`.
  bool waitForPosts(size_t count, std::chrono::milliseconds timeout) const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

// Whether `post` carries a Graceful-Signature that `secret` makes for its
// body: HMAC-SHA256 over "<t>.<body>", computed here with OpenSSL.
bool signatureVerifies(const ReceivedPost &post, const std::string &secret);

} // namespace graceful::testing
