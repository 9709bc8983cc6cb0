// How long the text people attach to records may be, in bytes. Records are
// read back by people and pipelines: a megabyte "reason" in an audit line
// serves nobody. docs/cli.md lists the same figures.
#pragma once

#include <cstddef>
#include <llvm/Support/Error.h>
#include <string_view>

namespace graceful {

constexpr size_t kMaxNameBytes = 128;   // model names (registry::validateModelName)
constexpr size_t kMaxTagKeyBytes = 128; // tag keys (registry::validateTagKey)
constexpr size_t kMaxTagValueBytes = 1024;
constexpr size_t kMaxDescriptionBytes = 4096;
constexpr size_t kMaxReasonBytes = 4096;

// BadInput "WHAT is N bytes; at most MAX are allowed" when `text` is longer.
llvm::Error checkLength(std::string_view what, std::string_view text, size_t maxBytes);

} // namespace graceful
