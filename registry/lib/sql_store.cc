// The store's logic, written once over SqlConnection for both backends.
#include "audit_chain.h"
#include "graceful/registry/onnx_validation.h"
#include "graceful/registry/store.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/identity.h"
#include "graceful/support/json.h"
#include "schema.h"
#include "sql_connection.h"
#include "webhook_queue.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <set>
#include <sstream>

namespace graceful::registry {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

Timestamp timestampOf(std::int64_t micros) { return TimeUtil::MicrosecondsToTimestamp(micros); }

// A version as the database knows it.
struct VersionRow {
  std::int64_t id = 0;
  std::int64_t modelId = 0;
  int version = 0;
};

struct AuditRecord {
  std::string action;
  std::string model;
  int version = 0;
  std::string alias;
  std::string before;
  std::string after;
  std::string reason;
  std::int64_t gateReportId = 0;
};

class SqlStore final : public Store {
public:
  SqlStore(std::unique_ptr<SqlConnection> connection, std::string artifactsDir)
      : db_(std::move(connection)), artifacts_(std::move(artifactsDir)) {}

  std::string describe() const override { return db_->describe(); }
  const ArtifactStore &artifacts() const override { return artifacts_; }

  llvm::Expected<proto::RegisterResult> registerModel(const RegisterRequest &request) override;
  llvm::Expected<proto::ModelVersion> setTags(const TagRequest &request) override;
  llvm::Expected<proto::Model> updateModel(const ModelInfoRequest &request) override;
  llvm::Expected<proto::ModelList> listModels() override;
  llvm::Expected<proto::ModelDetail> describeModel(const std::string &name) override;
  llvm::Expected<proto::ModelVersion> getVersion(const VersionSelector &selector) override;
  llvm::Expected<std::optional<proto::ModelVersion>> aliasHolder(const std::string &model,
                                                                 const std::string &alias) override;
  llvm::Expected<proto::Lineage> lineage(const std::string &name) override;
  llvm::Expected<proto::AliasMove> moveAlias(const AliasMoveRequest &request) override;
  llvm::Expected<proto::AliasMove> rollbackAlias(const std::string &model, const std::string &alias,
                                                 const std::string &actor,
                                                 const std::string &reason) override;
  llvm::Expected<proto::AliasMove> deleteAlias(const std::string &model, const std::string &alias,
                                               const std::string &actor,
                                               const std::string &reason) override;
  llvm::Expected<proto::AliasHistory> aliasHistory(const std::string &model) override;
  llvm::Expected<proto::AliasProtection> protectAlias(const ProtectRequest &request) override;
  llvm::Expected<std::optional<proto::AliasProtection>>
  aliasProtection(const std::string &model, const std::string &alias) override;
  llvm::Expected<proto::AuditLog> auditLog(const AuditFilter &filter) override;
  llvm::Expected<proto::StoredGateReport> storeGateReport(const proto::GateReport &report,
                                                          const std::string &actor) override;
  llvm::Expected<proto::StoredGateReport> getGateReport(std::int64_t id) override;
  llvm::Expected<proto::GateReportList> listGateReports(const std::string &model) override;
  llvm::Expected<std::optional<proto::StoredGateReport>>
  findGateReport(const std::string &candidate, const std::string &baseline,
                 const std::string &policyDigest, const std::string &dataDigest) override;
  llvm::Expected<proto::CheckReport> check(const std::optional<ChainHead> &pinned) override;
  llvm::Expected<proto::DatasetResult> registerDataset(const DatasetRequest &request) override;
  llvm::Expected<proto::DatasetList> listDatasets() override;
  llvm::Expected<std::optional<proto::Dataset>> findDataset(const std::string &name) override;
  llvm::Expected<proto::ApiToken> createToken(const TokenRequest &request) override;
  llvm::Expected<proto::ApiTokenList> listTokens() override;
  llvm::Expected<proto::ApiToken> revokeToken(std::int64_t id, const std::string &actor,
                                              const std::string &reason) override;
  llvm::Expected<std::optional<StoredToken>> findToken(std::int64_t id) override;
  llvm::Error recordDenial(const DenialRecord &denial) override;
  llvm::Expected<std::int64_t> recordRefusal(const RefusalRequest &request) override;
  llvm::Expected<proto::Webhook> createWebhook(const WebhookRequest &request) override;
  llvm::Expected<proto::WebhookList> listWebhooks() override;
  llvm::Expected<proto::Webhook> deleteWebhook(std::int64_t id, const std::string &actor,
                                               const std::string &reason) override;
  llvm::Expected<proto::WebhookDeliveryList> listDeliveries(const DeliveryFilter &filter) override;
  llvm::Expected<std::vector<DueDelivery>> claimDeliveries(std::int64_t nowMicros, int limit,
                                                           std::int64_t leaseUntilMicros) override;
  llvm::Expected<proto::WebhookDelivery>
  recordDeliveryAttempt(const DeliveryOutcome &outcome) override;
  llvm::Expected<proto::WebhookDelivery> redeliver(std::int64_t id,
                                                   const std::string &actor) override;

private:
  // Runs `body` in one transaction, committed only if `body` succeeds.
  template <typename T>
  llvm::Expected<T> inTransaction(TransactionMode mode,
                                  llvm::function_ref<llvm::Expected<T>()> body) {
    auto transaction = Transaction::begin(*db_, mode);
    if (!transaction)
      return transaction.takeError();
    llvm::Expected<T> result = body();
    if (!result)
      return result.takeError();
    if (llvm::Error error = transaction->commit())
      return error;
    return result;
  }

  std::string forUpdate() const {
    return db_->dialect() == SqlDialect::Postgres ? " FOR UPDATE" : "";
  }

  llvm::Expected<proto::RegisterResult> recordVersion(const RegisterRequest &request,
                                                      const FileDigest &stored);
  llvm::Expected<std::optional<proto::ModelVersion>> identicalVersion(std::int64_t modelId,
                                                                      const std::string &digest);
  void discardUnreferenced(const std::string &digest);
  // Serialises writers that put or discard artifacts (every write appends
  // to the chain and takes this lock anyway). Assumes an open write
  // transaction.
  llvm::Error lockChainHead();
  // Puts the artifact back from `sourcePath` if a failed concurrent register
  // discarded it after this one's put found it stored. Takes the chain
  // head's lock; assumes an open write transaction.
  llvm::Error keepArtifact(const std::string &digest, const std::string &sourcePath);
  llvm::Expected<std::int64_t> lockModel(const std::string &name, bool createIfMissing);
  llvm::Expected<std::int64_t> findModelId(const std::string &name);
  llvm::Expected<VersionRow> resolve(const VersionSelector &selector);
  llvm::Expected<proto::ModelVersion> loadVersion(std::int64_t versionId);
  // The one version a join and condition on `versions v` and `models m`
  // select, if any.
  // With `heldAs`, the event that put the version on that alias too.
  struct AliasName {
    std::string model, alias;
  };
  llvm::Expected<std::optional<proto::ModelVersion>>
  findVersion(const std::string &joinWhere, const std::vector<SqlValue> &whereParams,
              const AliasName *heldAs = nullptr);
  llvm::Expected<proto::Model> loadModel(std::int64_t modelId);
  llvm::Expected<std::int64_t> appendAudit(const AuditRecord &record, const std::string &actor);
  llvm::Expected<std::int64_t> insertGateReport(const proto::GateReport &report,
                                                const std::string &actor);
  llvm::Expected<std::optional<int>> currentAliasVersion(std::int64_t modelId,
                                                         const std::string &alias);
  struct LockedAlias {
    std::int64_t modelId = 0;
    int version = 0;
  };
  llvm::Expected<LockedAlias> lockExistingAlias(const std::string &model, const std::string &alias);
  llvm::Expected<proto::AliasMove> moveAliasInTransaction(std::int64_t modelId,
                                                          const AliasMoveRequest &request);
  llvm::Expected<std::optional<proto::AliasProtection>>
  loadProtection(std::int64_t modelId, const std::string &model, const std::string &alias);
  llvm::Error requireBoundPolicy(std::int64_t modelId, const AliasMoveRequest &request);
  struct Holder {
    int version = 0;
    std::int64_t gateReportId = 0;
  };
  llvm::Expected<std::vector<Holder>> aliasHolders(const std::string &model,
                                                   const std::string &alias);
  llvm::Expected<std::vector<proto::AuditEvent>> readAudit(const std::string &where,
                                                           const std::vector<SqlValue> &params);
  llvm::Error checkArtifacts(proto::CheckReport &report);
  llvm::Error checkAliases(proto::CheckReport &report);
  llvm::Error checkVersionsAndAudit(proto::CheckReport &report);
  llvm::Error checkChain(proto::CheckReport &report, const std::optional<ChainHead> &pinned);
  llvm::Expected<proto::Webhook> webhookById(std::int64_t id);
  llvm::Expected<proto::WebhookDelivery> deliveryById(std::int64_t id);
  llvm::Expected<DueDelivery> dueDelivery(proto::WebhookDelivery delivery);
  llvm::Expected<std::vector<StoredToken>> readTokens(const std::string &where,
                                                      const std::vector<SqlValue> &params);
  llvm::Expected<std::vector<proto::Dataset>> readDatasets(const std::string &where,
                                                           const std::vector<SqlValue> &params);
  // A dataset whose files are in the artifact store, each beside the path
  // it was copied from.
  struct StagedDataset {
    proto::Dataset dataset;
    std::vector<std::string> sources;
  };
  llvm::Expected<StagedDataset> storeDatasetFiles(const DatasetRequest &request,
                                                  std::vector<std::string> &created);
  llvm::Expected<proto::DatasetResult> recordDataset(const StagedDataset &staged,
                                                     const std::string &actor);

  std::unique_ptr<SqlConnection> db_;
  ArtifactStore artifacts_;
};

// ---- lookups -------------------------------------------------------------

llvm::Expected<std::int64_t> SqlStore::findModelId(const std::string &name) {
  auto id = db_->queryInteger("SELECT id FROM models WHERE name = ?", {name});
  if (!id)
    return id.takeError();
  if (!*id)
    return makeError(ErrorKind::NotFound, "no model named '" + name + "' in " + describe());
  return **id;
}

// Writers on one model serialise on its row (PostgreSQL) or on the database
// write lock taken at BEGIN IMMEDIATE (SQLite).
llvm::Expected<std::int64_t> SqlStore::lockModel(const std::string &name, bool createIfMissing) {
  if (createIfMissing)
    if (llvm::Error error = db_->execute(
            "INSERT INTO models (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            {name, nowMicros()}))
      return error;
  auto id = db_->queryInteger("SELECT id FROM models WHERE name = ?" + forUpdate(), {name});
  if (!id)
    return id.takeError();
  if (!*id)
    return makeError(ErrorKind::NotFound, "no model named '" + name + "' in " + describe());
  return **id;
}

llvm::Expected<VersionRow> SqlStore::resolve(const VersionSelector &selector) {
  auto modelId = findModelId(selector.name);
  if (!modelId)
    return modelId.takeError();
  llvm::Expected<SqlRows> rows = SqlRows{};
  std::string missing;
  if (selector.version) {
    rows = db_->query("SELECT id, version FROM versions WHERE model_id = ? AND version = ?",
                      {*modelId, std::int64_t{*selector.version}});
    missing = "model '" + selector.name + "' has no version " + std::to_string(*selector.version);
  } else if (selector.alias) {
    rows = db_->query("SELECT v.id, v.version FROM aliases a JOIN versions v ON v.id = a.version_id"
                      " WHERE a.model_id = ? AND a.alias = ?",
                      {*modelId, *selector.alias});
    missing = "model '" + selector.name + "' has no alias '" + *selector.alias + "'";
  } else {
    rows = db_->query(
        "SELECT id, version FROM versions WHERE model_id = ? ORDER BY version DESC LIMIT 1",
        {*modelId});
    missing = "model '" + selector.name + "' has no versions";
  }
  if (!rows)
    return rows.takeError();
  if (rows->empty())
    return makeError(ErrorKind::NotFound, missing);
  return VersionRow{rows->front().integer(0), *modelId, static_cast<int>(rows->front().integer(1))};
}

llvm::Expected<proto::ModelVersion> SqlStore::loadVersion(std::int64_t versionId) {
  auto version = findVersion("WHERE v.id = ?", {versionId});
  if (!version)
    return version.takeError();
  if (!*version)
    return makeError(ErrorKind::NotFound, "version row " + std::to_string(versionId) + " vanished");
  return std::move(**version);
}

// One statement for a version and all it carries (every read of a version
// asks for all of it, and one statement sees one snapshot without a
// transaction): rows tagged with their kind, text in columns 1-4 and
// integers in 5-7; parents come by model, version and kind.
namespace {
enum VersionRowKind : std::int64_t { kVersionRow, kTagRow, kParentRow, kAliasRow, kOriginRow };
} // namespace

llvm::Expected<std::optional<proto::ModelVersion>>
SqlStore::findVersion(const std::string &joinWhere, const std::vector<SqlValue> &whereParams,
                      const AliasName *heldAs) {
  // The selected version's id and model id, for the rows that hang off
  // it. PostgreSQL looks them up once, in a common table expression;
  // SQLite would materialise that in a table of its own per statement,
  // which costs it more than repeating the indexed lookup.
  const std::string from = "FROM versions v JOIN models m ON m.id = v.model_id " + joinWhere;
  const bool shared = db_->dialect() == SqlDialect::Postgres;
  const std::string id = shared ? "(SELECT id FROM target)" : "(SELECT v.id " + from + ")";
  const std::string modelId =
      shared ? "(SELECT model_id FROM target)" : "(SELECT v.model_id " + from + ")";
  const int uses = shared ? 2 : 5;
  std::string sql =
      (shared ? "WITH target AS (SELECT v.id, v.model_id " + from + ") " : std::string()) +
      "SELECT 0, m.name, v.digest, v.created_by, v.description, v.version, v.size_bytes,"
      " v.created_at " +
      from +
      " UNION ALL SELECT 1, tag_key, tag_value, NULL, NULL, NULL, NULL, NULL FROM version_tags"
      " WHERE version_id = " +
      id +
      " UNION ALL SELECT 2, pm.name, l.kind, NULL, NULL, pv.version, NULL, NULL FROM lineage l"
      " JOIN versions pv ON pv.id = l.parent_id JOIN models pm ON pm.id = pv.model_id"
      " WHERE l.child_id = " +
      id + " UNION ALL SELECT 3, alias, NULL, NULL, NULL, NULL, NULL, NULL FROM aliases" +
      " WHERE model_id = " + modelId + " AND version_id = " + id;
  std::vector<SqlValue> params;
  for (int use = 0; use < uses; ++use)
    params.insert(params.end(), whereParams.begin(), whereParams.end());
  if (heldAs) {
    // The newest move of the alias: the event that put the holder there.
    params.insert(params.end(), {heldAs->model, heldAs->alias});
    std::string actions;
    for (std::string_view action : aliasActions()) {
      actions += actions.empty() ? "?" : ", ?";
      params.emplace_back(std::string(action));
    }
    sql += " UNION ALL SELECT 4, action, actor, reason, NULL, id, gate_report_id, occurred_at"
           " FROM audit_log WHERE id = (SELECT max(id) FROM audit_log"
           " WHERE model = ? AND alias = ? AND action IN (" +
           actions + "))";
  }
  auto rows = db_->query(sql, params);
  if (!rows)
    return rows.takeError();
  // The alias's last move is there whether or not the alias still is.
  if (std::none_of(rows->begin(), rows->end(),
                   [](const SqlRow &row) { return row.integer(0) == kVersionRow; }))
    return std::nullopt;
  proto::ModelVersion version;
  for (const SqlRow &row : *rows) {
    switch (row.integer(0)) {
    case kVersionRow:
      version.set_name(row.text(1));
      version.set_digest(row.text(2));
      version.set_created_by(row.text(3));
      version.set_description(row.text(4));
      version.set_version(static_cast<int>(row.integer(5)));
      version.set_size_bytes(row.integer(6));
      *version.mutable_created_at() = timestampOf(row.integer(7));
      break;
    case kTagRow:
      (*version.mutable_tags())[row.text(1)] = row.text(2);
      break;
    case kParentRow: {
      proto::LineageEdge *edge = version.add_parents();
      edge->mutable_parent()->set_name(row.text(1));
      edge->mutable_parent()->set_version(static_cast<int>(row.integer(5)));
      edge->set_kind(row.text(2));
      break;
    }
    case kAliasRow:
      version.add_aliases(row.text(1));
      break;
    case kOriginRow: {
      proto::AliasProvenance *origin = version.mutable_holder();
      origin->set_alias(heldAs->alias);
      origin->set_action(row.text(1));
      origin->set_actor(row.text(2));
      origin->set_reason(row.text(3));
      origin->set_audit_id(row.integer(5));
      origin->set_gate_report_id(row.isNull(6) ? 0 : row.integer(6));
      *origin->mutable_since() = timestampOf(row.integer(7));
      break;
    }
    }
  }
  // Sorted here rather than in SQL, where the union's order costs SQLite
  // more than the rest of the statement.
  auto &parents = *version.mutable_parents();
  std::sort(parents.begin(), parents.end(),
            [](const proto::LineageEdge &a, const proto::LineageEdge &b) {
              return std::make_tuple(a.parent().name(), a.parent().version(), a.kind()) <
                     std::make_tuple(b.parent().name(), b.parent().version(), b.kind());
            });
  std::sort(version.mutable_aliases()->begin(), version.mutable_aliases()->end());
  return std::optional<proto::ModelVersion>(std::move(version));
}

llvm::Expected<proto::Model> SqlStore::loadModel(std::int64_t modelId) {
  auto rows = db_->query("SELECT m.name, m.created_at, (SELECT max(version) FROM versions"
                         " WHERE model_id = m.id), m.description FROM models m WHERE m.id = ?",
                         {modelId});
  if (!rows)
    return rows.takeError();
  proto::Model model;
  model.set_name(rows->at(0).text(0));
  *model.mutable_created_at() = timestampOf(rows->at(0).integer(1));
  model.set_latest_version(static_cast<int>(rows->at(0).integer(2)));
  model.set_description(rows->at(0).text(3));
  auto tags = db_->query("SELECT tag_key, tag_value FROM model_tags WHERE model_id = ?", {modelId});
  if (!tags)
    return tags.takeError();
  for (const SqlRow &tag : *tags)
    (*model.mutable_tags())[tag.text(0)] = tag.text(1);
  auto aliases = db_->query("SELECT a.alias, v.version FROM aliases a"
                            " JOIN versions v ON v.id = a.version_id WHERE a.model_id = ?",
                            {modelId});
  if (!aliases)
    return aliases.takeError();
  for (const SqlRow &alias : *aliases)
    (*model.mutable_aliases())[alias.text(0)] = static_cast<int>(alias.integer(1));
  return model;
}

// Appends the event at the head of the chain, with the digests of the
// records it wrote. Assumes an open write transaction in which those records
// were just written; the head row's lock serialises appends on PostgreSQL
// (SQLite writers are serialised already).
llvm::Expected<std::int64_t> SqlStore::appendAudit(const AuditRecord &record,
                                                   const std::string &actor) {
  auto head = db_->query("SELECT seq, hash FROM audit_head WHERE id = 1" + forUpdate());
  if (!head)
    return head.takeError();
  if (head->empty())
    return makeError(ErrorKind::Corrupt, describe() + ": the audit chain has no head row");
  ChainedEvent event{0,
                     head->front().integer(0) + 1,
                     head->front().text(1),
                     nowMicros(),
                     actor,
                     record.action,
                     record.model,
                     record.version,
                     record.alias,
                     record.before,
                     record.after,
                     record.reason,
                     record.gateReportId,
                     "",
                     ""};
  auto records = currentRecords(*db_, event);
  if (!records)
    return records.takeError();
  event.records = formatRecords(*records);
  event.hash = chainHash(event);
  auto id = db_->queryInteger(
      "INSERT INTO audit_log (occurred_at, actor, action, model, version, alias, state_before,"
      " state_after, reason, gate_report_id, seq, prev_hash, records, hash)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
      {event.occurredAt, actor, event.action, event.model, event.version, event.alias, event.before,
       event.after, event.reason, nullOrInteger(event.gateReportId), event.seq, event.prevHash,
       event.records, event.hash});
  if (!id)
    return id.takeError();
  if (llvm::Error error = db_->execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
                                       {event.seq, event.hash}))
    return error;
  if (llvm::Error error = webhook_queue::enqueue(*db_, id->value_or(0), event.action, event.model,
                                                 event.alias, event.occurredAt))
    return error;
  return id->value_or(0);
}

// ---- registration and tags -------------------------------------------------

llvm::Expected<proto::RegisterResult> SqlStore::registerModel(const RegisterRequest &request) {
  if (llvm::Error error = validateModelName(request.name))
    return error;
  for (const auto &[key, value] : request.tags)
    if (llvm::Error error = validateTagKey(key))
      return error;
  // The staged copy is what is checked, so what is stored is what passed
  // (the source may change under us). The artifact goes in first: if we
  // die before the commit below, it is an orphan that nothing refers to,
  // never a version without its bytes.
  auto accept = [&](const std::string &staged, const FileDigest &digest) -> llvm::Error {
    if (!request.expectedDigest.empty() && digest.digest != request.expectedDigest)
      return makeError(ErrorKind::BadInput, request.artifactPath + ": hashes to " + digest.digest +
                                                ", not to " + request.expectedDigest +
                                                " (changed while being registered?)");
    return validateOnnxFile(staged, request.artifactPath);
  };
  llvm::Expected<PutArtifact> stored = artifacts_.put(request.artifactPath, accept);
  if (!stored)
    return stored.takeError();
  auto version = recordVersion(request, *stored);
  if (!version && stored->created)
    discardUnreferenced(stored->digest);
  return version;
}

// A failed register leaves no artifact behind unless a version or a
// dataset refers to it (identical bytes registered meanwhile). If the store cannot even be
// read, the file stays: an orphan is harmless and `check` counts it.
void SqlStore::discardUnreferenced(const std::string &digest) {
  // Under the chain head's lock, as keepArtifact checks: a concurrent
  // register that found these bytes already stored either committed its
  // reference before this count, or puts the bytes back after the discard.
  llvm::Error error =
      inTransaction<bool>(TransactionMode::Write, [&]() -> llvm::Expected<bool> {
        if (llvm::Error locked = lockChainHead())
          return locked;
        // Dataset files are listed in one text column; a
        // digest is long enough that a substring match is exact.
        auto count = db_->queryInteger("SELECT (SELECT count(*) FROM versions WHERE digest = ?) +"
                                       " (SELECT count(*) FROM datasets WHERE files LIKE ?)",
                                       {digest, "%" + digest + "%"});
        if (!count)
          return count.takeError();
        if (count->value_or(0) == 0)
          if (llvm::Error discarded = artifacts_.discard(digest))
            return discarded;
        return true;
      }).takeError();
  // If the store cannot even be written, the file stays: an orphan is
  // harmless and `check` counts it.
  llvm::consumeError(std::move(error));
}

// A source file whose bytes were not the same on two reads.
llvm::Error changedWhileRegistered(const std::string &path, const std::string &first,
                                   const std::string &second) {
  return makeError(ErrorKind::BadInput, path + ": changed while it was registered (read as " +
                                            first + ", then as " + second +
                                            "); nothing was recorded, register it again");
}

llvm::Error SqlStore::lockChainHead() {
  auto head = db_->queryInteger("SELECT seq FROM audit_head WHERE id = 1" + forUpdate(), {});
  return head ? llvm::Error::success() : head.takeError();
}

llvm::Error SqlStore::keepArtifact(const std::string &digest, const std::string &sourcePath) {
  if (llvm::Error error = lockChainHead())
    return error;
  std::error_code ec;
  if (std::filesystem::is_regular_file(artifacts_.pathFor(digest), ec))
    return llvm::Error::success();
  auto stored = artifacts_.put(sourcePath);
  if (!stored)
    return stored.takeError();
  if (stored->digest != digest)
    return changedWhileRegistered(sourcePath, digest, stored->digest);
  return llvm::Error::success();
}

// The oldest version of the model holding these bytes, if any.
llvm::Expected<std::optional<proto::ModelVersion>>
SqlStore::identicalVersion(std::int64_t modelId, const std::string &digest) {
  auto id = db_->queryInteger(
      "SELECT id FROM versions WHERE model_id = ? AND digest = ? ORDER BY version LIMIT 1",
      {modelId, digest});
  if (!id)
    return id.takeError();
  if (!*id)
    return std::optional<proto::ModelVersion>();
  auto version = loadVersion(**id);
  if (!version)
    return version.takeError();
  return std::optional<proto::ModelVersion>(std::move(*version));
}

llvm::Expected<proto::RegisterResult> SqlStore::recordVersion(const RegisterRequest &request,
                                                              const FileDigest &stored) {
  return inTransaction<proto::RegisterResult>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::RegisterResult> {
        std::vector<std::pair<VersionRow, std::string>> parents;
        for (const ParentSpec &spec : request.parents) {
          llvm::Expected<VersionRow> parent = resolve(spec.parent);
          if (!parent) {
            ErrorReport report = describeError(parent.takeError());
            return makeError(report.kind, "parent " + spec.parent.text() + ": " + report.message);
          }
          parents.emplace_back(*parent, spec.kind);
        }
        auto modelId = lockModel(request.name, /*createIfMissing=*/true);
        if (!modelId)
          return modelId.takeError();
        // After the model's lock, as every writer takes the two (the chain
        // head last, when it appends its event): another order could
        // deadlock with a promotion on PostgreSQL.
        if (llvm::Error error = keepArtifact(stored.digest, request.artifactPath))
          return error;
        proto::RegisterResult result;
        if (!request.allowDuplicate) {
          // Checked under the model's lock, so two retries of one job that
          // race still record one version.
          auto existing = identicalVersion(*modelId, stored.digest);
          if (!existing)
            return existing.takeError();
          if (*existing) {
            *result.mutable_version() = std::move(**existing);
            result.set_existing(true);
            return result;
          }
        }
        auto latest =
            db_->queryInteger("SELECT max(version) FROM versions WHERE model_id = ?", {*modelId});
        if (!latest)
          return latest.takeError();
        std::int64_t number = latest->value_or(0) + 1;
        auto versionId = db_->queryInteger(
            "INSERT INTO versions (model_id, version, digest, size_bytes, created_at, created_by,"
            " description) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            {*modelId, number, stored.digest, stored.sizeBytes, nowMicros(), request.actor,
             request.description});
        if (!versionId)
          return versionId.takeError();
        for (const auto &[key, value] : request.tags)
          if (llvm::Error error = db_->execute(
                  "INSERT INTO version_tags (version_id, tag_key, tag_value) VALUES (?, ?, ?)",
                  {**versionId, key, value}))
            return error;
        for (const auto &[parent, kind] : parents)
          if (llvm::Error error =
                  db_->execute("INSERT INTO lineage (child_id, parent_id, kind) VALUES (?, ?, ?)"
                               " ON CONFLICT DO NOTHING",
                               {**versionId, parent.id, kind}))
            return error;
        AuditRecord audit{"register", request.name,  static_cast<int>(number), "",
                          "",         stored.digest, request.description,      0};
        if (auto id = appendAudit(audit, request.actor); !id)
          return id.takeError();
        auto version = loadVersion(**versionId);
        if (!version)
          return version.takeError();
        *result.mutable_version() = std::move(*version);
        return result;
      });
}

std::string formatTags(const google::protobuf::Map<std::string, std::string> &tags) {
  std::map<std::string, std::string> sorted(tags.begin(), tags.end());
  std::string text;
  for (const auto &[key, value] : sorted)
    text += (text.empty() ? "" : ",") + key + "=" + value;
  return text;
}

llvm::Expected<proto::ModelVersion> SqlStore::setTags(const TagRequest &request) {
  for (const auto &[key, value] : request.set)
    if (llvm::Error error = validateTagKey(key))
      return error;
  return inTransaction<proto::ModelVersion>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::ModelVersion> {
        auto modelId = lockModel(request.target.name, /*createIfMissing=*/false);
        if (!modelId)
          return modelId.takeError();
        auto target = resolve(request.target);
        if (!target)
          return target.takeError();
        auto before = loadVersion(target->id);
        if (!before)
          return before.takeError();
        for (const std::string &key : request.remove) {
          if (!before->tags().contains(key))
            return makeError(ErrorKind::NotFound,
                             request.target.text() + " has no tag '" + key + "' to remove");
          if (llvm::Error error =
                  db_->execute("DELETE FROM version_tags WHERE version_id = ? AND tag_key = ?",
                               {target->id, key}))
            return error;
        }
        for (const auto &[key, value] : request.set)
          if (llvm::Error error = db_->execute(
                  "INSERT INTO version_tags (version_id, tag_key, tag_value) VALUES (?, ?, ?)"
                  " ON CONFLICT (version_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                  {target->id, key, value}))
            return error;
        auto after = loadVersion(target->id);
        if (!after)
          return after.takeError();
        AuditRecord audit{"tag",
                          request.target.name,
                          target->version,
                          "",
                          formatTags(before->tags()),
                          formatTags(after->tags()),
                          request.reason,
                          0};
        if (auto id = appendAudit(audit, request.actor); !id)
          return id.takeError();
        return after;
      });
}

llvm::Expected<proto::Model> SqlStore::updateModel(const ModelInfoRequest &request) {
  if (llvm::Error error = validateModelName(request.model))
    return error;
  for (const auto &[key, value] : request.set)
    if (llvm::Error error = validateTagKey(key))
      return error;
  return inTransaction<proto::Model>(TransactionMode::Write, [&]() -> llvm::Expected<proto::Model> {
    auto modelId = lockModel(request.model, /*createIfMissing=*/false);
    if (!modelId)
      return modelId.takeError();
    auto before = loadModel(*modelId);
    if (!before)
      return before.takeError();
    if (request.description) {
      if (llvm::Error error = db_->execute("UPDATE models SET description = ? WHERE id = ?",
                                           {*request.description, *modelId}))
        return error;
      AuditRecord audit{"describe",           request.model,  0, "", before->description(),
                        *request.description, request.reason, 0};
      if (auto id = appendAudit(audit, request.actor); !id)
        return id.takeError();
    }
    if (request.set.empty() && request.remove.empty())
      return loadModel(*modelId);
    for (const std::string &key : request.remove) {
      if (!before->tags().contains(key))
        return makeError(ErrorKind::NotFound,
                         "model '" + request.model + "' has no tag '" + key + "' to remove");
      if (llvm::Error error = db_->execute(
              "DELETE FROM model_tags WHERE model_id = ? AND tag_key = ?", {*modelId, key}))
        return error;
    }
    for (const auto &[key, value] : request.set)
      if (llvm::Error error = db_->execute(
              "INSERT INTO model_tags (model_id, tag_key, tag_value) VALUES (?, ?, ?)"
              " ON CONFLICT (model_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
              {*modelId, key, value}))
        return error;
    auto after = loadModel(*modelId);
    if (!after)
      return after.takeError();
    AuditRecord audit{"model-tag",
                      request.model,
                      0,
                      "",
                      formatTags(before->tags()),
                      formatTags(after->tags()),
                      request.reason,
                      0};
    if (auto id = appendAudit(audit, request.actor); !id)
      return id.takeError();
    return after;
  });
}

// ---- reading ---------------------------------------------------------------

llvm::Expected<proto::ModelList> SqlStore::listModels() {
  return inTransaction<proto::ModelList>(
      TransactionMode::Read, [&]() -> llvm::Expected<proto::ModelList> {
        auto ids = db_->query("SELECT id FROM models ORDER BY name");
        if (!ids)
          return ids.takeError();
        proto::ModelList list;
        for (const SqlRow &row : *ids) {
          auto model = loadModel(row.integer(0));
          if (!model)
            return model.takeError();
          *list.add_models() = std::move(*model);
        }
        return list;
      });
}

llvm::Expected<proto::ModelDetail> SqlStore::describeModel(const std::string &name) {
  return inTransaction<proto::ModelDetail>(
      TransactionMode::Read, [&]() -> llvm::Expected<proto::ModelDetail> {
        auto modelId = findModelId(name);
        if (!modelId)
          return modelId.takeError();
        proto::ModelDetail detail;
        auto model = loadModel(*modelId);
        if (!model)
          return model.takeError();
        *detail.mutable_model() = std::move(*model);
        auto ids =
            db_->query("SELECT id FROM versions WHERE model_id = ? ORDER BY version", {*modelId});
        if (!ids)
          return ids.takeError();
        for (const SqlRow &row : *ids) {
          auto version = loadVersion(row.integer(0));
          if (!version)
            return version.takeError();
          *detail.add_versions() = std::move(*version);
        }
        return detail;
      });
}

llvm::Expected<proto::ModelVersion> SqlStore::getVersion(const VersionSelector &selector) {
  return inTransaction<proto::ModelVersion>(TransactionMode::Read,
                                            [&]() -> llvm::Expected<proto::ModelVersion> {
                                              auto row = resolve(selector);
                                              if (!row)
                                                return row.takeError();
                                              auto version = loadVersion(row->id);
                                              if (!version)
                                                return version.takeError();
                                              return version;
                                            });
}

llvm::Expected<std::optional<proto::ModelVersion>> SqlStore::aliasHolder(const std::string &model,
                                                                         const std::string &alias) {
  using Holder = std::optional<proto::ModelVersion>;
  // Every read of an alias over HTTP asks this: one statement.
  AliasName heldAs{model, alias};
  auto holder = inTransaction<Holder>(TransactionMode::SingleRead, [&] {
    return findVersion("JOIN aliases a ON a.version_id = v.id AND a.model_id = m.id"
                       " WHERE m.name = ? AND a.alias = ?",
                       {model, alias}, &heldAs);
  });
  if (!holder || *holder)
    return holder;
  // No such alias, or no such model: the answers differ.
  if (auto modelId = inTransaction<std::int64_t>(TransactionMode::SingleRead,
                                                 [&] { return findModelId(model); });
      !modelId)
    return modelId.takeError();
  return Holder();
}

// The model's versions, their ancestors (in any model) and their direct
// descendants in other models (an edge model derived from a cloud one).
llvm::Expected<proto::Lineage> SqlStore::lineage(const std::string &name) {
  return inTransaction<proto::Lineage>(
      TransactionMode::Read, [&]() -> llvm::Expected<proto::Lineage> {
        auto modelId = findModelId(name);
        if (!modelId)
          return modelId.takeError();
        auto own =
            db_->query("SELECT id FROM versions WHERE model_id = ? ORDER BY version", {*modelId});
        if (!own)
          return own.takeError();
        std::set<std::int64_t> seen;
        std::deque<std::int64_t> pending;
        for (const SqlRow &row : *own)
          pending.push_back(row.integer(0));
        auto children =
            db_->query("SELECT l.child_id FROM lineage l JOIN versions p ON p.id = l.parent_id"
                       " JOIN versions c ON c.id = l.child_id"
                       " WHERE p.model_id = ? AND c.model_id <> ?",
                       {*modelId, *modelId});
        if (!children)
          return children.takeError();
        for (const SqlRow &row : *children)
          pending.push_back(row.integer(0));

        proto::Lineage result;
        while (!pending.empty()) {
          std::int64_t id = pending.front();
          pending.pop_front();
          if (!seen.insert(id).second)
            continue;
          auto version = loadVersion(id);
          if (!version)
            return version.takeError();
          for (const proto::LineageEdge &parent : version->parents()) {
            proto::Lineage::Edge *edge = result.add_edges();
            edge->mutable_child()->set_name(version->name());
            edge->mutable_child()->set_version(version->version());
            *edge->mutable_parent() = parent.parent();
            edge->set_kind(parent.kind());
          }
          *result.add_nodes() = std::move(*version);
          auto parents = db_->query("SELECT parent_id FROM lineage WHERE child_id = ?", {id});
          if (!parents)
            return parents.takeError();
          for (const SqlRow &row : *parents)
            pending.push_back(row.integer(0));
        }
        std::sort(result.mutable_nodes()->begin(), result.mutable_nodes()->end(),
                  [](const proto::ModelVersion &a, const proto::ModelVersion &b) {
                    return std::pair(a.name(), a.version()) < std::pair(b.name(), b.version());
                  });
        return result;
      });
}

// ---- aliases -----------------------------------------------------------------

llvm::Expected<std::optional<int>> SqlStore::currentAliasVersion(std::int64_t modelId,
                                                                 const std::string &alias) {
  auto current = db_->queryInteger("SELECT v.version FROM aliases a JOIN versions v"
                                   " ON v.id = a.version_id WHERE a.model_id = ? AND a.alias = ?",
                                   {modelId, alias});
  if (!current)
    return current.takeError();
  if (!*current)
    return std::optional<int>();
  return std::optional<int>(static_cast<int>(**current));
}

// The model, locked for writing, and the version its alias points at; the
// alias must exist (NotFound). Assumes an open write transaction.
llvm::Expected<SqlStore::LockedAlias> SqlStore::lockExistingAlias(const std::string &model,
                                                                  const std::string &alias) {
  auto modelId = lockModel(model, /*createIfMissing=*/false);
  if (!modelId)
    return modelId.takeError();
  auto current = currentAliasVersion(*modelId, alias);
  if (!current)
    return current.takeError();
  if (!*current)
    return makeError(ErrorKind::NotFound, "model '" + model + "' has no alias '" + alias + "'");
  return LockedAlias{*modelId, **current};
}

std::string describeHolder(std::optional<int> version) {
  return version ? "version " + std::to_string(*version) : "nothing";
}

llvm::Expected<proto::AliasMove> SqlStore::moveAliasInTransaction(std::int64_t modelId,
                                                                  const AliasMoveRequest &request) {
  auto target = resolve(VersionSelector{request.model, request.version, std::nullopt});
  if (!target)
    return target.takeError();
  auto current = currentAliasVersion(modelId, request.alias);
  if (!current)
    return current.takeError();
  if (request.expectedVersion && current->value_or(0) != *request.expectedVersion)
    return makeError(ErrorKind::Conflict,
                     request.model + ": alias '" + request.alias + "' points at " +
                         describeHolder(*current) + ", not " +
                         describeHolder(*request.expectedVersion == 0
                                            ? std::nullopt
                                            : std::optional<int>(*request.expectedVersion)) +
                         " as expected; nothing changed");
  if (llvm::Error error = requireBoundPolicy(modelId, request))
    return error;
  std::int64_t reportId = request.storedGateReportId;
  if (request.gateReport) {
    auto id = insertGateReport(*request.gateReport, request.actor);
    if (!id)
      return id.takeError();
    reportId = *id;
  }
  if (llvm::Error error = db_->execute(
          "INSERT INTO aliases (model_id, alias, version_id, updated_at) VALUES (?, ?, ?, ?)"
          " ON CONFLICT (model_id, alias) DO UPDATE SET version_id = excluded.version_id,"
          " updated_at = excluded.updated_at",
          {modelId, request.alias, target->id, nowMicros()}))
    return error;
  AuditRecord audit{std::string(aliasActionName(request.action)),
                    request.model,
                    request.version,
                    request.alias,
                    *current ? std::to_string(**current) : "",
                    std::to_string(request.version),
                    request.reason,
                    reportId};
  auto auditId = appendAudit(audit, request.actor);
  if (!auditId)
    return auditId.takeError();
  proto::AliasMove move;
  move.set_model(request.model);
  move.set_alias(request.alias);
  move.set_before(current->value_or(0));
  move.set_after(request.version);
  move.set_action(audit.action);
  move.set_gate_report_id(reportId);
  move.set_audit_id(*auditId);
  return move;
}

llvm::Expected<proto::AliasMove> SqlStore::moveAlias(const AliasMoveRequest &request) {
  if (llvm::Error error = validateModelName(request.model))
    return error;
  if (llvm::Error error = validateAliasName(request.alias))
    return error;
  return inTransaction<proto::AliasMove>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::AliasMove> {
        auto modelId = lockModel(request.model, /*createIfMissing=*/false);
        if (!modelId)
          return modelId.takeError();
        auto move = moveAliasInTransaction(*modelId, request);
        if (!move)
          return move.takeError();
        return move;
      });
}

// ---- protected aliases ---------------------------------------------------------

// The alias's bound policy, if any. Assumes an open transaction.
llvm::Expected<std::optional<proto::AliasProtection>>
SqlStore::loadProtection(std::int64_t modelId, const std::string &model, const std::string &alias) {
  auto rows = db_->query("SELECT policy_digest, policy, policy_path, files, created_at, created_by"
                         " FROM alias_policies WHERE model_id = ? AND alias = ?",
                         {modelId, alias});
  if (!rows)
    return rows.takeError();
  if (rows->empty())
    return std::optional<proto::AliasProtection>();
  const SqlRow &row = rows->front();
  proto::AliasProtection protection;
  protection.set_model(model);
  protection.set_alias(alias);
  protection.set_policy_digest(row.text(0));
  protection.set_policy(row.text(1));
  protection.set_policy_path(row.text(2));
  std::istringstream lines(row.text(3));
  for (std::string line; std::getline(lines, line);) {
    size_t space = line.find(' ');
    proto::AliasProtection::File *file = protection.add_files();
    file->set_digest(line.substr(0, space));
    file->set_path(space == std::string::npos ? "" : line.substr(space + 1));
  }
  *protection.mutable_created_at() = timestampOf(row.integer(4));
  protection.set_created_by(row.text(5));
  return std::optional<proto::AliasProtection>(std::move(protection));
}

// A promotion or override of a protected alias must rely on a gate report
// of the bound policy; a rollback returns to a holder the alias had.
// Assumes an open write transaction holding the model's lock.
llvm::Error SqlStore::requireBoundPolicy(std::int64_t modelId, const AliasMoveRequest &request) {
  if (request.action == AliasAction::Rollback)
    return llvm::Error::success();
  auto bound = loadProtection(modelId, request.model, request.alias);
  if (!bound)
    return bound.takeError();
  if (!*bound)
    return llvm::Error::success();
  std::string used;
  if (request.gateReport) {
    used = request.gateReport->policy_digest();
  } else if (request.storedGateReportId) {
    auto digest = db_->query("SELECT policy_digest FROM gate_reports WHERE id = ?",
                             {request.storedGateReportId});
    if (!digest)
      return digest.takeError();
    if (!digest->empty())
      used = digest->front().text(0);
  }
  if (used == (*bound)->policy_digest())
    return llvm::Error::success();
  return makeError(ErrorKind::BadInput,
                   request.model + "@" + request.alias + " is protected by policy " +
                       (*bound)->policy_digest() + "; this move relies on " +
                       (used.empty() ? std::string("no gate report") : "policy " + used) +
                       "; nothing changed");
}

llvm::Expected<proto::AliasProtection> SqlStore::protectAlias(const ProtectRequest &request) {
  if (llvm::Error error = validateModelName(request.model))
    return error;
  if (llvm::Error error = validateAliasName(request.alias))
    return error;
  std::string files;
  for (const auto &[path, digest] : request.files) {
    if (path.find('\n') != std::string::npos)
      return makeError(ErrorKind::BadInput, "a policy data file's path holds a newline");
    files += digest + " " + path + "\n";
  }
  return inTransaction<proto::AliasProtection>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::AliasProtection> {
        auto modelId = lockModel(request.model, /*createIfMissing=*/false);
        if (!modelId)
          return modelId.takeError();
        auto before = loadProtection(*modelId, request.model, request.alias);
        if (!before)
          return before.takeError();
        if (llvm::Error error = db_->execute(
                "INSERT INTO alias_policies (model_id, alias, policy_digest, policy, policy_path,"
                " files, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (model_id, alias) DO UPDATE SET"
                " policy_digest = excluded.policy_digest, policy = excluded.policy,"
                " policy_path = excluded.policy_path, files = excluded.files,"
                " created_at = excluded.created_at, created_by = excluded.created_by",
                {*modelId, request.alias, request.policyDigest, request.policy, request.policyPath,
                 files, nowMicros(), request.actor}))
          return error;
        AuditRecord audit{"protect",
                          request.model,
                          0,
                          request.alias,
                          *before ? (*before)->policy_digest() : "",
                          request.policyDigest,
                          request.reason,
                          0};
        auto auditId = appendAudit(audit, request.actor);
        if (!auditId)
          return auditId.takeError();
        auto protection = loadProtection(*modelId, request.model, request.alias);
        if (!protection)
          return protection.takeError();
        (*protection)->set_audit_id(*auditId);
        return std::move(**protection);
      });
}

llvm::Expected<std::optional<proto::AliasProtection>>
SqlStore::aliasProtection(const std::string &model, const std::string &alias) {
  return inTransaction<std::optional<proto::AliasProtection>>(
      TransactionMode::Read, [&]() -> llvm::Expected<std::optional<proto::AliasProtection>> {
        auto modelId = findModelId(model);
        if (!modelId)
          return modelId.takeError();
        return loadProtection(*modelId, model, alias);
      });
}

// Replays the alias's audit trail: moves push a holder, rollbacks pop one,
// a delete forgets them all.
// A move to the version that holds the alias already (a re-promotion)
// changes no holder, so a rollback after it goes to the one before.
// Each holder keeps the gate report that first put it there, so a rollback
// to it records that report.
llvm::Expected<std::vector<SqlStore::Holder>> SqlStore::aliasHolders(const std::string &model,
                                                                     const std::string &alias) {
  auto events = db_->query("SELECT action, state_after, gate_report_id FROM audit_log"
                           " WHERE model = ? AND alias = ? ORDER BY id",
                           {model, alias});
  if (!events)
    return events.takeError();
  std::vector<Holder> holders;
  for (const SqlRow &event : *events) {
    if (!isAliasAction(event.text(0)))
      continue;
    int version = static_cast<int>(event.integer(1));
    if (event.text(0) == "alias-delete")
      holders.clear();
    else if (event.text(0) == "rollback" && !holders.empty())
      holders.pop_back();
    else if (holders.empty() || holders.back().version != version)
      holders.push_back({version, event.isNull(2) ? 0 : event.integer(2)});
  }
  return holders;
}

llvm::Expected<proto::AliasMove> SqlStore::rollbackAlias(const std::string &model,
                                                         const std::string &alias,
                                                         const std::string &actor,
                                                         const std::string &reason) {
  if (llvm::Error error = validateAliasName(alias))
    return error;
  return inTransaction<proto::AliasMove>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::AliasMove> {
        auto locked = lockExistingAlias(model, alias);
        if (!locked)
          return locked.takeError();
        auto holders = aliasHolders(model, alias);
        if (!holders)
          return holders.takeError();
        if (holders->size() < 2)
          return makeError(ErrorKind::BadInput, model + ": alias '" + alias +
                                                    "' has no previous holder to roll back to");
        const Holder &restored = (*holders)[holders->size() - 2];
        AliasMoveRequest request{
            model, alias,  restored.version, locked->version,      AliasAction::Rollback,
            actor, reason, std::nullopt,     restored.gateReportId};
        auto move = moveAliasInTransaction(locked->modelId, request);
        if (!move)
          return move.takeError();
        return move;
      });
}

llvm::Expected<proto::AliasMove> SqlStore::deleteAlias(const std::string &model,
                                                       const std::string &alias,
                                                       const std::string &actor,
                                                       const std::string &reason) {
  if (llvm::Error error = validateModelName(model))
    return error;
  if (llvm::Error error = validateAliasName(alias))
    return error;
  return inTransaction<proto::AliasMove>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::AliasMove> {
        auto locked = lockExistingAlias(model, alias);
        if (!locked)
          return locked.takeError();
        auto bound = loadProtection(locked->modelId, model, alias);
        if (!bound)
          return bound.takeError();
        if (*bound)
          return makeError(ErrorKind::BadInput,
                           model + "@" + alias + " is protected by policy " +
                               (*bound)->policy_digest() +
                               ": only a promotion through it moves the alias; nothing changed");
        if (llvm::Error error = db_->execute("DELETE FROM aliases WHERE model_id = ? AND alias = ?",
                                             {locked->modelId, alias}))
          return error;
        AuditRecord audit{
            "alias-delete", model, locked->version, alias, std::to_string(locked->version), "",
            reason,         0};
        auto auditId = appendAudit(audit, actor);
        if (!auditId)
          return auditId.takeError();
        proto::AliasMove move;
        move.set_model(model);
        move.set_alias(alias);
        move.set_before(locked->version);
        move.set_action(audit.action);
        move.set_audit_id(*auditId);
        return move;
      });
}

// The typed fields of an event, derived from the text ones its hash covers.
void addTypedFacts(proto::AuditEvent &event) {
  auto versionOf = [](const std::string &text) {
    int version = 0;
    std::from_chars(text.data(), text.data() + text.size(), version);
    return version;
  };
  if (isAliasAction(event.action())) {
    event.set_before_version(versionOf(event.before()));
    event.set_after_version(versionOf(event.after()));
  } else if (event.action() == "refuse") {
    event.set_before_version(versionOf(event.before()));
  } else if (event.action() == "gate-report") {
    event.set_verdict(event.after());
    event.set_baseline(event.before());
    constexpr std::string_view kPolicy = "policy ";
    if (event.reason().starts_with(kPolicy))
      event.set_policy_digest(event.reason().substr(kPolicy.size()));
  }
}

llvm::Expected<std::vector<proto::AuditEvent>>
SqlStore::readAudit(const std::string &where, const std::vector<SqlValue> &params) {
  auto rows = db_->query("SELECT id, occurred_at, actor, action, model, version, alias,"
                         " state_before, state_after, reason, gate_report_id, seq, prev_hash,"
                         " records, hash FROM audit_log " +
                             where,
                         params);
  if (!rows)
    return rows.takeError();
  std::vector<proto::AuditEvent> events;
  for (const SqlRow &row : *rows) {
    proto::AuditEvent event;
    event.set_id(row.integer(0));
    *event.mutable_at() = timestampOf(row.integer(1));
    event.set_actor(row.text(2));
    event.set_action(row.text(3));
    event.set_model(row.text(4));
    event.set_version(static_cast<int>(row.integer(5)));
    event.set_alias(row.text(6));
    event.set_before(row.text(7));
    event.set_after(row.text(8));
    event.set_reason(row.text(9));
    event.set_gate_report_id(row.isNull(10) ? 0 : row.integer(10));
    event.set_seq(row.integer(11));
    event.set_prev_hash(row.text(12));
    event.set_records(row.text(13));
    event.set_hash(row.text(14));
    addTypedFacts(event);
    events.push_back(std::move(event));
  }
  return events;
}

llvm::Expected<proto::AliasHistory> SqlStore::aliasHistory(const std::string &model) {
  return inTransaction<proto::AliasHistory>(
      TransactionMode::Read, [&]() -> llvm::Expected<proto::AliasHistory> {
        if (auto modelId = findModelId(model); !modelId)
          return modelId.takeError();
        auto events = readAudit("WHERE model = ? AND alias <> '' ORDER BY id", {model});
        if (!events)
          return events.takeError();
        proto::AliasHistory history;
        history.set_model(model);
        std::map<std::string, proto::AliasTenure *> open;
        for (const proto::AuditEvent &event : *events) {
          if (!isAliasAction(event.action()))
            continue;
          if (auto it = open.find(event.alias()); it != open.end())
            *it->second->mutable_until() = event.at();
          // A delete ends the tenure and starts none.
          if (event.action() == "alias-delete") {
            open.erase(event.alias());
            continue;
          }
          proto::AliasTenure *tenure = history.add_tenures();
          tenure->set_alias(event.alias());
          tenure->set_version(std::stoi(event.after()));
          *tenure->mutable_since() = event.at();
          tenure->set_action(event.action());
          tenure->set_actor(event.actor());
          tenure->set_reason(event.reason());
          tenure->set_gate_report_id(event.gate_report_id());
          tenure->set_audit_id(event.id());
          open[event.alias()] = tenure;
        }
        return history;
      });
}

llvm::Expected<proto::AuditLog> SqlStore::auditLog(const AuditFilter &filter) {
  return inTransaction<proto::AuditLog>(
      TransactionMode::Read, [&]() -> llvm::Expected<proto::AuditLog> {
        std::string where;
        std::vector<SqlValue> params;
        auto add = [&](const char *condition, SqlValue value) {
          where += (where.empty() ? "WHERE " : " AND ") + std::string(condition);
          params.push_back(std::move(value));
        };
        if (!filter.model.empty())
          add("model = ?", filter.model);
        if (!filter.action.empty())
          add("action = ?", filter.action);
        if (!filter.alias.empty())
          add("alias = ?", filter.alias);
        if (filter.afterId > 0)
          add("id > ?", filter.afterId);
        if (filter.sinceMicros > 0)
          add("occurred_at >= ?", filter.sinceMicros);
        where += " ORDER BY id DESC";
        if (filter.limit > 0)
          where += " LIMIT " + std::to_string(filter.limit);
        auto events = readAudit(where, params);
        if (!events)
          return events.takeError();
        proto::AuditLog log;
        for (auto it = events->rbegin(); it != events->rend(); ++it)
          *log.add_events() = std::move(*it);
        return log;
      });
}

// ---- gate reports ------------------------------------------------------------

llvm::Expected<std::int64_t> SqlStore::insertGateReport(const proto::GateReport &report,
                                                        const std::string &actor) {
  auto candidateSelector = parseExactVersion(report.candidate());
  if (!candidateSelector)
    return candidateSelector.takeError();
  auto candidate = resolve(*candidateSelector);
  if (!candidate)
    return candidate.takeError();
  SqlValue baselineId = nullptr;
  if (!report.baseline().empty()) {
    auto baselineSelector = parseExactVersion(report.baseline());
    if (!baselineSelector)
      return baselineSelector.takeError();
    auto baseline = resolve(*baselineSelector);
    if (!baseline)
      return baseline.takeError();
    baselineId = baseline->id;
  }
  auto id = db_->queryInteger(
      "INSERT INTO gate_reports (candidate_id, baseline_id, policy_digest, verdict, report,"
      " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
      {candidate->id, baselineId, report.policy_digest(), report.verdict(), toJson(report),
       nowMicros(), actor});
  if (!id)
    return id.takeError();
  AuditRecord audit{"gate-report",
                    candidateSelector->name,
                    candidate->version,
                    "",
                    report.baseline(),
                    report.verdict(),
                    "policy " + report.policy_digest(),
                    **id};
  if (auto auditId = appendAudit(audit, actor); !auditId)
    return auditId.takeError();
  return **id;
}

llvm::Expected<proto::StoredGateReport> SqlStore::storeGateReport(const proto::GateReport &report,
                                                                  const std::string &actor) {
  auto id = inTransaction<std::int64_t>(TransactionMode::Write,
                                        [&] { return insertGateReport(report, actor); });
  if (!id)
    return id.takeError();
  return getGateReport(*id);
}

llvm::Expected<proto::StoredGateReport> SqlStore::getGateReport(std::int64_t id) {
  return inTransaction<proto::StoredGateReport>(
      TransactionMode::Read, [&]() -> llvm::Expected<proto::StoredGateReport> {
        auto rows = db_->query(
            "SELECT created_at, created_by, report FROM gate_reports WHERE id = ?", {id});
        if (!rows)
          return rows.takeError();
        if (rows->empty())
          return makeError(ErrorKind::NotFound, "no gate report " + std::to_string(id));
        proto::StoredGateReport stored;
        stored.set_id(id);
        *stored.mutable_created_at() = timestampOf(rows->front().integer(0));
        stored.set_created_by(rows->front().text(1));
        auto status = google::protobuf::util::JsonStringToMessage(rows->front().text(2),
                                                                  stored.mutable_report());
        if (!status.ok())
          return makeError(ErrorKind::Corrupt,
                           "gate report " + std::to_string(id) +
                               " does not parse: " + std::string(status.message()));
        stored.mutable_report()->set_report_id(id);
        return stored;
      });
}

llvm::Expected<proto::GateReportList> SqlStore::listGateReports(const std::string &model) {
  auto ids = inTransaction<std::vector<std::int64_t>>(
      TransactionMode::Read, [&]() -> llvm::Expected<std::vector<std::int64_t>> {
        auto modelId = findModelId(model);
        if (!modelId)
          return modelId.takeError();
        auto rows = db_->query("SELECT r.id FROM gate_reports r JOIN versions v"
                               " ON v.id = r.candidate_id WHERE v.model_id = ? ORDER BY r.id",
                               {*modelId});
        if (!rows)
          return rows.takeError();
        std::vector<std::int64_t> found;
        for (const SqlRow &row : *rows)
          found.push_back(row.integer(0));
        return found;
      });
  if (!ids)
    return ids.takeError();
  proto::GateReportList list;
  list.set_model(model);
  for (std::int64_t id : *ids) {
    auto stored = getGateReport(id);
    if (!stored)
      return stored.takeError();
    *list.add_reports() = std::move(*stored);
  }
  return list;
}

llvm::Expected<std::optional<proto::StoredGateReport>>
SqlStore::findGateReport(const std::string &candidate, const std::string &baseline,
                         const std::string &policyDigest, const std::string &dataDigest) {
  auto ids = inTransaction<std::vector<std::int64_t>>(
      TransactionMode::Read, [&]() -> llvm::Expected<std::vector<std::int64_t>> {
        auto candidateSelector = parseExactVersion(candidate);
        if (!candidateSelector)
          return candidateSelector.takeError();
        auto candidateRow = resolve(*candidateSelector);
        if (!candidateRow)
          return candidateRow.takeError();
        std::string sql = "SELECT id FROM gate_reports WHERE candidate_id = ? AND"
                          " policy_digest = ? AND ";
        std::vector<SqlValue> parameters;
        parameters.emplace_back(candidateRow->id);
        parameters.emplace_back(policyDigest);
        if (baseline.empty()) {
          sql += "baseline_id IS NULL";
        } else {
          auto baselineSelector = parseExactVersion(baseline);
          if (!baselineSelector)
            return baselineSelector.takeError();
          auto baselineRow = resolve(*baselineSelector);
          if (!baselineRow)
            return baselineRow.takeError();
          sql += "baseline_id = ?";
          parameters.push_back(baselineRow->id);
        }
        auto rows = db_->query(sql + " ORDER BY id DESC", parameters);
        if (!rows)
          return rows.takeError();
        std::vector<std::int64_t> found;
        for (const SqlRow &row : *rows)
          found.push_back(row.integer(0));
        return found;
      });
  if (!ids)
    return ids.takeError();
  for (std::int64_t id : *ids) {
    auto stored = getGateReport(id);
    if (!stored)
      return stored.takeError();
    if (stored->report().data_digest() == dataDigest)
      return std::optional<proto::StoredGateReport>(std::move(*stored));
  }
  return std::optional<proto::StoredGateReport>();
}

// ---- consistency check -------------------------------------------------------

const char *const kDatasetColumns =
    "SELECT name, description, digest, files, created_at, created_by FROM datasets ";
// A row of kDatasetColumns; a malformed files line is Corrupt.
llvm::Expected<proto::Dataset> datasetOfRow(const SqlRow &row);

llvm::Error SqlStore::checkArtifacts(proto::CheckReport &report) {
  auto versions = db_->query("SELECT m.name, v.version, v.digest FROM versions v"
                             " JOIN models m ON m.id = v.model_id ORDER BY m.name, v.version");
  if (!versions)
    return versions.takeError();
  std::set<std::string> referenced;
  for (const SqlRow &row : *versions) {
    referenced.insert(row.text(2));
    if (llvm::Error error = artifacts_.verify(row.text(2)))
      report.add_problems(row.text(0) + "@" + row.text(1) + ": " +
                          describeError(std::move(error)).message);
    else
      report.set_artifacts_verified(report.artifacts_verified() + 1);
  }
  report.set_versions(static_cast<int>(versions->size()));
  auto rows = db_->query(std::string(kDatasetColumns) + "ORDER BY name");
  if (!rows)
    return rows.takeError();
  std::vector<proto::Dataset> datasets;
  for (const SqlRow &row : *rows) {
    // One malformed row is a problem to report, not a reason to stop.
    auto one = datasetOfRow(row);
    if (one)
      datasets.push_back(std::move(*one));
    else
      report.add_problems(describeError(one.takeError()).message);
  }
  for (const proto::Dataset &dataset : datasets)
    for (const proto::DatasetFile &file : dataset.files()) {
      referenced.insert(file.digest());
      if (llvm::Error error = artifacts_.verify(file.digest()))
        report.add_problems("dataset " + dataset.name() + "/" + file.name() + ": " +
                            describeError(std::move(error)).message);
      else
        report.set_artifacts_verified(report.artifacts_verified() + 1);
    }
  auto present = artifacts_.listDigests();
  if (!present)
    return present.takeError();
  for (const std::string &digest : *present)
    if (!referenced.contains(digest))
      report.set_orphan_artifacts(report.orphan_artifacts() + 1);
  return llvm::Error::success();
}

llvm::Error SqlStore::checkAliases(proto::CheckReport &report) {
  auto aliases = db_->query("SELECT m.name, a.alias, v.version, v.model_id, a.model_id"
                            " FROM aliases a JOIN models m ON m.id = a.model_id"
                            " LEFT JOIN versions v ON v.id = a.version_id");
  if (!aliases)
    return aliases.takeError();
  report.set_aliases(static_cast<int>(aliases->size()));
  std::map<std::pair<std::string, std::string>, std::string> current;
  for (const SqlRow &row : *aliases) {
    std::string where = row.text(0) + "@" + row.text(1);
    if (row.isNull(2))
      report.add_problems(where + ": alias points at a version that does not exist");
    else if (row.integer(3) != row.integer(4))
      report.add_problems(where + ": alias points at a version of another model");
    current[{row.text(0), row.text(1)}] = row.text(2);
  }
  auto events = db_->query("SELECT model, alias, action, state_after FROM audit_log"
                           " WHERE alias <> '' ORDER BY id");
  if (!events)
    return events.takeError();
  std::map<std::pair<std::string, std::string>, std::string> replayed;
  for (const SqlRow &event : *events)
    if (isAliasAction(event.text(2)))
      replayed[{event.text(0), event.text(1)}] = event.text(3);
  // A replay ending in a delete ("") means the alias must not exist.
  for (const auto &[key, version] : current)
    if (replayed[key] != version)
      report.add_problems(key.first + "@" + key.second + ": alias is at version " + version +
                          (replayed[key].empty()
                               ? std::string(" but the audit log never set it or deleted it")
                               : " but the audit log replays to '" + replayed[key] + "'"));
  for (const auto &[key, version] : replayed)
    if (!version.empty() && !current.contains(key))
      report.add_problems(key.first + "@" + key.second +
                          ": the audit log moved this alias but it does not exist");
  return llvm::Error::success();
}

llvm::Error SqlStore::checkVersionsAndAudit(proto::CheckReport &report) {
  auto models = db_->query("SELECT m.name, count(v.id), coalesce(max(v.version), 0)"
                           " FROM models m LEFT JOIN versions v ON v.model_id = m.id"
                           " GROUP BY m.name ORDER BY m.name");
  if (!models)
    return models.takeError();
  report.set_models(static_cast<int>(models->size()));
  for (const SqlRow &row : *models)
    if (row.integer(1) != row.integer(2))
      report.add_problems(row.text(0) + ": versions are not numbered 1.." + row.text(1));
  auto unaudited =
      db_->query("SELECT m.name, v.version FROM versions v JOIN models m ON m.id = v.model_id"
                 " WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'register'"
                 " AND a.model = m.name AND a.version = v.version)");
  if (!unaudited)
    return unaudited.takeError();
  for (const SqlRow &row : *unaudited)
    report.add_problems(row.text(0) + "@" + row.text(1) + ": no register event in the audit log");
  auto unauditedDatasets = db_->query(
      "SELECT d.name FROM datasets d WHERE NOT EXISTS (SELECT 1 FROM audit_log a"
      " WHERE a.action = 'dataset-register' AND a.state_after = d.name) ORDER BY d.name");
  if (!unauditedDatasets)
    return unauditedDatasets.takeError();
  for (const SqlRow &row : *unauditedDatasets)
    report.add_problems("dataset " + row.text(0) + ": no dataset-register event in the audit log");
  auto events = db_->queryInteger("SELECT count(*) FROM audit_log", {});
  if (!events)
    return events.takeError();
  report.set_audit_events(static_cast<int>(events->value_or(0)));
  return llvm::Error::success();
}

std::string eventName(const ChainedEvent &event) {
  if (event.action == "dataset-register")
    return "audit event #" + std::to_string(event.id) + " (dataset-register " + event.after + ")";
  return "audit event #" + std::to_string(event.id) + " (" + event.action + " " + event.model +
         "@" + std::to_string(event.version) + ")";
}

// What is wrong with one event: its place on the chain, its hash, and the
// records it wrote that the store still holds as that event left them
// (a version's row and lineage and a report body always; tags, an alias's
// target and a bound policy only if no later event rewrote them).
llvm::Expected<std::vector<std::string>> eventProblems(SqlConnection &db, const ChainedEvent &event,
                                                       std::int64_t expectedSeq,
                                                       const std::string &previousHash,
                                                       bool latest) {
  std::vector<std::string> problems;
  if (event.seq != expectedSeq)
    problems.push_back("it is at position " + std::to_string(event.seq) + " of the chain where " +
                       std::to_string(expectedSeq) + " was expected (an event was deleted)");
  if (event.prevHash != previousHash)
    problems.push_back("it links to " + event.prevHash + " but the event before it hashes to " +
                       previousHash);
  if (std::string hash = chainHash(event); hash != event.hash)
    problems.push_back("it was edited: its fields hash to " + hash + ", not to its stored " +
                       event.hash);
  auto current = currentRecords(db, event);
  if (!current)
    return current.takeError();
  for (const auto &[name, digest] : parseRecords(event.records)) {
    if (name == overwritableRecord(event) && !latest)
      continue;
    auto now = current->find(name);
    if (now == current->end())
      problems.push_back("the " + name + " record it wrote is missing");
    else if (now->second != digest)
      problems.push_back("the " + name + " record it wrote was changed");
  }
  return problems;
}

llvm::Error SqlStore::checkChain(proto::CheckReport &report,
                                 const std::optional<ChainHead> &pinned) {
  auto events = readChain(*db_, "ORDER BY seq, id");
  if (!events)
    return events.takeError();
  std::vector<bool> latest = latestWriters(*events);
  std::string previous(kGenesisHash);
  for (size_t i = 0; i < events->size(); ++i) {
    const ChainedEvent &event = (*events)[i];
    auto problems =
        eventProblems(*db_, event, static_cast<std::int64_t>(i + 1), previous, latest[i]);
    if (!problems)
      return problems.takeError();
    if (!problems->empty() && report.first_broken_event() == 0)
      report.set_first_broken_event(event.id);
    for (const std::string &problem : *problems)
      report.add_problems(eventName(event) + ": " + problem);
    previous = event.hash;
  }
  ChainHead held{static_cast<std::int64_t>(events->size()), previous};
  report.set_chain_head(held.text());

  auto head = db_->query("SELECT seq, hash FROM audit_head WHERE id = 1");
  if (!head)
    return head.takeError();
  if (head->empty())
    report.add_problems("audit log: the chain's head row is missing");
  else if (ChainHead recorded{head->front().integer(0), head->front().text(1)};
           recorded.events > held.events)
    report.add_problems("audit log: event " + std::to_string(held.events + 1) +
                        " of the chain is missing: the head records " + recorded.text() +
                        " but the log ends at " + held.text() + " (events were deleted)");
  else if (recorded.text() != held.text())
    report.add_problems("audit log: the head records " + recorded.text() + " but the log ends at " +
                        held.text());

  if (pinned) {
    std::string lost = "the pinned head " + pinned->text() + " is not on the chain: ";
    if (pinned->events > held.events)
      report.add_problems(lost + "the log holds only " + std::to_string(held.events) +
                          " events (history was cut or rewritten)");
    else if (std::string at = pinned->events == 0
                                  ? std::string(kGenesisHash)
                                  : (*events)[static_cast<size_t>(pinned->events - 1)].hash;
             at != pinned->hash)
      report.add_problems(lost + "event " + std::to_string(pinned->events) + " now hashes to " +
                          at + " (history was rewritten)");
  }

  auto unaudited = db_->query("SELECT r.id FROM gate_reports r WHERE NOT EXISTS (SELECT 1"
                              " FROM audit_log a WHERE a.action = 'gate-report'"
                              " AND a.gate_report_id = r.id) ORDER BY r.id");
  if (!unaudited)
    return unaudited.takeError();
  for (const SqlRow &row : *unaudited)
    report.add_problems("gate report #" + row.text(0) + ": no gate-report event in the audit log");
  return llvm::Error::success();
}

llvm::Expected<proto::CheckReport> SqlStore::check(const std::optional<ChainHead> &pinned) {
  if (artifacts_.root().empty())
    return makeError(ErrorKind::BadInput, "check verifies artifacts: pass --artifacts DIR or set "
                                          "GRACEFUL_ARTIFACTS");
  return inTransaction<proto::CheckReport>(
      TransactionMode::Read, [&]() -> llvm::Expected<proto::CheckReport> {
        proto::CheckReport report;
        for (auto step :
             {&SqlStore::checkVersionsAndAudit, &SqlStore::checkArtifacts, &SqlStore::checkAliases})
          if (llvm::Error error = (this->*step)(report))
            return error;
        if (llvm::Error error = checkChain(report, pinned))
          return error;
        report.set_ok(report.problems_size() == 0);
        return report;
      });
}

// ---- datasets ----------------------------------------------------------------

// One "name digest size dtype shape" line per file; "-" for no dtype or
// shape, a shape as "2,64" (a scalar's empty shape is "()").
std::string formatDatasetFiles(const proto::Dataset &dataset) {
  std::string text;
  for (const proto::DatasetFile &file : dataset.files()) {
    std::string shape;
    for (std::int64_t dimension : file.shape())
      shape += (shape.empty() ? "" : ",") + std::to_string(dimension);
    if (file.dtype().empty())
      shape = "-";
    else if (shape.empty())
      shape = "()";
    text += (text.empty() ? "" : "\n") + file.name() + " " + file.digest() + " " +
            std::to_string(file.size_bytes()) + " " +
            (file.dtype().empty() ? std::string("-") : file.dtype()) + " " + shape;
  }
  return text;
}

llvm::Expected<proto::DatasetFile> parseDatasetFile(const std::string &line) {
  std::istringstream fields(line);
  proto::DatasetFile file;
  std::string name, digest, size, dtype, shape, extra;
  // A digest names a path in the artifact store: only a well-formed one.
  if (!(fields >> name >> digest >> size >> dtype >> shape) || (fields >> extra) ||
      !isWellFormedDigest(digest))
    return makeError(ErrorKind::Corrupt, "a file line is malformed: " + line);
  file.set_name(name);
  file.set_digest(digest);
  std::int64_t bytes = 0;
  auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), bytes);
  if (ec != std::errc() || end != size.data() + size.size())
    return makeError(ErrorKind::Corrupt, "a dataset's file line is malformed: " + line);
  file.set_size_bytes(bytes);
  if (dtype != "-")
    file.set_dtype(dtype);
  if (shape != "-" && shape != "()") {
    std::istringstream dimensions(shape);
    for (std::string dimension; std::getline(dimensions, dimension, ',');)
      file.add_shape(std::atoll(dimension.c_str()));
  }
  return file;
}

// Over the files' names and digests, in name order: what makes two
// registrations the same dataset.
std::string datasetDigest(const proto::Dataset &dataset) {
  Sha256Hasher hasher;
  hasher.update("graceful-dataset-v1\n");
  for (const proto::DatasetFile &file : dataset.files())
    hasher.update(file.name() + " " + file.digest() + "\n");
  return hasher.finish();
}

llvm::Expected<proto::Dataset> datasetOfRow(const SqlRow &row) {
  proto::Dataset dataset;
  dataset.set_name(row.text(0));
  dataset.set_description(row.text(1));
  dataset.set_digest(row.text(2));
  std::istringstream lines(row.text(3));
  for (std::string line; std::getline(lines, line);) {
    auto file = parseDatasetFile(line);
    if (!file)
      return makeError(ErrorKind::Corrupt, "dataset " + dataset.name() + ": " +
                                               describeError(file.takeError()).message +
                                               " (the store was edited: graceful check)");
    *dataset.add_files() = std::move(*file);
  }
  *dataset.mutable_created_at() = timestampOf(row.integer(4));
  dataset.set_created_by(row.text(5));
  return dataset;
}

llvm::Expected<std::vector<proto::Dataset>>
SqlStore::readDatasets(const std::string &where, const std::vector<SqlValue> &params) {
  auto rows = db_->query(kDatasetColumns + where, params);
  if (!rows)
    return rows.takeError();
  std::vector<proto::Dataset> datasets;
  for (const SqlRow &row : *rows) {
    auto dataset = datasetOfRow(row);
    if (!dataset)
      return dataset.takeError();
    datasets.push_back(std::move(*dataset));
  }
  return datasets;
}

// Copies the request's files in (before any transaction: if we die before
// the commit they are orphans, never a dataset without its bytes), naming
// those this call created in `created`.
llvm::Expected<SqlStore::StagedDataset>
SqlStore::storeDatasetFiles(const DatasetRequest &request, std::vector<std::string> &created) {
  StagedDataset staged;
  proto::Dataset &dataset = staged.dataset;
  dataset.set_name(request.name);
  dataset.set_description(request.description);
  std::vector<DatasetFileSource> sources = request.files;
  std::sort(sources.begin(), sources.end(),
            [](const auto &a, const auto &b) { return a.name < b.name; });
  for (const DatasetFileSource &source : sources) {
    auto stored = artifacts_.put(source.path);
    if (!stored)
      return stored.takeError();
    if (stored->created)
      created.push_back(stored->digest);
    if (!source.digest.empty() && stored->digest != source.digest)
      return changedWhileRegistered(source.path, source.digest, stored->digest);
    staged.sources.push_back(source.path);
    proto::DatasetFile &file = *dataset.add_files();
    file.set_name(source.name);
    file.set_digest(stored->digest);
    file.set_size_bytes(static_cast<std::int64_t>(stored->sizeBytes));
    file.set_dtype(source.dtype);
    for (std::int64_t dimension : source.shape)
      file.add_shape(dimension);
  }
  dataset.set_digest(datasetDigest(dataset));
  return staged;
}

llvm::Expected<proto::DatasetResult> SqlStore::recordDataset(const StagedDataset &staged,
                                                             const std::string &actor) {
  const proto::Dataset &dataset = staged.dataset;
  return inTransaction<proto::DatasetResult>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::DatasetResult> {
        // Under the chain head's lock (keepArtifact), two registrations of
        // one name are serialised too: the second finds the first's row.
        for (int i = 0; i < dataset.files_size(); ++i)
          if (llvm::Error error =
                  keepArtifact(dataset.files(i).digest(), staged.sources[static_cast<size_t>(i)]))
            return error;
        auto existing = readDatasets("WHERE name = ?" + forUpdate(), {dataset.name()});
        if (!existing)
          return existing.takeError();
        proto::DatasetResult result;
        if (!existing->empty()) {
          if (existing->front().digest() != dataset.digest())
            return makeError(ErrorKind::Conflict,
                             "dataset '" + dataset.name() + "' is registered with other files (" +
                                 existing->front().digest() + ", these are " + dataset.digest() +
                                 "); a dataset never changes: register the new data under a "
                                 "new name");
          *result.mutable_dataset() = std::move(existing->front());
          result.set_existing(true);
          return result;
        }
        if (llvm::Error error = db_->execute(
                "INSERT INTO datasets (name, description, digest, files, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                {dataset.name(), dataset.description(), dataset.digest(),
                 formatDatasetFiles(dataset), nowMicros(), actor}))
          return error;
        AuditRecord audit{"dataset-register", "", 0, "", "", dataset.name(), "", 0};
        if (auto auditId = appendAudit(audit, actor); !auditId)
          return auditId.takeError();
        auto stored = readDatasets("WHERE name = ?", {dataset.name()});
        if (!stored)
          return stored.takeError();
        *result.mutable_dataset() = std::move(stored->at(0));
        return result;
      });
}

llvm::Expected<proto::DatasetResult> SqlStore::registerDataset(const DatasetRequest &request) {
  if (llvm::Error error = validateDatasetName(request.name))
    return error;
  if (request.files.empty())
    return makeError(ErrorKind::BadInput, "dataset '" + request.name + "' names no files");
  std::set<std::string> names;
  for (const DatasetFileSource &file : request.files) {
    if (llvm::Error error = validateDatasetFileName(file.name))
      return error;
    if (!names.insert(file.name).second)
      return makeError(ErrorKind::BadInput,
                       "dataset '" + request.name + "' names file '" + file.name + "' twice");
  }
  std::vector<std::string> created;
  auto staged = storeDatasetFiles(request, created);
  llvm::Expected<proto::DatasetResult> result =
      staged ? recordDataset(*staged, request.actor) : staged.takeError();
  if (!result || result->existing())
    for (const std::string &digest : created)
      discardUnreferenced(digest);
  return result;
}

llvm::Expected<proto::DatasetList> SqlStore::listDatasets() {
  return inTransaction<proto::DatasetList>(TransactionMode::Read,
                                           [&]() -> llvm::Expected<proto::DatasetList> {
                                             auto datasets = readDatasets("ORDER BY name", {});
                                             if (!datasets)
                                               return datasets.takeError();
                                             proto::DatasetList list;
                                             for (proto::Dataset &dataset : *datasets)
                                               *list.add_datasets() = std::move(dataset);
                                             return list;
                                           });
}

llvm::Expected<std::optional<proto::Dataset>> SqlStore::findDataset(const std::string &name) {
  return inTransaction<std::optional<proto::Dataset>>(
      TransactionMode::Read, [&]() -> llvm::Expected<std::optional<proto::Dataset>> {
        auto datasets = readDatasets("WHERE name = ?", {name});
        if (!datasets)
          return datasets.takeError();
        if (datasets->empty())
          return std::optional<proto::Dataset>();
        return std::optional<proto::Dataset>(std::move(datasets->front()));
      });
}

// ---- API tokens --------------------------------------------------------------

const char *const kTokenColumns =
    "SELECT id, subject, role, models, aliases, created_at, created_by, expires_at, revoked_at,"
    " secret_sha256 FROM api_tokens ";

llvm::Expected<std::vector<StoredToken>> SqlStore::readTokens(const std::string &where,
                                                              const std::vector<SqlValue> &params) {
  auto rows = db_->query(kTokenColumns + where, params);
  if (!rows)
    return rows.takeError();
  std::vector<StoredToken> tokens;
  for (const SqlRow &row : *rows) {
    StoredToken stored;
    proto::ApiToken &token = stored.token;
    token.set_id(row.integer(0));
    token.set_subject(row.text(1));
    token.set_role(row.text(2));
    token.set_models(row.text(3));
    token.set_aliases(row.text(4));
    *token.mutable_created_at() = timestampOf(row.integer(5));
    token.set_created_by(row.text(6));
    if (row.integer(7) != 0)
      *token.mutable_expires_at() = timestampOf(row.integer(7));
    if (row.integer(8) != 0)
      *token.mutable_revoked_at() = timestampOf(row.integer(8));
    stored.secretSha256 = row.text(9);
    tokens.push_back(std::move(stored));
  }
  return tokens;
}

llvm::Expected<proto::ApiToken> SqlStore::createToken(const TokenRequest &request) {
  return inTransaction<proto::ApiToken>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::ApiToken> {
        auto id = db_->queryInteger(
            "INSERT INTO api_tokens (subject, role, models, aliases, secret_sha256, created_at,"
            " created_by, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) RETURNING id",
            {request.subject, request.role, request.models, request.aliases, request.secretSha256,
             nowMicros(), request.actor, request.expiresMicros});
        if (!id)
          return id.takeError();
        // The audit line names the grant, never the secret or its hash.
        AuditRecord audit{"token-create",
                          "",
                          0,
                          "",
                          "",
                          "#" + std::to_string(id->value_or(0)) + " " + request.subject + " " +
                              request.role + " models=" + request.models +
                              " aliases=" + request.aliases,
                          "",
                          0};
        if (auto auditId = appendAudit(audit, request.actor); !auditId)
          return auditId.takeError();
        auto tokens = readTokens("WHERE id = ?", {id->value_or(0)});
        if (!tokens)
          return tokens.takeError();
        return tokens->at(0).token;
      });
}

llvm::Expected<proto::ApiTokenList> SqlStore::listTokens() {
  return inTransaction<proto::ApiTokenList>(TransactionMode::Read,
                                            [&]() -> llvm::Expected<proto::ApiTokenList> {
                                              auto tokens = readTokens("ORDER BY id", {});
                                              if (!tokens)
                                                return tokens.takeError();
                                              proto::ApiTokenList list;
                                              for (StoredToken &stored : *tokens)
                                                *list.add_tokens() = std::move(stored.token);
                                              return list;
                                            });
}

llvm::Expected<proto::ApiToken> SqlStore::revokeToken(std::int64_t id, const std::string &actor,
                                                      const std::string &reason) {
  return inTransaction<proto::ApiToken>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::ApiToken> {
        auto tokens = readTokens("WHERE id = ?" + forUpdate(), {id});
        if (!tokens)
          return tokens.takeError();
        if (tokens->empty())
          return makeError(ErrorKind::NotFound, "no token #" + std::to_string(id));
        if (tokens->front().token.has_revoked_at())
          return tokens->front().token;
        if (llvm::Error error = db_->execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?",
                                             {nowMicros(), id}))
          return error;
        AuditRecord audit{"token-revoke",
                          "",
                          0,
                          "",
                          "",
                          "#" + std::to_string(id) + " " + tokens->front().token.subject(),
                          reason,
                          0};
        if (auto auditId = appendAudit(audit, actor); !auditId)
          return auditId.takeError();
        auto revoked = readTokens("WHERE id = ?", {id});
        if (!revoked)
          return revoked.takeError();
        return revoked->at(0).token;
      });
}

llvm::Expected<std::optional<StoredToken>> SqlStore::findToken(std::int64_t id) {
  return inTransaction<std::optional<StoredToken>>(
      TransactionMode::SingleRead, [&]() -> llvm::Expected<std::optional<StoredToken>> {
        auto tokens = readTokens("WHERE id = ?", {id});
        if (!tokens)
          return tokens.takeError();
        if (tokens->empty())
          return std::nullopt;
        return std::move(tokens->front());
      });
}

llvm::Error SqlStore::recordDenial(const DenialRecord &denial) {
  auto id = inTransaction<std::int64_t>(TransactionMode::Write, [&] {
    return appendAudit({"deny", denial.model, 0, denial.alias, "", "", denial.what, 0},
                       denial.actor);
  });
  return id ? llvm::Error::success() : id.takeError();
}

// ---- refusals and webhooks ---------------------------------------------------

llvm::Expected<std::int64_t> SqlStore::recordRefusal(const RefusalRequest &request) {
  return inTransaction<std::int64_t>(TransactionMode::Write, [&]() -> llvm::Expected<std::int64_t> {
    std::int64_t reportId = request.storedGateReportId;
    if (request.gateReport) {
      auto stored = insertGateReport(*request.gateReport, request.actor);
      if (!stored)
        return stored.takeError();
      reportId = *stored;
    }
    AuditRecord audit{"refuse",
                      request.model,
                      request.version,
                      request.alias,
                      request.holder ? std::to_string(request.holder) : "",
                      "",
                      request.reason,
                      reportId};
    if (auto auditId = appendAudit(audit, request.actor); !auditId)
      return auditId.takeError();
    return reportId;
  });
}

llvm::Expected<proto::Webhook> SqlStore::webhookById(std::int64_t id) {
  auto webhooks = webhook_queue::readWebhooks(*db_, "WHERE id = ?", {id});
  if (!webhooks)
    return webhooks.takeError();
  if (webhooks->empty())
    return makeError(ErrorKind::NotFound, "no webhook #" + std::to_string(id));
  return std::move(webhooks->front());
}

// What an audit line may say of a webhook's URL: its origin. The path and
// query can hold a receiver's own secret (chat services put it there), and
// every reader sees the audit log.
std::string urlOrigin(const std::string &url) {
  size_t scheme = url.find("://");
  size_t path = scheme == std::string::npos ? url.size() : url.find_first_of("/?#", scheme + 3);
  return url.substr(0, path);
}

llvm::Expected<proto::Webhook> SqlStore::createWebhook(const WebhookRequest &request) {
  return inTransaction<proto::Webhook>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::Webhook> {
        auto id = webhook_queue::insertWebhook(*db_, request, nowMicros());
        if (!id)
          return id.takeError();
        AuditRecord audit{"webhook-create",
                          "",
                          0,
                          "",
                          "",
                          "#" + std::to_string(*id) + " " + urlOrigin(request.url) +
                              " models=" + request.models + " aliases=" + request.aliases +
                              " events=" + webhook_queue::joinEvents(request.events),
                          "",
                          0};
        if (auto auditId = appendAudit(audit, request.actor); !auditId)
          return auditId.takeError();
        auto webhook = webhookById(*id);
        if (webhook)
          webhook->set_secret(request.secret);
        return webhook;
      });
}

llvm::Expected<proto::WebhookList> SqlStore::listWebhooks() {
  return inTransaction<proto::WebhookList>(
      TransactionMode::Read, [&]() -> llvm::Expected<proto::WebhookList> {
        auto webhooks = webhook_queue::readWebhooks(*db_, "ORDER BY id", {});
        if (!webhooks)
          return webhooks.takeError();
        proto::WebhookList list;
        for (proto::Webhook &webhook : *webhooks)
          *list.add_webhooks() = std::move(webhook);
        return list;
      });
}

llvm::Expected<proto::Webhook> SqlStore::deleteWebhook(std::int64_t id, const std::string &actor,
                                                       const std::string &reason) {
  return inTransaction<proto::Webhook>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::Webhook> {
        // The chain head first, as every writer takes it: one that appends
        // an event then queues deliveries, which reference this row.
        if (llvm::Error error = lockChainHead())
          return error;
        auto webhooks = webhook_queue::readWebhooks(*db_, "WHERE id = ?" + forUpdate(), {id});
        if (!webhooks)
          return webhooks.takeError();
        if (webhooks->empty())
          return makeError(ErrorKind::NotFound, "no webhook #" + std::to_string(id));
        if (webhooks->front().has_deleted_at())
          return std::move(webhooks->front());
        if (llvm::Error error = webhook_queue::markDeleted(*db_, id, nowMicros()))
          return error;
        AuditRecord audit{"webhook-delete",
                          "",
                          0,
                          "",
                          "",
                          "#" + std::to_string(id) + " " + urlOrigin(webhooks->front().url()),
                          reason,
                          0};
        if (auto auditId = appendAudit(audit, actor); !auditId)
          return auditId.takeError();
        return webhookById(id);
      });
}

llvm::Expected<proto::WebhookDeliveryList> SqlStore::listDeliveries(const DeliveryFilter &filter) {
  return inTransaction<proto::WebhookDeliveryList>(
      TransactionMode::Read, [&]() -> llvm::Expected<proto::WebhookDeliveryList> {
        std::string where = "WHERE 1 = 1";
        std::vector<SqlValue> params;
        if (filter.webhookId != 0) {
          where += " AND webhook_id = ?";
          params.emplace_back(filter.webhookId);
        }
        if (!filter.status.empty()) {
          where += " AND status = ?";
          params.emplace_back(filter.status);
        }
        where += " ORDER BY id DESC";
        if (filter.limit > 0) {
          where += " LIMIT ?";
          params.emplace_back(std::int64_t{filter.limit});
        }
        auto deliveries = webhook_queue::readDeliveries(*db_, where, params);
        if (!deliveries)
          return deliveries.takeError();
        proto::WebhookDeliveryList list;
        // Oldest first, as the audit log lists its events.
        for (auto it = deliveries->rbegin(); it != deliveries->rend(); ++it)
          *list.add_deliveries() = std::move(*it);
        return list;
      });
}

// A claimed delivery with its webhook's URL and secret and its body, made
// from the audit event it announces.
llvm::Expected<DueDelivery> SqlStore::dueDelivery(proto::WebhookDelivery delivery) {
  auto webhooks = webhook_queue::readWebhooks(*db_, "WHERE id = ?", {delivery.webhook_id()}, true);
  if (!webhooks)
    return webhooks.takeError();
  auto events = readAudit("WHERE id = ?", {delivery.audit_id()});
  if (!events)
    return events.takeError();
  if (webhooks->empty() || events->empty())
    return makeError(ErrorKind::Corrupt, describe() + ": webhook delivery #" +
                                             std::to_string(delivery.id()) +
                                             " names a webhook or audit event that is not there");
  proto::WebhookEvent body;
  body.set_event(delivery.event());
  body.set_delivery_id(delivery.id());
  body.set_webhook_id(delivery.webhook_id());
  *body.mutable_audit_event() = std::move(events->front());
  DueDelivery due{std::move(delivery), webhooks->front().url(), webhooks->front().secret(),
                  toJson(body)};
  return due;
}

llvm::Expected<std::vector<DueDelivery>>
SqlStore::claimDeliveries(std::int64_t nowMicros, int limit, std::int64_t leaseUntilMicros) {
  // Most polls find nothing: they ask in a read, so they take no write lock.
  auto anything = inTransaction<bool>(TransactionMode::Read,
                                      [&] { return webhook_queue::anyDue(*db_, nowMicros); });
  if (!anything)
    return anything.takeError();
  if (!*anything)
    return std::vector<DueDelivery>();
  return inTransaction<std::vector<DueDelivery>>(
      TransactionMode::Write, [&]() -> llvm::Expected<std::vector<DueDelivery>> {
        auto leased = webhook_queue::leaseDue(*db_, nowMicros, limit, leaseUntilMicros);
        if (!leased)
          return leased.takeError();
        std::vector<DueDelivery> due;
        for (proto::WebhookDelivery &delivery : *leased) {
          auto claimed = dueDelivery(std::move(delivery));
          if (!claimed)
            return claimed.takeError();
          claimed->leaseUntilMicros = leaseUntilMicros;
          due.push_back(std::move(*claimed));
        }
        return due;
      });
}

llvm::Expected<proto::WebhookDelivery> SqlStore::deliveryById(std::int64_t id) {
  auto deliveries = webhook_queue::readDeliveries(*db_, "WHERE id = ?", {id});
  if (!deliveries)
    return deliveries.takeError();
  if (deliveries->empty())
    return makeError(ErrorKind::NotFound, "no webhook delivery #" + std::to_string(id));
  return std::move(deliveries->front());
}

llvm::Expected<proto::WebhookDelivery>
SqlStore::recordDeliveryAttempt(const DeliveryOutcome &outcome) {
  return inTransaction<proto::WebhookDelivery>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::WebhookDelivery> {
        auto recorded = webhook_queue::recordAttempt(*db_, outcome, nowMicros());
        if (!recorded)
          return recorded.takeError();
        return deliveryById(outcome.id);
      });
}

llvm::Expected<proto::WebhookDelivery> SqlStore::redeliver(std::int64_t id,
                                                           const std::string &actor) {
  return inTransaction<proto::WebhookDelivery>(
      TransactionMode::Write, [&]() -> llvm::Expected<proto::WebhookDelivery> {
        auto delivery = deliveryById(id);
        if (!delivery)
          return delivery.takeError();
        auto why = webhook_queue::whyNotRequeued(*db_, id, nowMicros());
        if (!why)
          return why.takeError();
        if (!why->empty())
          return makeError(ErrorKind::Conflict, "webhook delivery #" + std::to_string(id) +
                                                    " is not sent again: " + *why);
        if (llvm::Error error = webhook_queue::requeue(*db_, id, nowMicros()))
          return error;
        AuditRecord audit{"webhook-redeliver",
                          delivery->model(),
                          0,
                          delivery->alias(),
                          delivery->status(),
                          "#" + std::to_string(id) + " " + delivery->event(),
                          "",
                          0};
        if (auto auditId = appendAudit(audit, actor); !auditId)
          return auditId.takeError();
        return deliveryById(id);
      });
}

// ---- opening -----------------------------------------------------------------

struct Location {
  std::unique_ptr<SqlConnection> connection;
  std::string artifactsDir;
};

llvm::Expected<Location> connect(const StoreConfig &config, OpenMode mode) {
  constexpr std::string_view kSqlite = "sqlite:";
  Location location;
  location.artifactsDir = config.artifactsDir;
  if (config.uri.starts_with(kSqlite)) {
    std::string path = config.uri.substr(kSqlite.size());
    if (path.empty())
      return makeError(ErrorKind::BadInput, "store URI 'sqlite:' names no file");
    std::string directory = std::filesystem::path(path).parent_path().string();
    if (location.artifactsDir.empty())
      location.artifactsDir =
          (std::filesystem::path(directory.empty() ? "." : directory) / "artifacts").string();
    if (mode == OpenMode::CreateIfMissing && !directory.empty())
      if (llvm::Error error = createDirectories(directory))
        return error;
    auto connection = openSqlite(path, mode, config.busyTimeoutMs);
    if (!connection)
      return connection.takeError();
    location.connection = std::move(*connection);
    return location;
  }
  if (config.uri.starts_with("postgresql://") || config.uri.starts_with("postgres://")) {
    // Reading metadata (list, show, history, audit) needs no artifacts.
    if (location.artifactsDir.empty() && mode != OpenMode::ReadOnly)
      return makeError(ErrorKind::BadInput,
                       "a PostgreSQL store needs an artifact directory: pass --artifacts DIR "
                       "or set GRACEFUL_ARTIFACTS");
    auto connection = openPostgres(config.uri, config.busyTimeoutMs);
    if (!connection)
      return connection.takeError();
    location.connection = std::move(*connection);
    return location;
  }
  return makeError(ErrorKind::BadInput, "unknown store URI '" + config.uri +
                                            "': expected sqlite:PATH or postgresql://...");
}

} // namespace

std::string_view aliasActionName(AliasAction action) {
  switch (action) {
  case AliasAction::Move:
    return "alias-move";
  case AliasAction::Promote:
    return "promote";
  case AliasAction::Override:
    // What the flag is called (--force); stores written before say "override".
    return "force";
  case AliasAction::Rollback:
    return "rollback";
  }
  return "alias-move";
}

std::string ChainHead::text() const { return std::to_string(events) + ":" + hash; }

llvm::Expected<ChainHead> parseChainHead(std::string_view text) {
  size_t colon = text.find(':');
  ChainHead head;
  std::string_view count = text.substr(0, colon);
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), head.events);
  if (colon == std::string_view::npos || ec != std::errc() || end != count.data() + count.size() ||
      head.events < 0 || !isWellFormedDigest(text.substr(colon + 1)))
    return makeError(ErrorKind::BadInput,
                     "chain head '" + std::string(text.substr(0, 100)) +
                         "': expected N:sha256:<64 hex digits>, as `graceful check --head` prints");
  head.hash = std::string(text.substr(colon + 1));
  return head;
}

StoreConfig storeConfigFromEnvironment(const std::string &uri, const std::string &artifacts) {
  StoreConfig config;
  auto pick = [](const std::string &given, const char *variable, std::string fallback) {
    if (!given.empty())
      return given;
    const char *value = std::getenv(variable);
    return value != nullptr && *value != '\0' ? std::string(value) : fallback;
  };
  config.uri = pick(uri, "GRACEFUL_STORE", config.uri);
  config.artifactsDir = pick(artifacts, "GRACEFUL_ARTIFACTS", "");
  std::string timeout = pick("", "GRACEFUL_BUSY_TIMEOUT_MS", "");
  if (!timeout.empty())
    config.busyTimeoutMs = std::max(1, std::atoi(timeout.c_str()));
  return config;
}

llvm::Expected<proto::ModelVersion> Store::registerVersion(const RegisterRequest &request) {
  auto result = registerModel(request);
  if (!result)
    return result.takeError();
  return std::move(*result->mutable_version());
}

llvm::Expected<std::unique_ptr<Store>> openStore(const StoreConfig &config) {
  auto location = connect(config, config.readOnly ? OpenMode::ReadOnly : OpenMode::Existing);
  if (!location)
    return location.takeError();
  if (llvm::Error error = requireCurrentSchema(*location->connection))
    return error;
  return std::unique_ptr<Store>(
      std::make_unique<SqlStore>(std::move(location->connection), location->artifactsDir));
}

llvm::Expected<std::unique_ptr<Store>> initStore(const StoreConfig &config) {
  auto location = connect(config, OpenMode::CreateIfMissing);
  if (!location)
    return location.takeError();
  if (llvm::Error error = migrate(*location->connection))
    return error;
  if (llvm::Error error = createDirectories(location->artifactsDir))
    return error;
  return std::unique_ptr<Store>(
      std::make_unique<SqlStore>(std::move(location->connection), location->artifactsDir));
}

} // namespace graceful::registry
