// The parsers under test read files, as the commands do; a fuzz input is
// written to one scratch file per process so the real path runs, reads and
// error messages included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace graceful::fuzz {

// Replaces the scratch file named `suffix` with `size` bytes of `data` and
// returns its path. Aborts if the file cannot be written: a fuzzer that
// silently tests nothing is worse than one that stops.
std::string writeScratchFile(const std::string &suffix, const uint8_t *data, size_t size);

// Aborts with `what` on stderr: an invariant of the code under test failed.
[[noreturn]] void invariantFailed(const std::string &what);

} // namespace graceful::fuzz
