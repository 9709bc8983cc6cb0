#include "graceful/server/webhooks.h"

#include "graceful/server/client.h"
#include "graceful/server/tokens.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/identity.h"
#include "graceful/support/limits.h"

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <openssl/hmac.h>
#include <thread>

namespace graceful::server {
namespace {

// A receiver's answer is read only to learn its status.
constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

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

struct Answer {
  bool delivered = false;
  std::string response;
};

// One POST of one delivery: delivered on a 2xx; the status line, or why no
// answer came, for the delivery log.
Answer post(const registry::DueDelivery &due, const DeliveryOptions &options) {
  auto url = parseHttpUrl(due.url, "webhook URL");
  if (!url)
    return {false, llvm::toString(url.takeError())};
  HttpCall call;
  call.method = "POST";
  call.target = url->target;
  call.body = due.body;
  call.maxResponseBytes = kMaxAnswerBytes;
  call.headers = {
      {"Graceful-Event", due.delivery.event()},
      {"Graceful-Delivery", std::to_string(due.delivery.id())},
      {"Idempotency-Key", "graceful-delivery-" + std::to_string(due.delivery.id())},
      {"Graceful-Signature", webhookSignature(due.secret, nowMicros() / 1'000'000, due.body)}};
  auto answer = httpCall(*url, call, {options.timeout, options.caFile, /*wholeCall=*/true});
  if (!answer)
    return {false, describeError(answer.takeError()).message};
  return {answer->status >= 200 && answer->status < 300, "HTTP " + std::to_string(answer->status)};
}

std::int64_t retryDelayMicros(const DeliveryOptions &options, int attemptsMade) {
  std::int64_t delay = options.firstRetry.count() * 1000;
  for (int i = 1; i < attemptsMade && delay < options.maxRetry.count() * 1000; ++i)
    delay *= 2;
  return std::min<std::int64_t>(delay, options.maxRetry.count() * 1000);
}

} // namespace

llvm::Expected<proto::Webhook> createWebhook(registry::Store &store,
                                             const proto::WebhookCreateRequest &request,
                                             const std::string &actor) {
  if (request.url().empty())
    return makeError(ErrorKind::BadInput, "missing --url (see --help)");
  if (auto url = parseHttpUrl(request.url(), "webhook URL"); !url)
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
                                         const std::function<void(std::string_view)> &onOutcome,
                                         const std::function<bool()> &stopping) {
  DeliveryTally tally;
  // One claim per attempt, leased for twice the attempt's time: a sender
  // that dies mid-attempt holds back only that delivery, and not for long.
  for (int sent = 0; sent < options.batch && !(stopping && stopping()); ++sent) {
    std::int64_t now = nowMicros();
    auto due = store.claimDeliveries(now, 1, now + 2000 * options.timeout.count());
    if (!due)
      return due.takeError();
    if (due->empty())
      break;
    const registry::DueDelivery &delivery = due->front();
    Answer answer = post(delivery, options);
    int attempts = delivery.delivery.attempts() + 1;
    registry::DeliveryOutcome outcome{delivery.delivery.id(), delivery.leaseUntilMicros,
                                      answer.delivered, answer.response, 0};
    if (!answer.delivered && attempts < options.maxAttempts)
      outcome.retryAtMicros = nowMicros() + retryDelayMicros(options, attempts);
    auto recorded = store.recordDeliveryAttempt(outcome);
    if (!recorded)
      return recorded.takeError();
    // What the store holds now: a delivery cancelled while it was sent
    // stays cancelled whatever the receiver said.
    const std::string &status = recorded->status();
    std::string_view kind = status == "cancelled"   ? "cancelled"
                            : answer.delivered      ? "delivered"
                            : outcome.retryAtMicros ? "retried"
                                                    : "failed";
    ++(kind == "delivered" ? tally.delivered
       : kind == "retried" ? tally.retried
       : kind == "failed"  ? tally.failed
                           : tally.cancelled);
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
        auto tally = deliverDue(*open, options, onOutcome, [state] {
          std::lock_guard<std::mutex> guard(state->mutex);
          return state->stopping;
        });
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
