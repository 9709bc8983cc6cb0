#include "command.h"

#include "graceful/support/error.h"

namespace graceful::cli {

const std::vector<CommandSpec> &allCommands() {
  static const std::vector<CommandSpec> commands = [] {
    std::vector<CommandSpec> all = registryCommands();
    for (auto group : {promotionCommands(), compilerCommands(), rewriteCommands()})
      for (CommandSpec &command : group)
        all.push_back(std::move(command));
    return all;
  }();
  return commands;
}

llvm::Expected<std::unique_ptr<registry::Store>> openStoreFor(const CommonOptions &options) {
  return registry::openStore(
      registry::storeConfigFromEnvironment(options.store, options.artifacts));
}

llvm::Expected<std::string> required(const ParsedArgs &args, const std::string &name) {
  if (!args.values.count(name))
    return makeError(ErrorKind::BadInput, "missing " + name + " (see --help)");
  return args.values[name].as<std::string>();
}

std::string optional(const ParsedArgs &args, const std::string &name) {
  return args.values.count(name) ? args.values[name].as<std::string>() : "";
}

std::vector<std::string> many(const ParsedArgs &args, const std::string &name) {
  return args.values.count(name) ? args.values[name].as<std::vector<std::string>>()
                                 : std::vector<std::string>{};
}

} // namespace graceful::cli
