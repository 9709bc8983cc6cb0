// SQLite backend: one file in WAL mode. Writers take the write lock at BEGIN
// (BEGIN IMMEDIATE), so concurrent writers queue on the busy timeout instead
// of failing half way through a transaction.
#include "graceful/support/error.h"
#include "sql_connection.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <sqlite3.h>
#include <unistd.h>

namespace graceful::registry {
namespace {

class SqliteConnection final : public SqlConnection {
public:
  SqliteConnection(sqlite3 *db, std::string path, int busyTimeoutMs)
      : db_(db), path_(std::move(path)), busyTimeoutMs_(busyTimeoutMs) {}
  ~SqliteConnection() override {
    statements_.clear(); // finalized before the connection closes
    sqlite3_close_v2(db_);
  }

  SqlDialect dialect() const override { return SqlDialect::Sqlite; }
  std::string describe() const override { return "sqlite:" + path_; }

  // A single read runs in SQLite's autocommit mode: nothing to begin or end.
  llvm::Error begin(TransactionMode mode) override {
    openSingleRead(mode == TransactionMode::SingleRead);
    if (inSingleRead())
      return llvm::Error::success();
    return execute(mode == TransactionMode::Write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  }
  llvm::Error commit() override {
    if (inSingleRead()) {
      openSingleRead(false);
      return llvm::Error::success();
    }
    return execute("COMMIT");
  }
  void rollback() override {
    openSingleRead(false);
    if (!sqlite3_get_autocommit(db_))
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  llvm::Expected<SqlRows> query(std::string_view sql,
                                const std::vector<SqlValue> &params) override {
    if (llvm::Error error = claimStatement(sql))
      return error;
    auto statement = prepared(sql);
    if (!statement)
      return statement.takeError();
    for (size_t i = 0; i < params.size(); ++i)
      bind(*statement, static_cast<int>(i + 1), params[i]);
    SqlRows rows;
    int rc;
    while ((rc = sqlite3_step(*statement)) == SQLITE_ROW)
      rows.push_back(readRow(*statement));
    // Reset at once: a statement left active would hold its read snapshot
    // past the transaction's end.
    sqlite3_reset(*statement);
    sqlite3_clear_bindings(*statement);
    if (rc != SQLITE_DONE)
      return failure(rc);
    return rows;
  }

private:
  using Statement = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

  // The statement for `sql`, prepared once per connection: the server asks
  // the same few queries on every request, and preparing them was a good
  // part of a read's time. The set of distinct statements is small (the
  // store's queries); past kMaxStatements they are all prepared afresh.
  llvm::Expected<sqlite3_stmt *> prepared(std::string_view sql) {
    auto found = statements_.find(sql);
    if (found != statements_.end())
      return found->second.get();
    sqlite3_stmt *statement = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement, nullptr);
    if (rc != SQLITE_OK)
      return failure(rc);
    if (statements_.size() >= kMaxStatements)
      statements_.clear();
    return statements_.emplace(std::string(sql), Statement(statement, &sqlite3_finalize))
        .first->second.get();
  }
  static constexpr size_t kMaxStatements = 256;

  static void bind(sqlite3_stmt *statement, int index, const SqlValue &value) {
    if (const auto *integer = std::get_if<std::int64_t>(&value))
      sqlite3_bind_int64(statement, index, *integer);
    else if (const auto *text = std::get_if<std::string>(&value))
      sqlite3_bind_text(statement, index, text->data(), static_cast<int>(text->size()),
                        SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(statement, index);
  }

  static SqlRow readRow(sqlite3_stmt *statement) {
    int columns = sqlite3_column_count(statement);
    std::vector<std::optional<std::string>> cells;
    cells.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      if (sqlite3_column_type(statement, c) == SQLITE_NULL) {
        cells.emplace_back();
        continue;
      }
      const auto *text = reinterpret_cast<const char *>(sqlite3_column_text(statement, c));
      cells.emplace_back(
          std::string(text, static_cast<size_t>(sqlite3_column_bytes(statement, c))));
    }
    return SqlRow(std::move(cells));
  }

  llvm::Error failure(int rc) const {
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
      return makeError(ErrorKind::Unavailable, describe() +
                                                   ": store is locked by another process (waited " +
                                                   std::to_string(busyTimeoutMs_) + " ms)");
    // A write that fails for want of space can surface as an I/O error
    // (the WAL's shared memory): the OS's errno tells it from a bad disk.
    int osError = sqlite3_system_errno(db_);
    if (primary == SQLITE_FULL ||
        (primary == SQLITE_IOERR && (osError == ENOSPC || osError == EDQUOT)))
      return makeError(ErrorKind::Unavailable,
                       describe() + ": " + sqlite3_errmsg(db_) +
                           (primary == SQLITE_IOERR
                                ? std::string(" (") + std::strerror(osError) + ")"
                                : std::string()));
    if (primary == SQLITE_CONSTRAINT)
      return makeError(ErrorKind::Conflict, describe() + ": " + sqlite3_errmsg(db_));
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT || primary == SQLITE_CANTOPEN ||
        primary == SQLITE_READONLY || primary == SQLITE_IOERR || primary == SQLITE_PERM)
      return makeError(ErrorKind::StoreUnavailable, describe() + ": " + sqlite3_errmsg(db_));
    return makeError(ErrorKind::BadInput, describe() + ": " + sqlite3_errmsg(db_));
  }

  sqlite3 *db_;
  std::string path_;
  int busyTimeoutMs_;
  std::map<std::string, Statement, std::less<>> statements_;
};

// What sqlite3_open_v2 opens. A WAL database needs its -shm file to be
// read; in a directory we cannot write, with none left behind (the last
// writer closed cleanly, so the -wal was checkpointed away too), the file is
// read as immutable: nobody can be writing it through this directory.
std::string openTarget(const std::string &path, OpenMode mode, int &flags) {
  std::error_code ec;
  std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (mode != OpenMode::ReadOnly || std::filesystem::exists(path + "-shm", ec) ||
      ::access(directory.empty() ? "." : directory.c_str(), W_OK) == 0)
    return path;
  std::string uri = "file:";
  for (char c : std::filesystem::absolute(path, ec).string()) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    if (c == '%' || c == '?' || c == '#')
      uri += std::string("%") + kHex[(c >> 4) & 0xf] + kHex[c & 0xf];
    else
      uri += c;
  }
  flags |= SQLITE_OPEN_URI;
  return uri + "?immutable=1";
}

} // namespace

llvm::Expected<std::unique_ptr<SqlConnection>> openSqlite(const std::string &path, OpenMode mode,
                                                          int busyTimeoutMs) {
  std::error_code ec;
  if (mode != OpenMode::CreateIfMissing && !std::filesystem::exists(path, ec))
    return makeError(ErrorKind::NotFound,
                     "sqlite:" + path + ": no registry here (run `graceful init` first)");
  if (std::filesystem::is_directory(path, ec))
    return makeError(ErrorKind::StoreUnavailable,
                     "sqlite:" + path + ": is a directory, not a registry database");
  int flags = (mode == OpenMode::ReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
              SQLITE_OPEN_FULLMUTEX;
  if (mode == OpenMode::CreateIfMissing)
    flags |= SQLITE_OPEN_CREATE;
  sqlite3 *db = nullptr;
  std::string target = openTarget(path, mode, flags);
  int rc = sqlite3_open_v2(target.c_str(), &db, flags, nullptr);
  auto connection = std::make_unique<SqliteConnection>(db, path, busyTimeoutMs);
  if (rc != SQLITE_OK)
    return makeError(ErrorKind::StoreUnavailable,
                     "sqlite:" + path + ": cannot open: " + sqlite3_errstr(rc));
  sqlite3_busy_timeout(db, busyTimeoutMs);
  sqlite3_extended_result_codes(db, 1);
  // WAL lets readers run beside the one writer; FULL makes each commit
  // durable; foreign keys are off by default in SQLite. Setting the journal
  // mode writes, so a read-only connection keeps the mode init set.
  for (const char *pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"})
    if (mode != OpenMode::ReadOnly || !std::string_view(pragma).starts_with("PRAGMA journal_mode"))
      if (llvm::Error error = connection->execute(pragma))
        return error;
  return std::unique_ptr<SqlConnection>(std::move(connection));
}

} // namespace graceful::registry
