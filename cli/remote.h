// The CLI against a `graceful serve`: a store URI http(s)://HOST:PORT
// (--store or GRACEFUL_STORE) sends each command to the server's route
// with the bearer token in GRACEFUL_TOKEN. Answers are the JSON records a
// local store gives, so output and exit codes are the same; an error keeps
// its kind (exit 2, 3) and a server that cannot be reached is exit 4. The
// server runs what changes the registry: gates, promotions, policies from
// its own --policies directory. Report files are written here.
#pragma once

#include "graceful/operations.pb.h"
#include "graceful/registry.pb.h"
#include "graceful/server/client.h"

#include <llvm/Support/Error.h>
#include <map>
#include <optional>
#include <string>

namespace graceful::cli {

struct Remote {
  server::HttpUrl server;
  std::string token;
  server::HttpOptions options;
};

// The server a store URI names (GRACEFUL_TOKEN, GRACEFUL_CA_FILE and
// GRACEFUL_HTTP_TIMEOUT_MS with it), or nullopt for a local store.
llvm::Expected<std::optional<Remote>> remoteFor(const std::string &uri);

namespace remote {

llvm::Expected<proto::ModelList> listModels(const Remote &remote,
                                            const std::map<std::string, std::string> &tags);
llvm::Expected<proto::ModelDetail> describeModel(const Remote &remote, const std::string &name);
// NAME@V or NAME@ALIAS.
llvm::Expected<proto::ModelVersion> getVersion(const Remote &remote, const std::string &selector);
llvm::Expected<proto::Lineage> lineage(const Remote &remote, const std::string &name);
llvm::Expected<proto::AliasHistory> aliasHistory(const Remote &remote, const std::string &name,
                                                 const std::string &alias);
// `since` as typed (an event id or an RFC 3339 time).
llvm::Expected<proto::AuditLog> auditLog(const Remote &remote, const std::string &model,
                                         const std::string &since, const std::string &action,
                                         const std::string &alias, int limit);
llvm::Expected<proto::RegisterResult> registerModel(const Remote &remote,
                                                    const proto::RegisterRequest &request);
llvm::Expected<proto::ModelVersion> tag(const Remote &remote, const proto::TagRequest &request);
// The artifact, written to `out` only once its bytes hash to the version's
// digest.
llvm::Expected<proto::ModelVersion> download(const Remote &remote, const std::string &selector,
                                             const std::string &out);
llvm::Expected<proto::AliasMove> setAlias(const Remote &remote, const std::string &target,
                                          const std::string &alias, const std::string &reason);
llvm::Expected<proto::AliasMove> deleteAlias(const Remote &remote,
                                             const proto::AliasDeleteRequest &request);
llvm::Expected<proto::GateReport> runGates(const Remote &remote,
                                           const proto::GateRunRequest &request);
llvm::Expected<proto::PromotionResult> promote(const Remote &remote,
                                               const proto::PromoteRequest &request);
llvm::Expected<proto::AliasMove> rollback(const Remote &remote,
                                          const proto::RollbackRequest &request);
llvm::Expected<proto::AliasProtection> protectAlias(const Remote &remote,
                                                    const proto::ProtectAliasRequest &request);
llvm::Expected<proto::StoredGateReport> showReport(const Remote &remote,
                                                   const proto::ReportShowRequest &request);
llvm::Expected<proto::GateReportList> listReports(const Remote &remote, const std::string &name);
llvm::Expected<proto::DatasetList> listDatasets(const Remote &remote);
// The files go up in one upload, with their sizes and digests.
llvm::Expected<proto::DatasetResult> registerDataset(const Remote &remote,
                                                     const proto::DatasetRegisterRequest &request);
llvm::Expected<proto::Dataset> showDataset(const Remote &remote, const std::string &name);
llvm::Expected<proto::WebhookList> listWebhooks(const Remote &remote);
llvm::Expected<proto::Webhook> createWebhook(const Remote &remote,
                                             const proto::WebhookCreateRequest &request);
llvm::Expected<proto::Webhook> deleteWebhook(const Remote &remote, std::int64_t id,
                                             const std::string &reason);
llvm::Expected<proto::WebhookDeliveryList> listDeliveries(const Remote &remote,
                                                          const std::string &webhook,
                                                          const std::string &status,
                                                          const std::string &limit);
llvm::Expected<proto::WebhookDelivery> redeliver(const Remote &remote, std::int64_t id);

} // namespace remote
} // namespace graceful::cli
