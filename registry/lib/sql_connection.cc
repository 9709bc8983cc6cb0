#include "sql_connection.h"

#include "graceful/support/error.h"

#include <charconv>

namespace graceful::registry {

SqlValue nullOrInteger(std::int64_t value) {
  if (value == 0)
    return SqlValue(nullptr);
  return SqlValue(value);
}

const std::string &SqlRow::text(size_t column) const {
  static const std::string kEmpty;
  const auto &cell = cells_.at(column);
  return cell ? *cell : kEmpty;
}

std::int64_t SqlRow::integer(size_t column) const {
  const std::string &cell = text(column);
  std::int64_t value = 0;
  std::from_chars(cell.data(), cell.data() + cell.size(), value);
  return value;
}

llvm::Error SqlConnection::execute(std::string_view sql, const std::vector<SqlValue> &params) {
  llvm::Expected<SqlRows> rows = query(sql, params);
  return rows ? llvm::Error::success() : rows.takeError();
}

llvm::Expected<std::optional<std::int64_t>>
SqlConnection::queryInteger(std::string_view sql, const std::vector<SqlValue> &params) {
  llvm::Expected<SqlRows> rows = query(sql, params);
  if (!rows)
    return rows.takeError();
  if (rows->empty() || rows->front().isNull(0))
    return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(rows->front().integer(0));
}

llvm::Error SqlConnection::claimStatement(std::string_view sql) {
  if (singleRead_ && ++singleReadStatements_ > 1)
    return makeError(ErrorKind::StoreUnavailable,
                     describe() + ": internal error: a single-statement read ran a second one (" +
                         std::string(sql.substr(0, 60)) + ")");
  return llvm::Error::success();
}

llvm::Expected<Transaction> Transaction::begin(SqlConnection &connection, TransactionMode mode) {
  if (llvm::Error error = connection.begin(mode))
    return error;
  return Transaction(&connection);
}

Transaction::Transaction(Transaction &&other) noexcept : connection_(other.connection_) {
  other.connection_ = nullptr;
}

Transaction::~Transaction() {
  if (connection_ != nullptr)
    connection_->rollback();
}

llvm::Error Transaction::commit() {
  SqlConnection *connection = connection_;
  connection_ = nullptr;
  llvm::Error error = connection->commit();
  if (error)
    connection->rollback();
  return error;
}

} // namespace graceful::registry
