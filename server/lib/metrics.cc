#include "metrics.h"

#include "graceful/support/json.h"

#include <sstream>

namespace graceful::server {
namespace {

// Seconds; the last bucket (+Inf) is the count itself.
constexpr double kBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};

// A label value: Prometheus escapes backslash, quote and newline; routes
// are patterns of our own, but be exact anyway.
std::string label(const std::string &value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"')
      escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return "\"" + escaped + "\"";
}

} // namespace

void Metrics::recordRequest(const std::string &route, unsigned status,
                            std::chrono::nanoseconds latency) {
  double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  Latency &entry = latency_[route];
  entry.buckets.resize(std::size(kBounds));
  for (size_t i = 0; i < std::size(kBounds); ++i)
    if (seconds <= kBounds[i])
      ++entry.buckets[i];
  entry.sumSeconds += seconds;
  ++entry.count;
}

void Metrics::recordPromotion(const std::string &outcome) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++promotions_[outcome];
}

void Metrics::recordVerdicts(const proto::GateReport &report) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const proto::GateResult &gate : report.gates())
    ++verdicts_[{gate.type(), gate.verdict()}];
  ++verdicts_[{"report", report.verdict()}];
}

void Metrics::recordDelivery(std::string_view outcome) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++deliveries_[std::string(outcome)];
}

std::string Metrics::text() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "# HELP graceful_http_requests_total HTTP requests answered, by route and status.\n"
         "# TYPE graceful_http_requests_total counter\n";
  for (const auto &[key, count] : requests_)
    out << "graceful_http_requests_total{route=" << label(key.first) << ",status=\"" << key.second
        << "\"} " << count << "\n";
  out << "# HELP graceful_http_request_duration_seconds Time from a request's header to its "
         "response, by route.\n"
         "# TYPE graceful_http_request_duration_seconds histogram\n";
  for (const auto &[route, entry] : latency_) {
    for (size_t i = 0; i < std::size(kBounds); ++i)
      out << "graceful_http_request_duration_seconds_bucket{route=" << label(route) << ",le=\""
          << jsonNumber(kBounds[i]) << "\"} " << entry.buckets[i] << "\n";
    out << "graceful_http_request_duration_seconds_bucket{route=" << label(route)
        << ",le=\"+Inf\"} " << entry.count << "\n"
        << "graceful_http_request_duration_seconds_sum{route=" << label(route) << "} "
        << jsonNumber(entry.sumSeconds) << "\n"
        << "graceful_http_request_duration_seconds_count{route=" << label(route) << "} "
        << entry.count << "\n";
  }
  out << "# HELP graceful_http_requests_in_flight Requests read and not yet answered.\n"
         "# TYPE graceful_http_requests_in_flight gauge\n"
         "graceful_http_requests_in_flight "
      << inFlight_.load() << "\n";
  out << "# HELP graceful_promotions_total Promotion requests, by outcome.\n"
         "# TYPE graceful_promotions_total counter\n";
  for (const auto &[outcome, count] : promotions_)
    out << "graceful_promotions_total{outcome=" << label(outcome) << "} " << count << "\n";
  out << "# HELP graceful_gate_verdicts_total Verdicts of gates evaluated by this server (gate "
         "run and promotions; reused reports are not counted), by gate type, \"report\" for a "
         "whole report.\n"
         "# TYPE graceful_gate_verdicts_total counter\n";
  for (const auto &[key, count] : verdicts_)
    out << "graceful_gate_verdicts_total{gate=" << label(key.first)
        << ",verdict=" << label(key.second) << "} " << count << "\n";
  out << "# HELP graceful_webhook_deliveries_total Webhook delivery attempts made by this "
         "server, by outcome (delivered; retried: failed, to be tried again; failed: for the "
         "last time; cancelled: its webhook was deleted while it was sent).\n"
         "# TYPE graceful_webhook_deliveries_total counter\n";
  for (std::string_view outcome : {"delivered", "retried", "failed", "cancelled"}) {
    auto it = deliveries_.find(std::string(outcome));
    out << "graceful_webhook_deliveries_total{outcome=\"" << outcome << "\"} "
        << (it == deliveries_.end() ? 0 : it->second) << "\n";
  }
  return out.str();
}

} // namespace graceful::server
