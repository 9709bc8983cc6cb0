// The lineage store: models, versions, lineage, aliases, gate reports and
// the audit log, behind one interface with SQLite and PostgreSQL backends
// of identical semantics. Every mutating call is one transaction: it
// happens whole or not at all.
#pragma once

#include "graceful/registry.pb.h"
#include "graceful/registry/artifact_store.h"
#include "graceful/registry/refs.h"

#include <llvm/Support/Error.h>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace graceful::registry {

struct StoreConfig {
  // sqlite:PATH or postgresql://user:password@host:port/database
  std::string uri = "sqlite:.graceful/registry.db";
  // Artifact directory; empty means <directory of the SQLite file>/artifacts
  // (required for PostgreSQL).
  std::string artifactsDir;
  // How long to wait for a lock held by another process before failing.
  int busyTimeoutMs = 30000;
  // Only reads (list, show, history, audit, check): a SQLite store whose
  // file or directory is read-only opens; writes then fail.
  bool readOnly = false;
};

// The configuration from GRACEFUL_STORE, GRACEFUL_ARTIFACTS and
// GRACEFUL_BUSY_TIMEOUT_MS, each overridden by a non-empty argument.
StoreConfig storeConfigFromEnvironment(const std::string &uri, const std::string &artifacts);

struct RegisterRequest {
  std::string name;
  std::string artifactPath; // an ONNX file, validated and copied in
  std::string description;
  std::map<std::string, std::string> tags;
  std::vector<ParentSpec> parents;
  std::string actor;
  // When false, bytes identical to a version of the same model return that
  // version unchanged (RegisterResult::existing) instead of a new one, so a
  // retried job does not register its model twice.
  bool allowDuplicate = true;
  // When set, the bytes must hash to this (a server's upload, hashed as it
  // arrived), or nothing is registered.
  std::string expectedDigest = {};
};

struct TagRequest {
  VersionSelector target;
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;
  std::string actor;
  std::string reason;
};

// A model's own description and tags (not a version's), audited as
// "describe" and "model-tag": one event each, for what the request changes.
struct ModelInfoRequest {
  std::string model;
  std::optional<std::string> description; // nullopt: left as it is
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;
  std::string actor;
  std::string reason;
};

// Which action an alias move records in the audit log.
enum class AliasAction { Move, Promote, Override, Rollback };
std::string_view aliasActionName(AliasAction action);

struct AliasMoveRequest {
  std::string model;
  std::string alias;
  int version = 0;
  // Compare-and-set: the move happens only if the alias points at this
  // version now (0: only if the alias does not exist yet).
  std::optional<int> expectedVersion;
  AliasAction action = AliasAction::Move;
  std::string actor;
  std::string reason;
  // Stored with the move, in the same transaction (promotions).
  std::optional<proto::GateReport> gateReport;
  // Or a report stored earlier for the same candidate, baseline and policy.
  std::int64_t storedGateReportId = 0;
};

// Binds a policy to an alias (the caller has checked it has budgets).
struct ProtectRequest {
  std::string model;
  std::string alias;
  std::string policyDigest;
  std::string policy;
  std::string policyPath;
  std::vector<std::pair<std::string, std::string>> files; // path, digest
  std::string actor;
  std::string reason;
};

// A dataset to register. Each file is copied into the artifact store; its
// digest, as the caller read it while checking it, must be what is copied.
struct DatasetFileSource {
  std::string name; // within the dataset: validateDatasetFileName
  std::string path;
  std::string digest; // sha256:... the caller read; empty: not checked
  std::string dtype;  // a .npy file's element type, else empty
  std::vector<std::int64_t> shape;
};
struct DatasetRequest {
  std::string name; // validateDatasetName
  std::string description;
  std::vector<DatasetFileSource> files;
  std::string actor;
};

struct AuditFilter {
  std::string model; // empty: all models
  int limit = 0;     // 0: no limit; otherwise the newest `limit` events
  // Only events after this id (polling: pass the last id seen).
  std::int64_t afterId = 0;
  // Only events at or after this time (microseconds since the epoch; 0: any).
  std::int64_t sinceMicros = 0;
  std::string action = {}; // empty: every action
  std::string alias = {};  // empty: every alias
};

// A bearer token of `graceful serve`: the caller makes the secret and
// passes only its hash.
struct TokenRequest {
  std::string subject;
  std::string role;
  std::string models = "*";
  std::string aliases = "*";
  std::int64_t expiresMicros = 0; // 0: never
  std::string secretSha256;       // sha256:<hex> of the secret
  std::string actor;
};

// A stored token and the hash of its secret, for the server to compare.
struct StoredToken {
  proto::ApiToken token;
  std::string secretSha256;
};

// A request the server refused: audited as action "deny" (no record is
// written, so the hash chain covers it like any event).
struct DenialRecord {
  std::string actor;
  std::string model;
  std::string alias;
  std::string what; // the route and why, e.g. "POST promote: role reader"
};

// A promotion the gates refused, audited as "refuse" (the webhook event
// "refused"): with a new report (`gateReport`, stored in the same
// transaction) or one stored earlier (`storedGateReportId`).
struct RefusalRequest {
  std::string model;
  std::string alias;
  int version = 0; // the candidate
  int holder = 0;  // the alias's version when the gates ran (0: none)
  std::string actor;
  std::string reason;
  std::optional<proto::GateReport> gateReport;
  std::int64_t storedGateReportId = 0;
};

// A webhook subscription to create; the caller makes the secret and checks
// the URL (server/webhooks.h).
struct WebhookRequest {
  std::string url;
  std::string models = "*";
  std::string aliases = "*";
  std::vector<std::string> events; // names from webhookEvents(), at least one
  std::string secret;
  std::string actor;
};

// The webhook events, in the order docs list them, and the one an audit
// action announces ("" for none): register -> registered, promote ->
// promoted, refuse -> refused, rollback -> rolled-back, force -> forced.
std::span<const std::string_view> webhookEvents();
std::string_view webhookEventOf(std::string_view action);

struct DeliveryFilter {
  std::int64_t webhookId = 0; // 0: every webhook
  std::string status;         // empty: every status
  int limit = 0;              // 0: all; otherwise the newest `limit`
};

// A delivery claimed for one attempt, with what sending it needs: the
// webhook's URL and secret and the body (a WebhookEvent's JSON, the same
// bytes on every attempt).
struct DueDelivery {
  proto::WebhookDelivery delivery;
  std::string url;
  std::string secret;
  std::string body;
  std::int64_t leaseUntilMicros = 0; // the claim: its outcome is recorded only under it
};

// How one attempt ended. Not delivered with retryAtMicros 0: given up
// (failed).
struct DeliveryOutcome {
  std::int64_t id = 0;
  std::int64_t leaseUntilMicros = 0; // DueDelivery's: the claim it was made under
  bool delivered = false;
  std::string response; // "HTTP 200", "HTTP 503", or why no answer came
  std::int64_t retryAtMicros = 0;
};

// A position on the audit hash chain: how many events it holds and the
// hash of the newest, written "N:sha256:<hex>" (`check --head`).
struct ChainHead {
  std::int64_t events = 0;
  std::string hash;
  std::string text() const;
};
llvm::Expected<ChainHead> parseChainHead(std::string_view text);

class Store {
public:
  virtual ~Store() = default;

  // Where the store lives, as users name it (for messages).
  virtual std::string describe() const = 0;
  virtual const ArtifactStore &artifacts() const = 0;

  virtual llvm::Expected<proto::RegisterResult> registerModel(const RegisterRequest &request) = 0;
  // registerModel's version, for callers that do not care whether it is new.
  llvm::Expected<proto::ModelVersion> registerVersion(const RegisterRequest &request);
  virtual llvm::Expected<proto::ModelVersion> setTags(const TagRequest &request) = 0;
  // Sets the model's description and tags; a key to remove that the model
  // does not have is NotFound and changes nothing.
  virtual llvm::Expected<proto::Model> updateModel(const ModelInfoRequest &request) = 0;

  virtual llvm::Expected<proto::ModelList> listModels() = 0;
  virtual llvm::Expected<proto::ModelDetail> describeModel(const std::string &name) = 0;
  virtual llvm::Expected<proto::ModelVersion> getVersion(const VersionSelector &selector) = 0;
  // The version the alias points at now, with the provenance of that move
  // (ModelVersion::holder); nullopt when the model has no such alias. A
  // missing model is a NotFound error.
  virtual llvm::Expected<std::optional<proto::ModelVersion>>
  aliasHolder(const std::string &model, const std::string &alias) = 0;
  virtual llvm::Expected<proto::Lineage> lineage(const std::string &name) = 0;

  // Moves an alias atomically; a failed compare-and-set is a Conflict error
  // and changes nothing.
  virtual llvm::Expected<proto::AliasMove> moveAlias(const AliasMoveRequest &request) = 0;
  // Moves the alias back to the version that held it before the current
  // holder was put there.
  virtual llvm::Expected<proto::AliasMove> rollbackAlias(const std::string &model,
                                                         const std::string &alias,
                                                         const std::string &actor,
                                                         const std::string &reason) = 0;
  // Removes an alias (audited as alias-delete; the move's `after` is 0). A
  // protected alias is refused: only a promotion through its policy moves
  // it. After a delete the alias starts afresh: a rollback has no holder
  // from before it to return to.
  virtual llvm::Expected<proto::AliasMove> deleteAlias(const std::string &model,
                                                       const std::string &alias,
                                                       const std::string &actor,
                                                       const std::string &reason) = 0;
  virtual llvm::Expected<proto::AliasHistory> aliasHistory(const std::string &model) = 0;

  // Binds (or rebinds) a policy to an alias, audited as "protect". From then
  // on moveAlias refuses a promotion or override whose gate report was
  // evaluated under another policy.
  virtual llvm::Expected<proto::AliasProtection> protectAlias(const ProtectRequest &request) = 0;
  // The policy bound to the alias; nullopt when it is not protected.
  virtual llvm::Expected<std::optional<proto::AliasProtection>>
  aliasProtection(const std::string &model, const std::string &alias) = 0;
  virtual llvm::Expected<proto::AuditLog> auditLog(const AuditFilter &filter) = 0;

  // Gate reports are immutable once stored.
  virtual llvm::Expected<proto::StoredGateReport> storeGateReport(const proto::GateReport &report,
                                                                  const std::string &actor) = 0;
  virtual llvm::Expected<proto::StoredGateReport> getGateReport(std::int64_t id) = 0;
  // Every stored report whose candidate is a version of `model`, oldest first.
  virtual llvm::Expected<proto::GateReportList> listGateReports(const std::string &model) = 0;
  // The newest stored report for this candidate, baseline ("" for none),
  // policy digest and data digest, if any: promotion reuses it.
  virtual llvm::Expected<std::optional<proto::StoredGateReport>>
  findGateReport(const std::string &candidate, const std::string &baseline,
                 const std::string &policyDigest, const std::string &dataDigest) = 0;

  // Verifies every artifact, every alias, that the audit log replays to
  // the current alias state, and the audit hash chain: every event's hash
  // and link, the head, and that the versions, lineage, tags, aliases and
  // gate reports in the store are the records the events wrote. With
  // `pinned`, also that the chain still passes through that head (it was
  // pinned earlier and the history since only grew).
  virtual llvm::Expected<proto::CheckReport>
  check(const std::optional<ChainHead> &pinned = std::nullopt) = 0;

  // Registers a dataset, audited as "dataset-register". The same name with
  // the same file names and digests returns the stored one (existing);
  // other files under a registered name are a Conflict: a dataset never
  // changes.
  virtual llvm::Expected<proto::DatasetResult> registerDataset(const DatasetRequest &request) = 0;
  virtual llvm::Expected<proto::DatasetList> listDatasets() = 0;
  // nullopt when no dataset has this name.
  virtual llvm::Expected<std::optional<proto::Dataset>> findDataset(const std::string &name) = 0;

  // Bearer tokens (server/). Creating and revoking are audited
  // (token-create, token-revoke); revoking twice is a no-op.
  virtual llvm::Expected<proto::ApiToken> createToken(const TokenRequest &request) = 0;
  virtual llvm::Expected<proto::ApiTokenList> listTokens() = 0;
  virtual llvm::Expected<proto::ApiToken> revokeToken(std::int64_t id, const std::string &actor,
                                                      const std::string &reason) = 0;
  // nullopt when no token has this id.
  virtual llvm::Expected<std::optional<StoredToken>> findToken(std::int64_t id) = 0;
  virtual llvm::Error recordDenial(const DenialRecord &denial) = 0;

  // A refused promotion; the id of the report it was refused on.
  virtual llvm::Expected<std::int64_t> recordRefusal(const RefusalRequest &request) = 0;

  // Webhooks (server/webhooks.h). Every event an active webhook matches is
  // queued for it in the transaction that records the event, so none is
  // lost to a crash or restart. Creating and deleting are audited
  // (webhook-create, webhook-delete); deleting cancels what is still
  // pending for it, and deleting twice is a no-op.
  virtual llvm::Expected<proto::Webhook> createWebhook(const WebhookRequest &request) = 0;
  virtual llvm::Expected<proto::WebhookList> listWebhooks() = 0;
  virtual llvm::Expected<proto::Webhook> deleteWebhook(std::int64_t id, const std::string &actor,
                                                       const std::string &reason) = 0;
  virtual llvm::Expected<proto::WebhookDeliveryList>
  listDeliveries(const DeliveryFilter &filter) = 0;
  // Up to `limit` pending deliveries due at `nowMicros`, oldest first, each
  // leased until `leaseUntilMicros`: no other sender claims them before,
  // and one that dies mid-attempt leaves them to be claimed after.
  virtual llvm::Expected<std::vector<DueDelivery>>
  claimDeliveries(std::int64_t nowMicros, int limit, std::int64_t leaseUntilMicros) = 0;
  // Records an attempt of a claimed delivery, under its claim: a sender
  // whose lease ran out (another claimed it since) changes nothing. A
  // delivery cancelled meanwhile (its webhook deleted) counts the attempt
  // and stays cancelled.
  virtual llvm::Expected<proto::WebhookDelivery>
  recordDeliveryAttempt(const DeliveryOutcome &outcome) = 0;
  // Queues a delivery again, due now with its attempts reset (`webhook
  // redeliver`); audited as webhook-redeliver. A Conflict for one being
  // sent right now, a cancelled one, or one whose webhook is deleted.
  virtual llvm::Expected<proto::WebhookDelivery> redeliver(std::int64_t id,
                                                           const std::string &actor) = 0;
};

// Opens an existing store; fails with a clear error if there is none.
llvm::Expected<std::unique_ptr<Store>> openStore(const StoreConfig &config);
// Creates the store (or migrates an older one) and opens it.
llvm::Expected<std::unique_ptr<Store>> initStore(const StoreConfig &config);

} // namespace graceful::registry
