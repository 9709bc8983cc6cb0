// Internal: the runtime functions generated code calls (BLAS bridges).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace graceful::compiler {

// (symbol name, address) pairs to bind into each JIT'd module.
std::vector<std::pair<std::string, void *>> runtimeSymbols();

// Why the last run of generated code on this thread failed ("node 'g'
// (Gather): index 9 is out of range ..."), cleared by the call; nullopt
// when it did not. Generated code runs on its caller's thread (only
// runtime kernels fork), so threads do not see each other's faults.
std::optional<std::string> takeRunFault();

} // namespace graceful::compiler
