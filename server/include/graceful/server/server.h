// `graceful serve`: the registry as an HTTP/1.1 JSON API (Boost.Beast) over
// the operations library, with bearer tokens (tokens.h). Routes are under
// /api/v1/ and answer with the JSON of the CLI's --json; errors are
// {"error", "kind", "exit_code"} with the HTTP status of their kind.
#pragma once

#include "graceful/registry/store.h"
#include "graceful/server/webhooks.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <llvm/Support/Error.h>
#include <string>

namespace graceful::server {

struct ServerOptions {
  registry::StoreConfig store;
  std::string host = "127.0.0.1";
  unsigned short port = 8080;             // 0: any free port (reported to onListening)
  int threads = 4;                        // the fixed pool that runs connections and requests
  std::size_t maxHeaderBytes = 16 * 1024; // 431 beyond
  std::size_t maxBodyBytes = 1024 * 1024; // JSON bodies; 413 beyond
  std::size_t maxUploadBytes = 1024 * 1024 * 1024; // ONNX uploads; 413 beyond
  // Reading one request's header, or waiting for the next request on a
  // kept-alive connection; a client slower than this is disconnected.
  std::chrono::milliseconds requestTimeout{30000};
  // Reading an upload's body.
  std::chrono::milliseconds uploadTimeout{600000};
  // After SIGTERM or SIGINT: requests in flight get this long to finish.
  std::chrono::milliseconds shutdownGrace{30000};
  // Policy files named in promote / protect requests are read from here
  // (relative names only); empty: requests name no policy files, so only
  // protected aliases (their bound policy) and forced moves promote.
  std::string policiesDir;
  // PEM files: with both, every connection is HTTPS (TLS 1.2 or newer).
  std::string tlsCertFile;
  std::string tlsKeyFile;
  // Webhook deliveries the store queued are sent from a thread of the
  // server, checking for due ones every webhookPoll.
  DeliveryOptions webhooks;
  std::chrono::milliseconds webhookPoll{1000};
  // Called once the socket listens, with the port bound.
  std::function<void(unsigned short)> onListening;
};

// Runs until SIGTERM or SIGINT, then stops accepting, finishes requests in
// flight (up to shutdownGrace) and returns. Fails when the store cannot be
// opened or the address cannot be bound.
llvm::Error serve(const ServerOptions &options);

} // namespace graceful::server
