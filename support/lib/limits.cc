#include "graceful/support/limits.h"

#include "graceful/support/error.h"

#include <string>

namespace graceful {

llvm::Error checkLength(std::string_view what, std::string_view text, size_t maxBytes) {
  if (text.size() <= maxBytes)
    return llvm::Error::success();
  return makeError(ErrorKind::BadInput, std::string(what) + " is " + std::to_string(text.size()) +
                                            " bytes; at most " + std::to_string(maxBytes) +
                                            " are allowed");
}

} // namespace graceful
