#include "graceful/support/format.h"

#include <llvm/Support/ConvertUTF.h>
#include <sstream>

namespace graceful {
namespace {

void appendEscaped(std::string &out, std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  for (char c : bytes) {
    auto byte = static_cast<unsigned char>(c);
    out += "\\x";
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
}

// Valid UTF-8 that a terminal or an XML parser must still not see raw: C1
// controls (U+0080-U+009F; 0x9b starts an escape sequence on some
// terminals), the bidirectional overrides and isolates that reorder how a
// line reads (U+202A-U+202E, U+2066-U+2069), and U+FFFE/U+FFFF (not XML).
bool isUnprintableSequence(std::string_view s) {
  auto at = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  if (s.size() == 2)
    return at(0) == 0xc2 && at(1) < 0xa0;
  if (s.size() == 3 && at(0) == 0xe2)
    return (at(1) == 0x80 && at(2) >= 0xaa && at(2) <= 0xae) ||
           (at(1) == 0x81 && at(2) >= 0xa6 && at(2) <= 0xa9);
  return s.size() == 3 && at(0) == 0xef && at(1) == 0xbf && at(2) >= 0xbe;
}

} // namespace

std::string formatNumber(double value, int significantDigits) {
  std::ostringstream text;
  text.precision(significantDigits);
  text << value;
  return text.str();
}

std::string escapeUnprintable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto *bytes = reinterpret_cast<const llvm::UTF8 *>(text.data());
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80 ? 1 : static_cast<size_t>(llvm::getNumBytesForUTF8(c));
    bool printable = c < 0x80 ? c >= 0x20 && c != 0x7f
                              : i + length <= text.size() &&
                                    llvm::isLegalUTF8Sequence(bytes + i, bytes + i + length);
    if (!printable) {
      appendEscaped(out, text.substr(i, 1));
      ++i;
      continue;
    }
    std::string_view sequence = text.substr(i, length);
    if (isUnprintableSequence(sequence))
      appendEscaped(out, sequence);
    else
      out.append(sequence);
    i += length;
  }
  return out;
}

} // namespace graceful
