// The store's schema and its migrations, applied in order inside one write
// transaction; the schema_version table records how far a store has come.
#pragma once

#include "sql_connection.h"

namespace graceful::registry {

// The schema version this build of graceful reads and writes.
// 1: the first schema; 2: the audit log is a hash chain (audit_chain.h)
// and aliases can be protected by a bound policy; 3: models have a
// description and tags of their own; 4: API tokens for `graceful serve`,
// kept as hashes; 5: datasets; 6: webhooks and their queued deliveries.
inline constexpr int kSchemaVersion = 6;

// 0 for a database without our schema.
llvm::Expected<int> readSchemaVersion(SqlConnection &connection);

// Creates or upgrades the schema to `toVersion` (tests build older stores
// with a smaller one); refuses a store written by a newer graceful.
llvm::Error migrate(SqlConnection &connection, int toVersion = kSchemaVersion);

// Fails unless the store is at kSchemaVersion.
llvm::Error requireCurrentSchema(SqlConnection &connection);

} // namespace graceful::registry
