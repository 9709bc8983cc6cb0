// The audit log as a hash chain. Every event carries its position on the
// chain (seq, 1, 2, ...), the hash of the event before it, the digests of
// the records it wrote (its version row, lineage and tags, a tag set, an
// alias's target, a gate report's body) and its own hash over all of that.
// The one-row audit_head table holds the newest position and hash. Editing,
// inserting or deleting a record or an event breaks a hash that `check`
// recomputes; rewriting the whole chain consistently moves the head, which a
// pipeline that pinned it (`check --head`, `check --expect-head`) notices.
#pragma once

#include "sql_connection.h"

#include <cstdint>
#include <llvm/Support/Error.h>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace graceful::registry {

// prev_hash of the first event.
inline constexpr std::string_view kGenesisHash =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

// One event as the chain hashes it.
struct ChainedEvent {
  std::int64_t id = 0; // the row's id (what `audit` shows); not hashed
  std::int64_t seq = 0;
  std::string prevHash;
  std::int64_t occurredAt = 0;
  std::string actor;
  std::string action;
  std::string model;
  std::int64_t version = 0;
  std::string alias;
  std::string before;
  std::string after;
  std::string reason;
  std::int64_t gateReportId = 0;
  std::string records; // formatRecords(...)
  std::string hash;    // as stored
};

// The SHA-256 over every field above except id and hash.
std::string chainHash(const ChainedEvent &event);

// Record digests by component: version, lineage, tags, alias, policy,
// model, report, dataset.
// Stored as "name sha256:..." lines in name order.
using RecordDigests = std::map<std::string, std::string>;
std::string formatRecords(const RecordDigests &records);
RecordDigests parseRecords(std::string_view text);

// The digests of the records an event of this kind writes, as they stand
// in the database now; a record that does not exist is left out. Assumes
// an open transaction on `db`.
llvm::Expected<RecordDigests> currentRecords(SqlConnection &db, const ChainedEvent &event);

// Whether an action moves an alias (and so writes the alias record; an
// alias-delete leaves it out, there being no alias left).
// The actions that move, set or delete an alias.
std::span<const std::string_view> aliasActions();
bool isAliasAction(std::string_view action);
// Whether an action sets a model's own description or tags (and so writes
// the model record: its description and tags together).
bool isModelInfoAction(std::string_view action);

// The columns readChain selects, and the rows it reads in `order` (an ORDER
// BY clause). Assumes an open transaction.
llvm::Expected<std::vector<ChainedEvent>> readChain(SqlConnection &db, std::string_view order);

// The record of an event that later events can overwrite: "tags" (a
// version's tags), "alias" (an alias's target), "policy" (an alias's bound
// policy), "model" (a model's description and tags); "" for none.
std::string overwritableRecord(const ChainedEvent &event);

// For each event, whether no later event overwrote its overwritable record:
// only then does the database still hold what the event wrote there.
std::vector<bool> latestWriters(const std::vector<ChainedEvent> &events);

// Assigns seq, prev_hash, records and hash to events written before the
// chain existed, in id order, and sets the head. Their records are hashed
// as the database holds them now; a record a later event overwrote is left
// out. Assumes an open write transaction with UPDATE allowed on audit_log.
llvm::Error chainExistingEvents(SqlConnection &db);

} // namespace graceful::registry
