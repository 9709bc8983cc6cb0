// Counters for /metrics, in Prometheus' text exposition format: requests
// by route and status, request latency by route (a histogram), promotions
// by outcome, gate verdicts by gate type, webhook deliveries by outcome.
#pragma once

#include "graceful/registry.pb.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace graceful::server {

class Metrics {
public:
  void recordRequest(const std::string &route, unsigned status, std::chrono::nanoseconds latency);
  // A request whose header has arrived, until its answer is sent or its
  // connection drops.
  void beginRequest() { ++inFlight_; }
  void endRequest() { --inFlight_; }
  // promoted, refused or unchanged.
  void recordPromotion(const std::string &outcome);
  // Each gate's verdict in a report evaluated here (not one reused), and
  // the report's own.
  void recordVerdicts(const proto::GateReport &report);
  // A webhook delivery attempt: delivered, retried or failed.
  void recordDelivery(std::string_view outcome);
  std::string text() const;

private:
  struct Latency {
    std::vector<std::uint64_t> buckets; // cumulative counts per bound, as Prometheus has them
    double sumSeconds = 0;
    std::uint64_t count = 0;
  };
  std::atomic<std::int64_t> inFlight_{0};
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t> requests_;
  std::map<std::string, Latency> latency_;
  std::map<std::string, std::uint64_t> promotions_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> verdicts_; // (gate type, verdict)
  std::map<std::string, std::uint64_t> deliveries_;
};

} // namespace graceful::server
