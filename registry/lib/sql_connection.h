// The small SQL surface the store needs, implemented once per backend. The
// store's logic is written once against it, so both backends share their
// semantics by construction.
#pragma once

#include <cstdint>
#include <llvm/Support/Error.h>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace graceful::registry {

enum class SqlDialect { Sqlite, Postgres };

// Statement parameters; statements use `?` placeholders for both backends.
using SqlValue = std::variant<std::nullptr_t, std::int64_t, std::string>;

// 0 stands for NULL in optional references (e.g. no gate report).
SqlValue nullOrInteger(std::int64_t value);

// A result row; cells are text (NULL as nullopt).
class SqlRow {
public:
  explicit SqlRow(std::vector<std::optional<std::string>> cells) : cells_(std::move(cells)) {}
  bool isNull(size_t column) const { return !cells_.at(column).has_value(); }
  const std::string &text(size_t column) const;
  std::int64_t integer(size_t column) const;

private:
  std::vector<std::optional<std::string>> cells_;
};
using SqlRows = std::vector<SqlRow>;

// Read and Write: BEGIN ... COMMIT. SingleRead: one SELECT, which has a
// snapshot of its own without them (on PostgreSQL two round trips fewer,
// for the reads every request makes); a second statement is refused.
enum class TransactionMode { Read, Write, SingleRead };

class SqlConnection {
public:
  virtual ~SqlConnection() = default;
  virtual SqlDialect dialect() const = 0;
  virtual std::string describe() const = 0;

  virtual llvm::Error begin(TransactionMode mode) = 0;
  virtual llvm::Error commit() = 0;
  virtual void rollback() = 0;

  virtual llvm::Expected<SqlRows> query(std::string_view sql,
                                        const std::vector<SqlValue> &params = {}) = 0;
  llvm::Error execute(std::string_view sql, const std::vector<SqlValue> &params = {});
  // The single integer of a single-row, single-column query.
  llvm::Expected<std::optional<std::int64_t>> queryInteger(std::string_view sql,
                                                           const std::vector<SqlValue> &params);

protected:
  // For the backends' begin/commit/rollback and query: whether a
  // SingleRead is open, and its one statement claimed (an error for the
  // second, which would see another snapshot).
  void openSingleRead(bool open) {
    singleRead_ = open;
    singleReadStatements_ = 0;
  }
  bool inSingleRead() const { return singleRead_; }
  llvm::Error claimStatement(std::string_view sql);

private:
  bool singleRead_ = false;
  int singleReadStatements_ = 0;
};

// Open flags: whether a missing SQLite file may be created, or an existing
// one is only read (which works on a read-only file or directory).
enum class OpenMode { Existing, CreateIfMissing, ReadOnly };

llvm::Expected<std::unique_ptr<SqlConnection>> openSqlite(const std::string &path, OpenMode mode,
                                                          int busyTimeoutMs);
llvm::Expected<std::unique_ptr<SqlConnection>> openPostgres(const std::string &uri,
                                                            int lockTimeoutMs);

// Rolls back unless committed, so every early return leaves no trace.
class Transaction {
public:
  static llvm::Expected<Transaction> begin(SqlConnection &connection, TransactionMode mode);
  Transaction(Transaction &&other) noexcept;
  Transaction &operator=(Transaction &&) = delete;
  ~Transaction();
  llvm::Error commit();

private:
  explicit Transaction(SqlConnection *connection) : connection_(connection) {}
  SqlConnection *connection_;
};

} // namespace graceful::registry
