#include "graceful/support/error.h"

#include <cctype>
#include <llvm/Support/ConvertUTF.h>

namespace graceful {

char GracefulError::ID = 0;

namespace {

void appendEscaped(std::string &out, unsigned char byte) {
  static const char digits[] = "0123456789abcdef";
  out += "\\x";
  out += digits[byte >> 4];
  out += digits[byte & 15];
}

} // namespace

std::string foldLines(std::string_view text) {
  std::string folded;
  bool pendingSpace = false;
  auto *bytes = reinterpret_cast<const llvm::UTF8 *>(text.data());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) {
      pendingSpace = !folded.empty();
      ++i;
      continue;
    }
    if (pendingSpace)
      folded.push_back(' ');
    pendingSpace = false;
    size_t length = c < 0x80 ? 1 : static_cast<size_t>(llvm::getNumBytesForUTF8(c));
    bool printable = c < 0x80 ? c >= 0x20 && c != 0x7f
                              : i + length <= text.size() &&
                                    llvm::isLegalUTF8Sequence(bytes + i, bytes + i + length);
    if (!printable) {
      appendEscaped(folded, c);
      ++i;
      continue;
    }
    folded.append(text.substr(i, length));
    i += length;
  }
  return folded;
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
