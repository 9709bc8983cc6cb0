#include "graceful/support/error.h"

#include "graceful/support/format.h"

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

ErrorReport describeError(llvm::Error error) {
  ErrorReport report{ErrorKind::BadInput, ""};
  bool sawConflict = false;
  auto append = [&](const std::string &text) {
    if (!report.message.empty())
      report.message += "; ";
    report.message += foldLines(text);
  };
  llvm::handleAllErrors(
      std::move(error),
      [&](const GracefulError &e) {
        // A conflict wins: the caller may retry, which matters more than the rest.
        if (e.kind() == ErrorKind::Conflict)
          sawConflict = true;
        else if (!sawConflict)
          report.kind = e.kind();
        append(e.message());
      },
      [&](const llvm::ErrorInfoBase &e) { append(e.message()); });
  if (sawConflict)
    report.kind = ErrorKind::Conflict;
  return report;
}

} // namespace graceful
