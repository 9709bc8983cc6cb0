#include "audit_chain.h"

#include "graceful/support/digest.h"

#include <algorithm>
#include <sstream>
#include <tuple>

namespace graceful::registry {
namespace {

// Each field as its length, a colon and its bytes: no two field lists
// encode alike, whatever bytes the fields hold.
class CanonicalHasher {
public:
  CanonicalHasher &add(std::string_view field) {
    hasher_.update(std::to_string(field.size()));
    hasher_.update(":");
    hasher_.update(field);
    return *this;
  }
  CanonicalHasher &add(std::int64_t field) { return add(std::to_string(field)); }
  std::string finish() { return hasher_.finish(); }

private:
  Sha256Hasher hasher_;
};

// Every row of `rows`, all columns, in the order the query gives.
std::string digestRows(std::string_view kind, const SqlRows &rows, size_t columns) {
  CanonicalHasher hasher;
  hasher.add(kind).add(static_cast<std::int64_t>(rows.size()));
  for (const SqlRow &row : rows)
    for (size_t column = 0; column < columns; ++column)
      hasher.add(row.isNull(column) ? std::string_view("\x01null") : row.text(column));
  return hasher.finish();
}

// Adds `name` -> digest of the rows `sql` returns (left out when the query
// returns none and `requireRow` is set).
llvm::Error addDigest(SqlConnection &db, RecordDigests &records, const std::string &name,
                      std::string_view sql, const std::vector<SqlValue> &params, size_t columns,
                      bool requireRow) {
  auto rows = db.query(sql, params);
  if (!rows)
    return rows.takeError();
  if (requireRow && rows->empty())
    return llvm::Error::success();
  records[name] = digestRows(name, *rows, columns);
  return llvm::Error::success();
}

llvm::Error addVersionRecords(SqlConnection &db, const ChainedEvent &event, RecordDigests &records,
                              bool withRow) {
  auto id = db.queryInteger("SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id"
                            " WHERE m.name = ? AND v.version = ?",
                            {event.model, event.version});
  if (!id)
    return id.takeError();
  if (!*id)
    return llvm::Error::success();
  if (withRow) {
    if (llvm::Error error =
            addDigest(db, records, "version",
                      "SELECT m.name, v.version, v.digest, v.size_bytes, v.created_at,"
                      " v.created_by, v.description FROM versions v"
                      " JOIN models m ON m.id = v.model_id WHERE v.id = ?",
                      {**id}, 7, true))
      return error;
    if (llvm::Error error =
            addDigest(db, records, "lineage",
                      "SELECT m.name, v.version, l.kind FROM lineage l"
                      " JOIN versions v ON v.id = l.parent_id JOIN models m ON m.id = v.model_id"
                      " WHERE l.child_id = ? ORDER BY m.name, v.version, l.kind",
                      {**id}, 3, false))
      return error;
  }
  return addDigest(db, records, "tags",
                   "SELECT tag_key, tag_value FROM version_tags WHERE version_id = ?"
                   " ORDER BY tag_key",
                   {**id}, 2, false);
}

llvm::Error addCurrentRecords(SqlConnection &db, const ChainedEvent &event,
                              RecordDigests &records) {
  if (event.action == "register")
    return addVersionRecords(db, event, records, /*withRow=*/true);
  if (event.action == "tag")
    return addVersionRecords(db, event, records, /*withRow=*/false);
  if (isAliasAction(event.action))
    return addDigest(db, records, "alias",
                     "SELECT m.name, a.alias, v.version, v.digest FROM aliases a"
                     " JOIN models m ON m.id = a.model_id JOIN versions v ON v.id = a.version_id"
                     " WHERE m.name = ? AND a.alias = ?",
                     {event.model, event.alias}, 4, true);
  if (event.action == "protect")
    return addDigest(db, records, "policy",
                     "SELECT m.name, p.alias, p.policy_digest, p.policy, p.policy_path, p.files,"
                     " p.created_at, p.created_by FROM alias_policies p"
                     " JOIN models m ON m.id = p.model_id WHERE m.name = ? AND p.alias = ?",
                     {event.model, event.alias}, 8, true);
  if (isModelInfoAction(event.action))
    return addDigest(db, records, "model",
                     "SELECT m.name, m.description, t.tag_key, t.tag_value FROM models m"
                     " LEFT JOIN model_tags t ON t.model_id = m.id WHERE m.name = ?"
                     " ORDER BY t.tag_key",
                     {event.model}, 4, true);
  if (event.action == "dataset-register")
    return addDigest(db, records, "dataset",
                     "SELECT name, description, digest, files, created_at, created_by"
                     " FROM datasets WHERE name = ?",
                     {event.after}, 6, true);
  if (event.action == "gate-report")
    return addDigest(db, records, "report",
                     "SELECT r.id, m.name, v.version, r.baseline_id, r.policy_digest, r.verdict,"
                     " r.report, r.created_at, r.created_by FROM gate_reports r"
                     " JOIN versions v ON v.id = r.candidate_id"
                     " JOIN models m ON m.id = v.model_id WHERE r.id = ?",
                     {event.gateReportId}, 9, true);
  return llvm::Error::success();
}

} // namespace

std::span<const std::string_view> aliasActions() {
  // "override" is what --force was recorded as before it was "force".
  static constexpr std::string_view kActions[] = {"alias-move", "alias-set", "promote",     "force",
                                                  "override",   "rollback",  "alias-delete"};
  return kActions;
}

bool isAliasAction(std::string_view action) {
  return std::find(aliasActions().begin(), aliasActions().end(), action) != aliasActions().end();
}

bool isModelInfoAction(std::string_view action) {
  return action == "describe" || action == "model-tag";
}

std::string chainHash(const ChainedEvent &event) {
  CanonicalHasher hasher;
  hasher.add("graceful-audit-v1")
      .add(event.seq)
      .add(event.prevHash)
      .add(event.occurredAt)
      .add(event.actor)
      .add(event.action)
      .add(event.model)
      .add(event.version)
      .add(event.alias)
      .add(event.before)
      .add(event.after)
      .add(event.reason)
      .add(event.gateReportId)
      .add(event.records);
  return hasher.finish();
}

std::string formatRecords(const RecordDigests &records) {
  std::string text;
  for (const auto &[name, digest] : records)
    text += (text.empty() ? "" : "\n") + name + " " + digest;
  return text;
}

RecordDigests parseRecords(std::string_view text) {
  RecordDigests records;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);)
    if (size_t space = line.find(' '); space != std::string::npos)
      records[line.substr(0, space)] = line.substr(space + 1);
  return records;
}

llvm::Expected<RecordDigests> currentRecords(SqlConnection &db, const ChainedEvent &event) {
  RecordDigests records;
  if (llvm::Error error = addCurrentRecords(db, event, records))
    return error;
  return records;
}

llvm::Expected<std::vector<ChainedEvent>> readChain(SqlConnection &db, std::string_view order) {
  auto rows = db.query("SELECT id, seq, prev_hash, occurred_at, actor, action, model, version,"
                       " alias, state_before, state_after, reason, gate_report_id, records, hash"
                       " FROM audit_log " +
                       std::string(order));
  if (!rows)
    return rows.takeError();
  std::vector<ChainedEvent> events;
  events.reserve(rows->size());
  for (const SqlRow &row : *rows)
    events.push_back(ChainedEvent{
        row.integer(0), row.integer(1), row.text(2), row.integer(3), row.text(4), row.text(5),
        row.text(6), row.integer(7), row.text(8), row.text(9), row.text(10), row.text(11),
        row.isNull(12) ? 0 : row.integer(12), row.text(13), row.text(14)});
  return events;
}

std::string overwritableRecord(const ChainedEvent &event) {
  if (event.action == "register" || event.action == "tag")
    return "tags";
  if (isAliasAction(event.action))
    return "alias";
  if (event.action == "protect")
    return "policy";
  if (isModelInfoAction(event.action))
    return "model";
  return "";
}

std::vector<bool> latestWriters(const std::vector<ChainedEvent> &events) {
  std::vector<bool> latest(events.size());
  std::map<std::tuple<std::string, std::string, std::int64_t, std::string>, size_t> writers;
  for (size_t i = 0; i < events.size(); ++i) {
    const ChainedEvent &event = events[i];
    if (std::string record = overwritableRecord(event); !record.empty())
      writers[{record, event.model, record == "tags" ? event.version : 0,
               record == "tags" ? "" : event.alias}] = i;
  }
  for (const auto &[key, index] : writers)
    latest[index] = true;
  return latest;
}

llvm::Error chainExistingEvents(SqlConnection &db) {
  auto events = readChain(db, "ORDER BY id");
  if (!events)
    return events.takeError();
  std::vector<bool> latest = latestWriters(*events);
  std::string previous(kGenesisHash);
  for (size_t i = 0; i < events->size(); ++i) {
    ChainedEvent &event = (*events)[i];
    auto records = currentRecords(db, event);
    if (!records)
      return records.takeError();
    if (!latest[i])
      records->erase(overwritableRecord(event));
    event.seq = static_cast<std::int64_t>(i + 1);
    event.prevHash = previous;
    event.records = formatRecords(*records);
    event.hash = chainHash(event);
    if (llvm::Error error = db.execute(
            "UPDATE audit_log SET seq = ?, prev_hash = ?, records = ?, hash = ? WHERE id = ?",
            {event.seq, event.prevHash, event.records, event.hash, event.id}))
      return error;
    previous = event.hash;
  }
  return db.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)",
                    {static_cast<std::int64_t>(events->size()), previous});
}

} // namespace graceful::registry
