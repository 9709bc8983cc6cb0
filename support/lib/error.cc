#include "graceful/support/error.h"

#include "graceful/support/format.h"
#include "graceful/support/json.h"

#include <cctype>

namespace graceful {

char GracefulError::ID = 0;

std::string foldLines(std::string_view text) {
  std::string folded;
  bool pendingSpace = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      pendingSpace = !folded.empty();
      continue;
    }
    if (pendingSpace)
      folded.push_back(' ');
    pendingSpace = false;
    folded.push_back(c);
  }
  return escapeUnprintable(folded);
}

int exitCodeFor(ErrorKind kind) {
  switch (kind) {
  case ErrorKind::Conflict:
    return kExitConflict;
  case ErrorKind::Unavailable:
    return kExitUnavailable;
  default:
    return kExitBadInput;
  }
}

std::string_view errorKindName(ErrorKind kind) {
  switch (kind) {
  case ErrorKind::BadInput:
    return "bad-input";
  case ErrorKind::NotFound:
    return "not-found";
  case ErrorKind::StoreUnavailable:
    return "store-unusable";
  case ErrorKind::Corrupt:
    return "corrupt";
  case ErrorKind::Conflict:
    return "conflict";
  case ErrorKind::Unavailable:
    return "unavailable";
  case ErrorKind::Unauthorized:
    return "unauthorized";
  case ErrorKind::Forbidden:
    return "forbidden";
  }
  return "bad-input";
}

std::string errorJson(const ErrorReport &report, std::string_view where) {
  std::string json = "{\"error\":" + jsonString(report.message) +
                     ",\"kind\":" + jsonString(errorKindName(report.kind)) +
                     ",\"exit_code\":" + std::to_string(exitCodeFor(report.kind));
  if (!where.empty())
    json += ",\"where\":" + jsonString(where);
  return json + "}";
}

ErrorReport describeError(llvm::Error error) {
  ErrorReport report{ErrorKind::BadInput, ""};
  // The kinds a caller may retry win, conflict first: whether to retry
  // matters more than the rest.
  auto rank = [](ErrorKind kind) {
    return kind == ErrorKind::Conflict ? 2 : kind == ErrorKind::Unavailable ? 1 : 0;
  };
  bool sawKind = false;
  auto append = [&](const std::string &text) {
    if (!report.message.empty())
      report.message += "; ";
    report.message += foldLines(text);
  };
  llvm::handleAllErrors(
      std::move(error),
      [&](const GracefulError &e) {
        if (!sawKind || rank(e.kind()) > rank(report.kind) ||
            (rank(e.kind()) == rank(report.kind) && rank(e.kind()) == 0))
          report.kind = e.kind();
        sawKind = true;
        append(e.message());
      },
      [&](const llvm::ErrorInfoBase &e) { append(e.message()); });
  return report;
}

} // namespace graceful
