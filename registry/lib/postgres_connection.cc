// PostgreSQL backend over libpqxx. The store serialises writers on a row
// lock (SELECT ... FOR UPDATE), so READ COMMITTED transactions suffice.
#include "graceful/support/error.h"
#include "sql_connection.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <libpq-fe.h>
#include <map>
#include <poll.h>
#include <pqxx/errorhandler>
#include <pqxx/pqxx>
#include <string_view>

namespace graceful::registry {
namespace {

// `?` placeholders become `$1`, `$2`, ... Our statements hold no `?` inside
// string literals.
std::string numberPlaceholders(std::string_view sql) {
  std::string numbered;
  int next = 1;
  for (char c : sql) {
    if (c == '?')
      numbered += "$" + std::to_string(next++);
    else
      numbered.push_back(c);
  }
  return numbered;
}

// SQLSTATEs a later attempt may not meet: insufficient resources (53: disk
// full, out of memory, too many connections), operator intervention (57:
// shutdown, cancelled), deadlock and serialization failures (40).
bool retryable(const std::string &sqlstate) {
  return sqlstate.starts_with("53") || sqlstate.starts_with("57") || sqlstate == "40001" ||
         sqlstate == "40P01";
}

// Why a connection failed, asked of the server itself (PQping): one that
// does not answer or refuses connections for now (starting, shutting down)
// is worth retrying; one that answers refused us (credentials, database).
// libpq's default notice processor prints to stderr, and a server
// shutting down while a client connects sends a notice ("terminating
// connection due to immediate shutdown command") before pqxx can take
// notices over. This policy connects as pqxx::connect_direct does, with a
// processor that drops them from the first byte.
class QuietConnect : public pqxx::connectionpolicy {
public:
  explicit QuietConnect(const std::string &options) : pqxx::connectionpolicy{options} {}

  handle do_startconnect(handle existing) override {
    if (existing)
      return existing;
    PGconn *connection = PQconnectStart(options().c_str());
    if (!connection)
      throw std::bad_alloc{};
    PQsetNoticeProcessor(
        connection, [](void *, const char *) {}, nullptr);
    int timeoutMs = connectTimeoutMs(connection);
    // Per libpq: poll as if PQconnectPoll had last asked to write.
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    while (PQstatus(connection) != CONNECTION_BAD && status != PGRES_POLLING_OK &&
           status != PGRES_POLLING_FAILED) {
      pollfd socket{PQsocket(connection),
                    static_cast<short>(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
      int ready = ::poll(&socket, 1, timeoutMs);
      if (ready == 0)
        return fail(connection, "timeout expired");
      if (ready < 0 && errno != EINTR)
        return fail(connection, std::strerror(errno));
      status = PQconnectPoll(connection);
    }
    if (PQstatus(connection) != CONNECTION_OK)
      return fail(connection, PQerrorMessage(connection));
    return connection;
  }

private:
  // connect_timeout from the connection's options, as PQconnectdb would
  // honour it; -1 (wait) when unset.
  static int connectTimeoutMs(PGconn *connection) {
    int timeoutMs = -1;
    PQconninfoOption *options = PQconninfo(connection);
    for (PQconninfoOption *option = options; option && option->keyword; ++option)
      if (std::string_view(option->keyword) == "connect_timeout" && option->val &&
          std::atoi(option->val) > 0)
        timeoutMs = std::max(2, std::atoi(option->val)) * 1000;
    PQconninfoFree(options);
    return timeoutMs;
  }

  [[noreturn]] static handle fail(PGconn *connection, const std::string &why) {
    PQfinish(connection);
    throw pqxx::broken_connection{why};
  }
};

using QuietConnection = pqxx::basic_connection_base<QuietConnect>;

ErrorKind connectFailureKind(const std::string &uri) {
  PGPing ping = PQping(uri.c_str());
  if (ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT)
    return ErrorKind::Unavailable;
  return ping == PQPING_NO_ATTEMPT ? ErrorKind::BadInput : ErrorKind::StoreUnavailable;
}

// Connection URIs carry passwords; messages show them without.
std::string redactPassword(const std::string &uri) {
  size_t scheme = uri.find("://");
  size_t at = uri.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme)
    return uri;
  size_t colon = uri.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at)
    return uri;
  return uri.substr(0, colon) + ":***" + uri.substr(at);
}

class PostgresConnection final : public SqlConnection {
public:
  PostgresConnection(std::unique_ptr<QuietConnection> connection, std::string uri)
      : connection_(std::move(connection)), uri_(redactPassword(uri)) {
    quiet_ = std::make_unique<pqxx::quiet_errorhandler>(*connection_);
  }

  SqlDialect dialect() const override { return SqlDialect::Postgres; }
  std::string describe() const override { return uri_; }

  // Reads see one snapshot (a check must not see half of a commit that
  // lands between its queries); writes lock what they change. A single
  // read is sent alone, in autocommit: its statement is its transaction.
  llvm::Error begin(TransactionMode mode) override {
    openSingleRead(mode == TransactionMode::SingleRead);
    return guarded([&] {
      if (mode == TransactionMode::SingleRead)
        work_ = std::make_unique<pqxx::nontransaction>(*connection_);
      else if (mode == TransactionMode::Read)
        work_ = std::make_unique<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>>(
            *connection_);
      else
        work_ = std::make_unique<pqxx::work>(*connection_);
    });
  }
  llvm::Error commit() override {
    openSingleRead(false);
    llvm::Error error = guarded([&] { work_->commit(); });
    work_.reset();
    return error;
  }
  void rollback() override {
    openSingleRead(false);
    if (!work_)
      return;
    try {
      work_->abort();
    } catch (const std::exception &) {
      // The connection is gone; the server rolls back on its own.
    }
    work_.reset();
  }

  llvm::Expected<SqlRows> query(std::string_view sql,
                                const std::vector<SqlValue> &params) override {
    if (!work_)
      return makeError(ErrorKind::BadInput, uri_ + ": statement outside a transaction");
    if (llvm::Error error = claimStatement(sql))
      return error;
    std::vector<std::string> texts(params.size());
    std::vector<const char *> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      if (const auto *integer = std::get_if<std::int64_t>(&params[i]))
        texts[i] = std::to_string(*integer);
      else if (const auto *text = std::get_if<std::string>(&params[i]))
        texts[i] = *text;
      else
        continue;
      values[i] = texts[i].c_str();
    }
    SqlRows rows;
    llvm::Error error = guarded([&] {
      const std::string *name = preparedName(sql);
      auto parameters = pqxx::prepare::make_dynamic_params(values);
      pqxx::result result = name ? work_->exec_prepared(*name, parameters)
                                 : work_->exec_params(numberPlaceholders(sql), parameters);
      for (const pqxx::row &row : result) {
        std::vector<std::optional<std::string>> cells;
        for (const pqxx::field &field : row)
          cells.push_back(field.is_null() ? std::nullopt
                                          : std::optional<std::string>(field.c_str()));
        rows.emplace_back(std::move(cells));
      }
    });
    if (error)
      return error;
    return rows;
  }

  // libpqxx reports failures as exceptions; they stop here.
  template <typename Body> llvm::Error guarded(Body body) {
    try {
      body();
      return llvm::Error::success();
    } catch (const pqxx::integrity_constraint_violation &e) {
      return makeError(ErrorKind::Conflict, uri_ + ": " + foldLines(e.what()));
    } catch (const pqxx::broken_connection &e) {
      return makeError(ErrorKind::Unavailable,
                       uri_ + ": connection to PostgreSQL lost: " + foldLines(e.what()));
    } catch (const pqxx::in_doubt_error &) {
      // Lost during COMMIT: the server decides whether it landed. Either
      // way the store is whole (one transaction), so retrying is safe:
      // a repeated register or promotion of the same thing is a no-op.
      return makeError(ErrorKind::Unavailable,
                       uri_ + ": connection to PostgreSQL lost while committing; whether the "
                              "change landed is for `graceful show` or `audit` to tell");
    } catch (const pqxx::sql_error &e) {
      if (e.sqlstate() == "55P03")
        return makeError(ErrorKind::Unavailable,
                         uri_ + ": store is locked by another session: " + foldLines(e.what()));
      return makeError(retryable(e.sqlstate()) ? ErrorKind::Unavailable
                                               : ErrorKind::StoreUnavailable,
                       uri_ + ": " + foldLines(e.what()));
    } catch (const std::exception &e) {
      return makeError(ErrorKind::StoreUnavailable, uri_ + ": " + foldLines(e.what()));
    }
  }

private:
  // The name `sql` is prepared under in this session, prepared on first
  // use: the server asks the same few queries on every request. Only
  // statements PostgreSQL can prepare, and at most kMaxPrepared of them.
  const std::string *preparedName(std::string_view sql) {
    if (auto found = prepared_.find(sql); found != prepared_.end())
      return &found->second;
    static constexpr std::string_view kPreparable[] = {"SELECT ", "WITH ", "INSERT ", "UPDATE ",
                                                       "DELETE "};
    bool preparable = std::any_of(std::begin(kPreparable), std::end(kPreparable),
                                  [&](std::string_view verb) { return sql.starts_with(verb); });
    if (!preparable || prepared_.size() >= kMaxPrepared)
      return nullptr;
    std::string name = "graceful_" + std::to_string(prepared_.size());
    connection_->prepare(name, numberPlaceholders(sql));
    return &prepared_.emplace(std::string(sql), std::move(name)).first->second;
  }
  static constexpr size_t kMaxPrepared = 256;

  // The server's notices ("terminating connection due to immediate
  // shutdown command") would reach stderr raw, beside our one-line error;
  // a failure's message carries what matters. Declared first so it is the
  // last to go: closing the connection and aborting a transaction can
  // still raise notices (the connection unregisters it when it closes).
  std::unique_ptr<pqxx::quiet_errorhandler> quiet_;
  std::unique_ptr<QuietConnection> connection_;
  std::unique_ptr<pqxx::transaction_base> work_;
  std::string uri_;
  std::map<std::string, std::string, std::less<>> prepared_;
};

} // namespace

llvm::Expected<std::unique_ptr<SqlConnection>> openPostgres(const std::string &uri,
                                                            int lockTimeoutMs) {
  try {
    auto connection = std::make_unique<QuietConnection>(uri);
    pqxx::quiet_errorhandler quietDuringSetup(*connection);
    // Fail rather than wait forever on a lock a stuck client holds.
    pqxx::nontransaction setup(*connection);
    setup.exec("SET lock_timeout = " + std::to_string(lockTimeoutMs));
    setup.exec("SET client_min_messages = warning");
    setup.commit();
    return std::unique_ptr<SqlConnection>(
        std::make_unique<PostgresConnection>(std::move(connection), uri));
  } catch (const std::exception &e) {
    return makeError(connectFailureKind(uri),
                     redactPassword(uri) +
                         ": cannot connect to PostgreSQL: " + foldLines(e.what()));
  }
}

} // namespace graceful::registry
