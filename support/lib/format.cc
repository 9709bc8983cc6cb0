#include "graceful/support/format.h"

#include <sstream>

namespace graceful {

std::string formatNumber(double value, int significantDigits) {
  std::ostringstream text;
  text.precision(significantDigits);
  text << value;
  return text.str();
}

} // namespace graceful
