#include "schema.h"

#include "audit_chain.h"
#include "graceful/support/error.h"

#include <string>
#include <vector>

namespace graceful::registry {
namespace {

// Statements use {ID} for an auto-numbered primary key.
const char *const kVersion1Tables[] = {
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE models ("
    " id {ID}, name TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)",
    "CREATE TABLE versions ("
    " id {ID}, model_id BIGINT NOT NULL REFERENCES models(id), version INTEGER NOT NULL,"
    " digest TEXT NOT NULL, size_bytes BIGINT NOT NULL, created_at BIGINT NOT NULL,"
    " created_by TEXT NOT NULL, description TEXT NOT NULL, UNIQUE (model_id, version))",
    "CREATE TABLE version_tags ("
    " version_id BIGINT NOT NULL REFERENCES versions(id), tag_key TEXT NOT NULL,"
    " tag_value TEXT NOT NULL, PRIMARY KEY (version_id, tag_key))",
    "CREATE TABLE lineage ("
    " child_id BIGINT NOT NULL REFERENCES versions(id),"
    " parent_id BIGINT NOT NULL REFERENCES versions(id), kind TEXT NOT NULL,"
    " PRIMARY KEY (child_id, parent_id, kind))",
    "CREATE INDEX lineage_by_parent ON lineage (parent_id)",
    "CREATE TABLE gate_reports ("
    " id {ID}, candidate_id BIGINT NOT NULL REFERENCES versions(id),"
    " baseline_id BIGINT REFERENCES versions(id), policy_digest TEXT NOT NULL,"
    " verdict TEXT NOT NULL, report TEXT NOT NULL, created_at BIGINT NOT NULL,"
    " created_by TEXT NOT NULL)",
    "CREATE TABLE aliases ("
    " model_id BIGINT NOT NULL REFERENCES models(id), alias TEXT NOT NULL,"
    " version_id BIGINT NOT NULL REFERENCES versions(id), updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (model_id, alias))",
    "CREATE TABLE audit_log ("
    " id {ID}, occurred_at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
    " model TEXT NOT NULL, version INTEGER NOT NULL, alias TEXT NOT NULL,"
    " state_before TEXT NOT NULL, state_after TEXT NOT NULL, reason TEXT NOT NULL,"
    " gate_report_id BIGINT REFERENCES gate_reports(id))",
    "CREATE INDEX audit_log_by_model ON audit_log (model, alias)",
};

// The audit log and gate reports are append-only: the database itself
// refuses to change or delete their rows.
const char *const kSqliteAuditNoUpdate =
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END";
const char *const kSqliteImmutability[] = {
    kSqliteAuditNoUpdate,
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER gate_reports_no_update BEFORE UPDATE ON gate_reports"
    " BEGIN SELECT RAISE(ABORT, 'gate_reports is append-only'); END",
    "CREATE TRIGGER gate_reports_no_delete BEFORE DELETE ON gate_reports"
    " BEGIN SELECT RAISE(ABORT, 'gate_reports is append-only'); END",
};

const char *const kPostgresAuditAppendOnly =
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION graceful_refuse_change()";
const char *const kPostgresImmutability[] = {
    "CREATE FUNCTION graceful_refuse_change() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
    kPostgresAuditAppendOnly,
    "CREATE TRIGGER gate_reports_append_only BEFORE UPDATE OR DELETE ON gate_reports"
    " FOR EACH ROW EXECUTE FUNCTION graceful_refuse_change()",
};

// Version 2: the audit log becomes a hash chain (audit_chain.h).
const char *const kVersion2Chain[] = {
    "ALTER TABLE audit_log ADD COLUMN seq BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE audit_log ADD COLUMN records TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT ''",
    "CREATE TABLE audit_head ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL)",
    // Protected aliases: the policy bound to each; files holds one
    // "digest path" line per data file the policy names.
    "CREATE TABLE alias_policies ("
    " model_id BIGINT NOT NULL REFERENCES models(id), alias TEXT NOT NULL,"
    " policy_digest TEXT NOT NULL, policy TEXT NOT NULL, policy_path TEXT NOT NULL,"
    " files TEXT NOT NULL, created_at BIGINT NOT NULL, created_by TEXT NOT NULL,"
    " PRIMARY KEY (model_id, alias))",
};

// Version 3: a model's own description and tags (`model describe`, `model
// tag`), beside each version's.
const char *const kVersion3ModelInfo[] = {
    "ALTER TABLE models ADD COLUMN description TEXT NOT NULL DEFAULT ''",
    "CREATE TABLE model_tags ("
    " model_id BIGINT NOT NULL REFERENCES models(id), tag_key TEXT NOT NULL,"
    " tag_value TEXT NOT NULL, PRIMARY KEY (model_id, tag_key))",
};

// Version 4: bearer tokens of `graceful serve`. Only the SHA-256 of a
// token's secret is stored, so a copy of the database grants nothing.
const char *const kVersion4Tokens[] = {
    "CREATE TABLE api_tokens ("
    " id {ID}, subject TEXT NOT NULL, role TEXT NOT NULL, models TEXT NOT NULL,"
    " aliases TEXT NOT NULL, secret_sha256 TEXT NOT NULL, created_at BIGINT NOT NULL,"
    " created_by TEXT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL)",
};

// Version 5: datasets, content-addressed evaluation data that policies name
// as dataset:NAME/FILE. files holds one "name digest size dtype shape" line
// per file. Like gate reports, a dataset never changes once registered.
const char *const kVersion5Datasets[] = {
    "CREATE TABLE datasets ("
    " id {ID}, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL, digest TEXT NOT NULL,"
    " files TEXT NOT NULL, created_at BIGINT NOT NULL, created_by TEXT NOT NULL)",
};
const char *const kSqliteDatasetsImmutable[] = {
    "CREATE TRIGGER datasets_no_update BEFORE UPDATE ON datasets"
    " BEGIN SELECT RAISE(ABORT, 'datasets is append-only'); END",
    "CREATE TRIGGER datasets_no_delete BEFORE DELETE ON datasets"
    " BEGIN SELECT RAISE(ABORT, 'datasets is append-only'); END",
};
const char *const kPostgresDatasetsImmutable =
    "CREATE TRIGGER datasets_append_only BEFORE UPDATE OR DELETE ON datasets"
    " FOR EACH ROW EXECUTE FUNCTION graceful_refuse_change()";

// Version 6: webhooks and the deliveries queued for them. A delivery row
// is written in the transaction of the audit event it announces; its body
// is made from that (append-only) event when it is sent.
const char *const kVersion6Webhooks[] = {
    "CREATE TABLE webhooks ("
    " id {ID}, url TEXT NOT NULL, models TEXT NOT NULL, aliases TEXT NOT NULL,"
    " events TEXT NOT NULL, secret TEXT NOT NULL, created_at BIGINT NOT NULL,"
    " created_by TEXT NOT NULL, deleted_at BIGINT NOT NULL)",
    "CREATE TABLE webhook_deliveries ("
    " id {ID}, webhook_id BIGINT NOT NULL REFERENCES webhooks(id),"
    " audit_id BIGINT NOT NULL REFERENCES audit_log(id), event TEXT NOT NULL,"
    " model TEXT NOT NULL, alias TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " created_at BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL, lease_until BIGINT NOT NULL,"
    " last_attempt_at BIGINT NOT NULL, last_response TEXT NOT NULL,"
    " delivered_at BIGINT NOT NULL)",
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
};

std::string forDialect(std::string statement, SqlDialect dialect) {
  const std::string placeholder = "{ID}";
  const std::string id =
      dialect == SqlDialect::Sqlite ? "INTEGER PRIMARY KEY" : "BIGSERIAL PRIMARY KEY";
  for (size_t at = statement.find(placeholder); at != std::string::npos;
       at = statement.find(placeholder))
    statement.replace(at, placeholder.size(), id);
  return statement;
}

llvm::Error executeAll(SqlConnection &connection, const std::vector<std::string> &statements) {
  for (const std::string &statement : statements)
    if (llvm::Error error = connection.execute(statement))
      return error;
  return llvm::Error::success();
}

llvm::Error migrateToVersion1(SqlConnection &connection) {
  std::vector<std::string> statements;
  for (const char *statement : kVersion1Tables)
    statements.push_back(forDialect(statement, connection.dialect()));
  if (connection.dialect() == SqlDialect::Sqlite)
    statements.insert(statements.end(), std::begin(kSqliteImmutability),
                      std::end(kSqliteImmutability));
  else
    statements.insert(statements.end(), std::begin(kPostgresImmutability),
                      std::end(kPostgresImmutability));
  statements.push_back("INSERT INTO schema_version (version) VALUES (0)");
  return executeAll(connection, statements);
}

// Existing events are chained in id order; the append-only trigger is
// lifted for that one UPDATE inside the migration's transaction.
llvm::Error migrateToVersion2(SqlConnection &connection) {
  bool sqlite = connection.dialect() == SqlDialect::Sqlite;
  std::vector<std::string> statements(std::begin(kVersion2Chain), std::end(kVersion2Chain));
  statements.push_back(sqlite ? "DROP TRIGGER audit_log_no_update"
                              : "DROP TRIGGER audit_log_append_only ON audit_log");
  if (llvm::Error error = executeAll(connection, statements))
    return error;
  if (llvm::Error error = chainExistingEvents(connection))
    return error;
  return executeAll(connection, {"CREATE UNIQUE INDEX audit_log_by_seq ON audit_log (seq)",
                                 sqlite ? kSqliteAuditNoUpdate : kPostgresAuditAppendOnly});
}

llvm::Error migrateToVersion3(SqlConnection &connection) {
  return executeAll(connection, std::vector<std::string>(std::begin(kVersion3ModelInfo),
                                                         std::end(kVersion3ModelInfo)));
}

llvm::Error migrateToVersion4(SqlConnection &connection) {
  std::vector<std::string> statements;
  for (const char *statement : kVersion4Tokens)
    statements.push_back(forDialect(statement, connection.dialect()));
  return executeAll(connection, statements);
}

llvm::Error migrateToVersion5(SqlConnection &connection) {
  std::vector<std::string> statements;
  for (const char *statement : kVersion5Datasets)
    statements.push_back(forDialect(statement, connection.dialect()));
  if (connection.dialect() == SqlDialect::Sqlite)
    statements.insert(statements.end(), std::begin(kSqliteDatasetsImmutable),
                      std::end(kSqliteDatasetsImmutable));
  else
    statements.push_back(kPostgresDatasetsImmutable);
  return executeAll(connection, statements);
}

llvm::Error migrateToVersion6(SqlConnection &connection) {
  std::vector<std::string> statements;
  for (const char *statement : kVersion6Webhooks)
    statements.push_back(forDialect(statement, connection.dialect()));
  return executeAll(connection, statements);
}

struct Migration {
  int toVersion;
  llvm::Error (*apply)(SqlConnection &);
};
const Migration kMigrations[] = {{1, &migrateToVersion1}, {2, &migrateToVersion2},
                                 {3, &migrateToVersion3}, {4, &migrateToVersion4},
                                 {5, &migrateToVersion5}, {6, &migrateToVersion6}};

} // namespace

llvm::Expected<int> readSchemaVersion(SqlConnection &connection) {
  const char *tableExists =
      connection.dialect() == SqlDialect::Sqlite
          ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
          : "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name = 'schema_version'";
  auto exists = connection.queryInteger(tableExists, {});
  if (!exists)
    return exists.takeError();
  if (exists->value_or(0) == 0)
    return 0;
  auto version = connection.queryInteger("SELECT max(version) FROM schema_version", {});
  if (!version)
    return version.takeError();
  return static_cast<int>(version->value_or(0));
}

llvm::Error migrate(SqlConnection &connection, int toVersion) {
  auto transaction = Transaction::begin(connection, TransactionMode::Write);
  if (!transaction)
    return transaction.takeError();
  // Two concurrent `init`s on PostgreSQL must not both create tables.
  if (connection.dialect() == SqlDialect::Postgres)
    if (llvm::Error error = connection.execute("SELECT pg_advisory_xact_lock(7151)"))
      return error;
  llvm::Expected<int> current = readSchemaVersion(connection);
  if (!current)
    return current.takeError();
  if (*current > kSchemaVersion)
    return makeError(ErrorKind::StoreUnavailable,
                     connection.describe() + ": store has schema version " +
                         std::to_string(*current) + ", newer than this graceful's " +
                         std::to_string(kSchemaVersion) + "; upgrade graceful");
  for (const Migration &migration : kMigrations) {
    if (migration.toVersion <= *current || migration.toVersion > toVersion)
      continue;
    if (llvm::Error error = migration.apply(connection))
      return error;
    if (llvm::Error error = connection.execute("UPDATE schema_version SET version = ?",
                                               {std::int64_t{migration.toVersion}}))
      return error;
  }
  return transaction->commit();
}

llvm::Error requireCurrentSchema(SqlConnection &connection) {
  auto transaction = Transaction::begin(connection, TransactionMode::Read);
  if (!transaction)
    return transaction.takeError();
  llvm::Expected<int> version = readSchemaVersion(connection);
  if (!version)
    return version.takeError();
  if (*version == kSchemaVersion)
    return transaction->commit();
  if (*version == 0)
    return makeError(ErrorKind::NotFound,
                     connection.describe() + ": no registry here (run `graceful init` first)");
  std::string relation = *version < kSchemaVersion ? "older" : "newer";
  std::string advice =
      *version < kSchemaVersion ? "run `graceful init` to migrate it" : "upgrade graceful";
  return makeError(ErrorKind::StoreUnavailable,
                   connection.describe() + ": store has schema version " +
                       std::to_string(*version) + ", " + relation + " than this graceful's " +
                       std::to_string(kSchemaVersion) + "; " + advice);
}

} // namespace graceful::registry
