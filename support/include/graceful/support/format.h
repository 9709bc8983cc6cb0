// Numbers as people read them in messages, reports and profiles.
#pragma once

#include <string>

namespace graceful {

// `value` with at most `significantDigits` significant digits, in the
// shortest of fixed or scientific notation ("0.0146", "1.8e+09").
std::string formatNumber(double value, int significantDigits = 4);

} // namespace graceful
