#include "graceful/gates/plugin.h"

#include "graceful/gates/gate.h"
#include "graceful/support/error.h"

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

namespace graceful::gates {
namespace {

using AbiVersionFunction = int();
using RegisterFunction = void();

// Loaded plugins stay loaded: their gates' code lives in them.
struct LoadedPlugins {
  std::mutex mutex;
  std::set<std::string> paths;
  std::vector<boost::dll::shared_library> libraries;
};

LoadedPlugins &loadedPlugins() {
  static LoadedPlugins plugins;
  return plugins;
}

} // namespace

std::vector<std::string> pluginDirectories(const std::vector<std::string> &explicitDirectories) {
  std::vector<std::string> directories = explicitDirectories;
  if (const char *path = std::getenv("GRACEFUL_PLUGIN_PATH")) {
    std::istringstream entries(path);
    std::string entry;
    while (std::getline(entries, entry, ':'))
      if (!entry.empty())
        directories.push_back(entry);
  }
  return directories;
}

llvm::Error loadPlugin(const std::string &path) {
  LoadedPlugins &plugins = loadedPlugins();
  std::lock_guard lock(plugins.mutex);
  std::string canonical = std::filesystem::weakly_canonical(path).string();
  if (plugins.paths.count(canonical))
    return llvm::Error::success();
  // dlopen's own messages for non-libraries are obscure ("bad file
  // descriptor"); check the ELF magic first.
  char magic[4] = {};
  std::ifstream(canonical, std::ios::binary).read(magic, sizeof magic);
  if (std::string(magic, sizeof magic) != "\x7f"
                                          "ELF")
    return makeError(ErrorKind::BadInput, "plugin " + path + ": not a shared library");
  boost::system::error_code error;
  boost::dll::shared_library library(canonical, boost::dll::load_mode::rtld_now, error);
  if (error)
    return makeError(ErrorKind::BadInput,
                     "plugin " + path + ": cannot be loaded: " + foldLines(error.message()));
  for (const char *symbol : {"graceful_gate_abi_version", "graceful_register_gates"})
    if (!library.has(symbol))
      return makeError(ErrorKind::BadInput, "plugin " + path + ": not a graceful gate plugin (no " +
                                                symbol + " function)");
  int version = library.get<AbiVersionFunction>("graceful_gate_abi_version")();
  if (version != kGateAbiVersion)
    return makeError(ErrorKind::BadInput,
                     "plugin " + path + ": built for gate ABI version " + std::to_string(version) +
                         ", this graceful has version " + std::to_string(kGateAbiVersion) +
                         "; rebuild the plugin against this graceful's headers");
  library.get<RegisterFunction>("graceful_register_gates")();
  plugins.paths.insert(canonical);
  plugins.libraries.push_back(std::move(library));
  return llvm::Error::success();
}

llvm::Error loadPlugins(const std::vector<std::string> &directories) {
  for (const std::string &directory : directories) {
    std::error_code ec;
    if (!std::filesystem::is_directory(directory, ec))
      return makeError(ErrorKind::NotFound, "plugin directory " + directory + " does not exist");
    std::vector<std::string> libraries;
    for (const auto &entry : std::filesystem::directory_iterator(directory, ec))
      if (entry.is_regular_file() && entry.path().extension() == ".so")
        libraries.push_back(entry.path().string());
    std::sort(libraries.begin(), libraries.end());
    for (const std::string &library : libraries)
      if (llvm::Error error = loadPlugin(library))
        return error;
  }
  return llvm::Error::success();
}

} // namespace graceful::gates
