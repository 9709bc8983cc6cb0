// The rows of the webhook tables (schema 6): subscriptions and the
// deliveries queued for them. Every function assumes an open transaction on
// `db` (a write one for those that write); SqlStore's methods open it.
#pragma once

#include "graceful/registry.pb.h"
#include "graceful/registry/store.h"
#include "sql_connection.h"

#include <cstdint>
#include <llvm/Support/Error.h>
#include <string>
#include <string_view>
#include <vector>

namespace graceful::registry::webhook_queue {

// "registered,promoted": a webhook's events as its row and its audit line
// hold them.
std::string joinEvents(const std::vector<std::string> &events);

// Rows of webhooks after `where` (a WHERE / ORDER BY tail); never secrets
// unless `withSecret`.
llvm::Expected<std::vector<proto::Webhook>> readWebhooks(SqlConnection &db, std::string_view where,
                                                         const std::vector<SqlValue> &params,
                                                         bool withSecret = false);
llvm::Expected<std::int64_t> insertWebhook(SqlConnection &db, const WebhookRequest &request,
                                           std::int64_t nowMicros);
// Marks the webhook deleted and cancels its pending deliveries.
llvm::Error markDeleted(SqlConnection &db, std::int64_t id, std::int64_t nowMicros);

// Queues one delivery per active webhook the event matches: its event
// list names the action's event, its model glob the model, and its alias
// glob the alias (an event on no alias, a registration, matches any).
llvm::Error enqueue(SqlConnection &db, std::int64_t auditId, std::string_view action,
                    const std::string &model, const std::string &alias, std::int64_t nowMicros);

llvm::Expected<std::vector<proto::WebhookDelivery>>
readDeliveries(SqlConnection &db, std::string_view where, const std::vector<SqlValue> &params);

// The pending deliveries due at `nowMicros` and not leased, oldest first
// (locked for update on PostgreSQL), leased until `leaseUntilMicros`.
llvm::Expected<std::vector<proto::WebhookDelivery>>
leaseDue(SqlConnection &db, std::int64_t nowMicros, int limit, std::int64_t leaseUntilMicros);

// Writes an attempt's outcome to the delivery it claimed (still leased
// under outcome.leaseUntilMicros): its status, unless it was cancelled
// meanwhile; false when another sender holds it now (left as it is).
llvm::Expected<bool> recordAttempt(SqlConnection &db, const DeliveryOutcome &outcome,
                                   std::int64_t nowMicros);

// Why a delivery cannot be queued again, or "" when it can.
llvm::Expected<std::string> whyNotRequeued(SqlConnection &db, std::int64_t id,
                                           std::int64_t nowMicros);
// Makes a delivery pending again, due now, with no attempts.
llvm::Error requeue(SqlConnection &db, std::int64_t id, std::int64_t nowMicros);

// Whether any delivery is due at `nowMicros` (a read: the poll that finds
// nothing takes no write lock).
llvm::Expected<bool> anyDue(SqlConnection &db, std::int64_t nowMicros);

} // namespace graceful::registry::webhook_queue
