// Webhooks: webhook create, list, delete, deliveries, redeliver, deliver.
// `graceful serve` sends what the store queues; `webhook deliver` sends
// what is due once, for a registry used without a server.
#include "command.h"
#include "graceful/operations/operations.h"
#include "graceful/server/webhooks.h"
#include "graceful/support/format.h"
#include "graceful/support/identity.h"
#include "graceful/support/limits.h"
#include "output.h"

#include <iostream>

namespace graceful::cli {
namespace {

void printWebhook(const proto::Webhook &webhook) {
  std::string events;
  for (const std::string &event : webhook.events())
    events += (events.empty() ? "" : ",") + event;
  std::cout << "webhook #" << webhook.id() << "  " << escapeUnprintable(webhook.url())
            << "  models=" << escapeUnprintable(webhook.models())
            << "  aliases=" << escapeUnprintable(webhook.aliases()) << "  events=" << events
            << (webhook.has_deleted_at() ? "  DELETED " + formatTime(webhook.deleted_at()) : "")
            << "\n";
}

void printDelivery(const proto::WebhookDelivery &delivery) {
  std::cout << "delivery #" << delivery.id() << "  webhook #" << delivery.webhook_id() << "  "
            << delivery.event() << " " << escapeUnprintable(delivery.model())
            << (delivery.alias().empty() ? "" : "@" + escapeUnprintable(delivery.alias()))
            << " (audit #" << delivery.audit_id() << ")  " << delivery.status() << " after "
            << delivery.attempts() << (delivery.attempts() == 1 ? " attempt" : " attempts");
  if (!delivery.last_response().empty())
    std::cout << "  last: " << escapeUnprintable(delivery.last_response());
  if (delivery.has_next_attempt_at())
    std::cout << "  next " << formatTime(delivery.next_attempt_at());
  std::cout << "\n";
}

llvm::Expected<int> runWebhookCreate(const ParsedArgs &args) {
  auto url = required(args, "url");
  if (!url)
    return url.takeError();
  proto::WebhookCreateRequest request;
  request.set_url(*url);
  request.set_models(optional(args, "models"));
  request.set_aliases(optional(args, "aliases"));
  for (const std::string &event : many(args, "event"))
    request.add_events(event);
  auto webhook = onStore<proto::Webhook>(
      args.common, StoreAccess::ReadWrite,
      [&](const Remote &server) { return remote::createWebhook(server, request); },
      [&](registry::Store &store) {
        return server::createWebhook(store, request, currentActor());
      });
  if (!webhook)
    return webhook.takeError();
  emit(args.common.json, *webhook, [&] {
    printWebhook(*webhook);
    std::cout << webhook->secret()
              << "\n(shown only now: receivers check each POST's Graceful-Signature with it)\n";
  });
  return kSuccess;
}

llvm::Expected<int> runWebhookList(const ParsedArgs &args) {
  auto webhooks = onStore<proto::WebhookList>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::listWebhooks(server); },
      [&](registry::Store &store) { return store.listWebhooks(); });
  if (!webhooks)
    return webhooks.takeError();
  emit(args.common.json, *webhooks, [&] {
    if (webhooks->webhooks().empty())
      std::cout << "no webhooks\n";
    for (const proto::Webhook &webhook : webhooks->webhooks())
      printWebhook(webhook);
  });
  return kSuccess;
}

llvm::Expected<int> runWebhookDelete(const ParsedArgs &args) {
  auto text = required(args, "id");
  if (!text)
    return text.takeError();
  auto id = operations::parseRecordId(*text, "webhook");
  if (!id)
    return id.takeError();
  auto reason = optionalText(args, "reason", kMaxReasonBytes);
  if (!reason)
    return reason.takeError();
  auto webhook = onStore<proto::Webhook>(
      args.common, StoreAccess::ReadWrite,
      [&](const Remote &server) { return remote::deleteWebhook(server, *id, *reason); },
      [&](registry::Store &store) { return store.deleteWebhook(*id, currentActor(), *reason); });
  if (!webhook)
    return webhook.takeError();
  emit(args.common.json, *webhook, [&] { printWebhook(*webhook); });
  return kSuccess;
}

llvm::Expected<int> runWebhookDeliveries(const ParsedArgs &args) {
  std::string webhook = optional(args, "webhook"), status = optional(args, "status"),
              limit = optional(args, "limit");
  auto filter = operations::deliveryFilter(webhook, status, limit);
  if (!filter)
    return filter.takeError();
  auto deliveries = onStore<proto::WebhookDeliveryList>(
      args.common, StoreAccess::ReadOnly,
      [&](const Remote &server) { return remote::listDeliveries(server, webhook, status, limit); },
      [&](registry::Store &store) { return store.listDeliveries(*filter); });
  if (!deliveries)
    return deliveries.takeError();
  emit(args.common.json, *deliveries, [&] {
    if (deliveries->deliveries().empty())
      std::cout << "no deliveries\n";
    for (const proto::WebhookDelivery &delivery : deliveries->deliveries())
      printDelivery(delivery);
  });
  return kSuccess;
}

llvm::Expected<int> runWebhookRedeliver(const ParsedArgs &args) {
  auto text = required(args, "id");
  if (!text)
    return text.takeError();
  auto id = operations::parseRecordId(*text, "delivery");
  if (!id)
    return id.takeError();
  auto delivery = onStore<proto::WebhookDelivery>(
      args.common, StoreAccess::ReadWrite,
      [&](const Remote &server) { return remote::redeliver(server, *id); },
      [&](registry::Store &store) { return store.redeliver(*id, currentActor()); });
  if (!delivery)
    return delivery.takeError();
  emit(args.common.json, *delivery, [&] { printDelivery(*delivery); });
  return kSuccess;
}

llvm::Expected<int> runWebhookDeliver(const ParsedArgs &args) {
  auto options = deliveryOptionsFrom(args);
  if (!options)
    return options.takeError();
  auto store = openStoreFor(args.common);
  if (!store)
    return store.takeError();
  // Passes until nothing due is left (or a pass only retried: those wait).
  server::DeliveryTally total;
  while (true) {
    auto tally = server::deliverDue(**store, *options);
    if (!tally)
      return tally.takeError();
    total.delivered += tally->delivered;
    total.retried += tally->retried;
    total.failed += tally->failed;
    total.cancelled += tally->cancelled;
    if (tally->delivered + tally->retried + tally->failed + tally->cancelled < options->batch)
      break;
  }
  std::cout << total.delivered << " delivered, " << total.retried << " to retry, " << total.failed
            << " failed, " << total.cancelled << " cancelled (webhook deleted while sent)\n";
  return kSuccess;
}

void declareId(po::options_description &options, po::positional_options_description &pos,
               const char *what) {
  options.add_options()("id", po::value<std::string>(), what);
  pos.add("id", 1);
}

} // namespace

void declareDeliveryOptions(po::options_description &options) {
  options.add_options()("webhook-attempts", po::value<int>()->default_value(10),
                        "attempts per webhook delivery before it is given up (failed)")(
      "webhook-retry-ms", po::value<int>()->default_value(1000),
      "delay before a delivery's second attempt; it doubles for each after, up to an hour")(
      "webhook-timeout-ms", po::value<int>()->default_value(10000),
      "time a receiver has to connect, take the POST and answer")(
      "webhook-ca", po::value<std::string>(),
      "PEM certificates to trust for https receivers, besides the system's");
}

llvm::Expected<server::DeliveryOptions> deliveryOptionsFrom(const ParsedArgs &args) {
  server::DeliveryOptions options;
  options.maxAttempts = args.values["webhook-attempts"].as<int>();
  int retry = args.values["webhook-retry-ms"].as<int>();
  int timeout = args.values["webhook-timeout-ms"].as<int>();
  if (options.maxAttempts < 1 || options.maxAttempts > 100)
    return makeError(ErrorKind::BadInput, "--webhook-attempts: between 1 and 100");
  if (retry < 1 || timeout < 1)
    return makeError(ErrorKind::BadInput,
                     "--webhook-retry-ms and --webhook-timeout-ms: at least 1");
  options.firstRetry = std::chrono::milliseconds(retry);
  options.timeout = std::chrono::milliseconds(timeout);
  options.caFile = optional(args, "webhook-ca");
  return options;
}

std::vector<CommandSpec> webhookCommands() {
  return {
      {"webhook create", "--url URL [--models GLOB] [--aliases GLOB] [--event E]...",
       "subscribe a URL to registry events (the signing secret is printed once)",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("url", po::value<std::string>(),
                               "http:// or https:// URL that receives the POSTs")(
             "models", po::value<std::string>(), "glob of the models whose events it gets (all)")(
             "aliases", po::value<std::string>(),
             "glob of the aliases whose events it gets (all; registrations name none)")(
             "event", po::value<std::vector<std::string>>(),
             "registered, promoted, refused, rolled-back or forced (again for more; all)");
       },
       runWebhookCreate},
      {"webhook list", "", "list webhooks (never their secrets)",
       [](po::options_description &, po::positional_options_description &) {}, runWebhookList},
      {"webhook delete", "ID [--reason TEXT]",
       "delete a webhook and cancel its pending deliveries (audited)",
       [](po::options_description &options, po::positional_options_description &pos) {
         declareId(options, pos, "the webhook's id");
         options.add_options()("reason", po::value<std::string>(), "why, for the audit log");
       },
       runWebhookDelete},
      {"webhook deliveries", "[--webhook ID] [--status S] [--limit N]",
       "list webhook deliveries, oldest first: what was sent, what is pending and why",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("webhook", po::value<std::string>(), "only this webhook's")(
             "status", po::value<std::string>(), "pending, delivered, failed or cancelled")(
             "limit", po::value<std::string>(), "only the newest N");
       },
       runWebhookDeliveries},
      {"webhook redeliver", "ID", "send a delivery again, now, with fresh attempts (audited)",
       [](po::options_description &options, po::positional_options_description &pos) {
         declareId(options, pos, "the delivery's id");
       },
       runWebhookRedeliver},
      {"webhook deliver",
       "[--webhook-attempts N] [--webhook-retry-ms MS] [--webhook-timeout-ms MS] "
       "[--webhook-ca CA.pem]",
       "send the deliveries due now and exit (what graceful serve does as it runs)",
       [](po::options_description &options, po::positional_options_description &) {
         declareDeliveryOptions(options);
       },
       runWebhookDeliver},
  };
}

} // namespace graceful::cli
