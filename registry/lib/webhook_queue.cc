#include "webhook_queue.h"

#include "graceful/support/error.h"

#include <algorithm>
#include <fnmatch.h>
#include <google/protobuf/util/time_util.h>

namespace graceful::registry {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp timestampOf(std::int64_t micros) {
  return TimeUtil::MicrosecondsToTimestamp(micros);
}

constexpr std::string_view kEvents[] = {"registered", "promoted", "refused", "rolled-back",
                                        "forced"};
constexpr std::pair<std::string_view, std::string_view> kEventOfAction[] = {
    {"register", "registered"},
    {"promote", "promoted"},
    {"refuse", "refused"},
    {"rollback", "rolled-back"},
    {"force", "forced"}};

std::vector<std::string> splitEvents(const std::string &text) {
  std::vector<std::string> events;
  for (size_t start = 0; start < text.size();) {
    size_t comma = std::min(text.find(',', start), text.size());
    events.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return events;
}

bool globMatches(const std::string &pattern, const std::string &text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

void setTime(std::int64_t micros, google::protobuf::Timestamp *time) {
  *time = timestampOf(micros);
}

} // namespace

std::span<const std::string_view> webhookEvents() { return kEvents; }

std::string_view webhookEventOf(std::string_view action) {
  for (const auto &[from, event] : kEventOfAction)
    if (from == action)
      return event;
  return {};
}

namespace webhook_queue {

std::string joinEvents(const std::vector<std::string> &events) {
  std::string text;
  for (const std::string &event : events)
    text += (text.empty() ? "" : ",") + event;
  return text;
}

llvm::Expected<std::vector<proto::Webhook>> readWebhooks(SqlConnection &db, std::string_view where,
                                                         const std::vector<SqlValue> &params,
                                                         bool withSecret) {
  auto rows = db.query("SELECT id, url, models, aliases, events, created_at, created_by,"
                       " deleted_at, secret FROM webhooks " +
                           std::string(where),
                       params);
  if (!rows)
    return rows.takeError();
  std::vector<proto::Webhook> webhooks;
  for (const SqlRow &row : *rows) {
    proto::Webhook webhook;
    webhook.set_id(row.integer(0));
    webhook.set_url(row.text(1));
    webhook.set_models(row.text(2));
    webhook.set_aliases(row.text(3));
    for (std::string &event : splitEvents(row.text(4)))
      webhook.add_events(std::move(event));
    setTime(row.integer(5), webhook.mutable_created_at());
    webhook.set_created_by(row.text(6));
    if (row.integer(7) != 0)
      setTime(row.integer(7), webhook.mutable_deleted_at());
    if (withSecret)
      webhook.set_secret(row.text(8));
    webhooks.push_back(std::move(webhook));
  }
  return webhooks;
}

llvm::Expected<std::int64_t> insertWebhook(SqlConnection &db, const WebhookRequest &request,
                                           std::int64_t nowMicros) {
  auto id = db.queryInteger(
      "INSERT INTO webhooks (url, models, aliases, events, secret, created_at, created_by,"
      " deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0) RETURNING id",
      {request.url, request.models, request.aliases, joinEvents(request.events), request.secret,
       nowMicros, request.actor});
  if (!id)
    return id.takeError();
  return id->value_or(0);
}

llvm::Error markDeleted(SqlConnection &db, std::int64_t id, std::int64_t nowMicros) {
  if (llvm::Error error =
          db.execute("UPDATE webhooks SET deleted_at = ? WHERE id = ?", {nowMicros, id}))
    return error;
  // The lease stays: an attempt under way records itself on the row.
  return db.execute("UPDATE webhook_deliveries SET status = 'cancelled'"
                    " WHERE webhook_id = ? AND status = 'pending'",
                    {id});
}

llvm::Error enqueue(SqlConnection &db, std::int64_t auditId, std::string_view action,
                    const std::string &model, const std::string &alias, std::int64_t nowMicros) {
  std::string_view event = webhookEventOf(action);
  if (event.empty())
    return llvm::Error::success();
  auto webhooks = readWebhooks(db, "WHERE deleted_at = 0 ORDER BY id", {});
  if (!webhooks)
    return webhooks.takeError();
  for (const proto::Webhook &webhook : *webhooks) {
    bool wanted = std::find(webhook.events().begin(), webhook.events().end(), event) !=
                  webhook.events().end();
    if (!wanted || !globMatches(webhook.models(), model) ||
        (!alias.empty() && !globMatches(webhook.aliases(), alias)))
      continue;
    if (llvm::Error error = db.execute(
            "INSERT INTO webhook_deliveries (webhook_id, audit_id, event, model, alias, status,"
            " attempts, created_at, next_attempt_at, lease_until, last_attempt_at, last_response,"
            " delivered_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, 0, 0, '', 0)",
            {webhook.id(), auditId, std::string(event), model, alias, nowMicros, nowMicros}))
      return error;
  }
  return llvm::Error::success();
}

llvm::Expected<std::vector<proto::WebhookDelivery>>
readDeliveries(SqlConnection &db, std::string_view where, const std::vector<SqlValue> &params) {
  auto rows = db.query("SELECT id, webhook_id, audit_id, event, status, attempts, created_at,"
                       " next_attempt_at, last_attempt_at, last_response, delivered_at, model,"
                       " alias FROM webhook_deliveries " +
                           std::string(where),
                       params);
  if (!rows)
    return rows.takeError();
  std::vector<proto::WebhookDelivery> deliveries;
  for (const SqlRow &row : *rows) {
    proto::WebhookDelivery delivery;
    delivery.set_id(row.integer(0));
    delivery.set_webhook_id(row.integer(1));
    delivery.set_audit_id(row.integer(2));
    delivery.set_event(row.text(3));
    delivery.set_status(row.text(4));
    delivery.set_attempts(static_cast<int>(row.integer(5)));
    setTime(row.integer(6), delivery.mutable_created_at());
    if (delivery.status() == "pending")
      setTime(row.integer(7), delivery.mutable_next_attempt_at());
    if (row.integer(8) != 0)
      setTime(row.integer(8), delivery.mutable_last_attempt_at());
    delivery.set_last_response(row.text(9));
    if (row.integer(10) != 0)
      setTime(row.integer(10), delivery.mutable_delivered_at());
    delivery.set_model(row.text(11));
    delivery.set_alias(row.text(12));
    deliveries.push_back(std::move(delivery));
  }
  return deliveries;
}

llvm::Expected<std::vector<proto::WebhookDelivery>>
leaseDue(SqlConnection &db, std::int64_t nowMicros, int limit, std::int64_t leaseUntilMicros) {
  std::string lock = db.dialect() == SqlDialect::Postgres ? " FOR UPDATE SKIP LOCKED" : "";
  auto due = readDeliveries(db,
                            "WHERE status = 'pending' AND next_attempt_at <= ? AND lease_until <= ?"
                            " AND webhook_id IN (SELECT id FROM webhooks WHERE deleted_at = 0)"
                            " ORDER BY next_attempt_at, id LIMIT ?" +
                                lock,
                            {nowMicros, nowMicros, std::int64_t{limit}});
  if (!due)
    return due.takeError();
  for (const proto::WebhookDelivery &delivery : *due)
    if (llvm::Error error = db.execute("UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?",
                                       {leaseUntilMicros, delivery.id()}))
      return error;
  return due;
}

llvm::Expected<bool> recordAttempt(SqlConnection &db, const DeliveryOutcome &outcome,
                                   std::int64_t nowMicros) {
  std::string status = outcome.delivered       ? "delivered"
                       : outcome.retryAtMicros ? "pending"
                                               : "failed";
  auto changed = db.query(
      "UPDATE webhook_deliveries SET status = CASE WHEN status = 'cancelled' THEN status ELSE ?"
      " END, attempts = attempts + 1, last_attempt_at = ?, last_response = ?,"
      " next_attempt_at = ?, lease_until = 0, delivered_at = ?"
      " WHERE id = ? AND lease_until = ? AND status IN ('pending', 'cancelled') RETURNING id",
      {status, nowMicros, outcome.response, outcome.retryAtMicros,
       outcome.delivered ? nowMicros : std::int64_t{0}, outcome.id, outcome.leaseUntilMicros});
  if (!changed)
    return changed.takeError();
  return !changed->empty();
}

llvm::Expected<std::string> whyNotRequeued(SqlConnection &db, std::int64_t id,
                                           std::int64_t nowMicros) {
  auto rows = db.query("SELECT d.status, d.lease_until, w.deleted_at FROM webhook_deliveries d"
                       " JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?",
                       {id});
  if (!rows)
    return rows.takeError();
  if (rows->empty())
    return std::string("no such delivery");
  const SqlRow &row = rows->front();
  if (row.integer(2) != 0 || row.text(0) == "cancelled")
    return std::string("its webhook is deleted");
  if (row.text(0) == "pending" && row.integer(1) > nowMicros)
    return std::string("it is being sent now: see webhook deliveries once that attempt is "
                       "recorded");
  return std::string();
}

llvm::Error requeue(SqlConnection &db, std::int64_t id, std::int64_t nowMicros) {
  return db.execute("UPDATE webhook_deliveries SET status = 'pending', attempts = 0,"
                    " next_attempt_at = ?, lease_until = 0, delivered_at = 0 WHERE id = ?",
                    {nowMicros, id});
}

llvm::Expected<bool> anyDue(SqlConnection &db, std::int64_t nowMicros) {
  auto due = db.queryInteger("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
                             " AND next_attempt_at <= ? AND lease_until <= ?",
                             {nowMicros, nowMicros});
  if (!due)
    return due.takeError();
  return due->value_or(0) > 0;
}

} // namespace webhook_queue
} // namespace graceful::registry
