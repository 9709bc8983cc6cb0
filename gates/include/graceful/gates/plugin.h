// External gates: shared libraries loaded at run time with Boost.DLL. A
// plugin exports two C functions:
//
//   extern "C" int graceful_gate_abi_version();  // returns kGateAbiVersion
//   extern "C" void graceful_register_gates();   // calls registerGate(...)
//
// It is built against graceful's headers and not linked with its
// libraries: the host executable exports them (ENABLE_EXPORTS), so plugin
// and host share one gate registry, one protobuf pool and one set of types.
#pragma once

#include <llvm/Support/Error.h>
#include <string>
#include <vector>

namespace graceful::gates {

// The directories to search: `explicitDirectories` (--plugins) first, then
// those in GRACEFUL_PLUGIN_PATH (':'-separated).
std::vector<std::string> pluginDirectories(const std::vector<std::string> &explicitDirectories);

// Loads one plugin; refuses files that are not shared libraries, lack the
// entry points or were built for another ABI version, naming the file.
llvm::Error loadPlugin(const std::string &path);

// Loads every *.so in each directory (sorted by name); a directory that
// does not exist is an error.
llvm::Error loadPlugins(const std::vector<std::string> &directories);

} // namespace graceful::gates
