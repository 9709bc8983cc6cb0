// Errors that cross component boundaries. Every fallible API returns
// llvm::Expected<T> or llvm::Error; the kind decides the CLI's exit code.
#pragma once

#include <llvm/Support/Error.h>
#include <string>
#include <string_view>

namespace graceful {

enum class ErrorKind {
  BadInput,         // malformed file, name, option or policy: exit 2
  NotFound,         // a model, version, alias or file that does not exist: exit 2
  StoreUnavailable, // store unusable as given: not a registry, unreadable, wrong
                    // credentials, read-only: exit 2 (retrying will not help)
  Corrupt,          // stored bytes no longer match their digest: exit 2
  Conflict,         // lost a compare-and-set race: exit 3
  Unavailable,      // retry later: store or server down, lock not obtained in
                    // time, disk full: exit 4
  Unauthorized,     // no credentials, or ones the server does not accept: exit 2
  Forbidden,        // credentials that do not allow this request: exit 2
};

// The exit codes of the contract (DESIGN.md, "Interface contract").
enum ExitCode {
  kExitSuccess = 0,
  kExitGateFailed = 1,
  kExitBadInput = 2,
  kExitConflict = 3,
  kExitUnavailable = 4
};
int exitCodeFor(ErrorKind kind);

// The kind as scripts read it in a JSON error: bad-input, not-found,
// store-unusable, corrupt, conflict, unavailable, unauthorized, forbidden.
std::string_view errorKindName(ErrorKind kind);

class GracefulError : public llvm::ErrorInfo<GracefulError> {
public:
  static char ID;

  GracefulError(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  ErrorKind kind() const { return kind_; }
  std::string message() const override { return message_; }

  void log(llvm::raw_ostream &os) const override { os << message_; }
  std::error_code convertToErrorCode() const override { return llvm::inconvertibleErrorCode(); }

private:
  ErrorKind kind_;
  std::string message_;
};

inline llvm::Error makeError(ErrorKind kind, std::string message) {
  return llvm::make_error<GracefulError>(kind, std::move(message));
}

// What a caller shows a person: the most severe kind inside `error` and
// all its messages on one line (newlines and runs of blanks folded).
struct ErrorReport {
  ErrorKind kind;
  std::string message;
};

// Consumes `error`, which must hold a failure.
ErrorReport describeError(llvm::Error error);

// The report as one JSON object for scripts (`--json`): {"error": message,
// "kind": errorKindName, "exit_code": N}, plus "where" when not empty.
std::string errorJson(const ErrorReport &report, std::string_view where = "");

// Folds a multi-line message from a library (libpq, protobuf) onto one
// printable line: whitespace runs become one space, and the rest goes
// through escapeUnprintable (format.h): control bytes or bytes that are not
// valid UTF-8 (names read from a corrupted file) are written as \xNN.
std::string foldLines(std::string_view text);

} // namespace graceful
