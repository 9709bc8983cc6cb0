// Numbers and text as people read them in messages, reports and profiles.
#pragma once

#include <string>
#include <string_view>

namespace graceful {

// `value` with at most `significantDigits` significant digits, in the
// shortest of fixed or scientific notation ("0.0146", "1.8e+09").
std::string formatNumber(double value, int significantDigits = 4);

// `text` safe to print on a terminal or put in a report: control bytes
// (newline and tab included), bytes that are not valid UTF-8, C1 controls,
// bidirectional overrides and U+FFFE/U+FFFF are written as \xNN, one per
// byte; everything else, multi-byte UTF-8 included, is kept. A tag value,
// reason or op type therefore cannot start a line, move the cursor or
// recolour what follows.
std::string escapeUnprintable(std::string_view text);

} // namespace graceful
