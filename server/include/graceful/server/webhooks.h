// Webhooks: subscriptions to the registry's events, and the sender that
// POSTs each delivery the store queued (registry/store.h) to its receiver.
//
// A POST carries the WebhookEvent's JSON and these headers:
//   Graceful-Event: promoted
//   Graceful-Delivery: 12                 (the same on every attempt)
//   Idempotency-Key: graceful-delivery-12
//   Graceful-Signature: t=1764950000,v1=<hex HMAC-SHA256>
// The signature is keyed by the webhook's secret (the text `webhook
// create` printed) over "<t>.<body>", so a receiver checks both where the
// event came from and, with t, that it is not an old one replayed. A 2xx
// answer delivers; anything else, or none within the timeout, is retried
// after a delay that doubles from the first, until the attempts run out.
#pragma once

#include "graceful/operations.pb.h"
#include "graceful/registry.pb.h"
#include "graceful/registry/store.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <llvm/Support/Error.h>
#include <memory>
#include <string>
#include <string_view>

namespace graceful::server {

// Checks the request (URL as parseHttpUrl takes it, globs, events: none
// means all) and stores the
// subscription with a fresh secret, "whsec_" and 64 hex digits, which
// the answer carries once.
llvm::Expected<proto::Webhook> createWebhook(registry::Store &store,
                                             const proto::WebhookCreateRequest &request,
                                             const std::string &actor);

// The Graceful-Signature header's value for a body sent at `unixSeconds`.
std::string webhookSignature(std::string_view secret, std::int64_t unixSeconds,
                             std::string_view body);

struct DeliveryOptions {
  int maxAttempts = 10;
  std::chrono::milliseconds firstRetry{1000}; // then 2x, 4x, ... up to maxRetry
  std::chrono::milliseconds maxRetry{3600000};
  // The whole of an attempt: connecting, sending and the answer. A claim
  // is leased for twice this, so no other sender starts the same delivery
  // while one is under way.
  std::chrono::milliseconds timeout{10000};
  // PEM certificates trusted for https receivers besides the system's.
  std::string caFile;
  int batch = 16; // attempts per pass at most
};

// How each attempt of one pass ended.
struct DeliveryTally {
  int delivered = 0;
  int retried = 0;   // failed, to be tried again
  int failed = 0;    // failed for the last time
  int cancelled = 0; // sent while its webhook was deleted: recorded, not counted as delivered
};

// Claims the deliveries due now, one at a time, attempts each once and
// records how it went; `onOutcome` hears "delivered", "retried", "failed"
// or "cancelled" for each. Stops before the next claim once `stopping`
// says so (a server told to stop does not start another attempt).
llvm::Expected<DeliveryTally>
deliverDue(registry::Store &store, const DeliveryOptions &options,
           const std::function<void(std::string_view)> &onOutcome = {},
           const std::function<bool()> &stopping = {});

// A thread that delivers what is due every `poll` over its own connection
// to the store, until it is destroyed (after the attempt under way).
class WebhookSender {
public:
  WebhookSender(registry::StoreConfig store, DeliveryOptions options,
                std::chrono::milliseconds poll, std::function<void(std::string_view)> onOutcome);
  ~WebhookSender();
  WebhookSender(const WebhookSender &) = delete;
  WebhookSender &operator=(const WebhookSender &) = delete;

private:
  struct State;
  std::unique_ptr<State> state_;
};

} // namespace graceful::server
