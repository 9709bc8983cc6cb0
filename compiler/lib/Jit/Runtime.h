// Internal: the runtime functions generated code calls (BLAS bridges).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace graceful::compiler {

// (symbol name, address) pairs to bind into each JIT'd module.
std::vector<std::pair<std::string, void *>> runtimeSymbols();

} // namespace graceful::compiler
