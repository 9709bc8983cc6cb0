#include "command.h"

#include "graceful/operations/operations.h"
#include "graceful/registry/refs.h"
#include "graceful/support/error.h"
#include "graceful/support/limits.h"

namespace graceful::cli {

const std::vector<CommandSpec> &allCommands() {
  static const std::vector<CommandSpec> commands = [] {
    std::vector<CommandSpec> all = registryCommands();
    for (auto group : {datasetCommands(), promotionCommands(), compilerCommands(),
                       rewriteCommands(), serverCommands(), webhookCommands()})
      for (CommandSpec &command : group)
        all.push_back(std::move(command));
    return all;
  }();
  return commands;
}

llvm::Expected<std::unique_ptr<registry::Store>> openStoreFor(const CommonOptions &options,
                                                              StoreAccess access) {
  auto config = registry::storeConfigFromEnvironment(options.store, options.artifacts);
  if (config.uri.starts_with("http://") || config.uri.starts_with("https://"))
    return makeError(ErrorKind::BadInput,
                     "store '" + config.uri.substr(0, 200) +
                         "' is a server: this command works on the store itself (sqlite:PATH "
                         "or postgresql://...), not through graceful serve");
  config.readOnly = access == StoreAccess::ReadOnly;
  return registry::openStore(config);
}

llvm::Expected<std::string> required(const ParsedArgs &args, const std::string &name) {
  if (!args.values.count(name)) {
    auto positional = args.positionalNames.find(name);
    std::string typed = positional != args.positionalNames.end() ? positional->second : "--" + name;
    return makeError(ErrorKind::BadInput, "missing " + typed + " (see --help)");
  }
  return args.values[name].as<std::string>();
}

std::string optional(const ParsedArgs &args, const std::string &name) {
  return args.values.count(name) ? args.values[name].as<std::string>() : "";
}

std::vector<std::string> many(const ParsedArgs &args, const std::string &name) {
  return args.values.count(name) ? args.values[name].as<std::vector<std::string>>()
                                 : std::vector<std::string>{};
}

llvm::Expected<std::string> spelledEither(const ParsedArgs &args, const std::string &name,
                                          const std::string &older) {
  if (args.values.count(name) && args.values.count(older))
    return makeError(ErrorKind::BadInput,
                     "--" + name + " and --" + older + " are one option: give it once");
  return args.values.count(name) ? optional(args, name) : optional(args, older);
}

llvm::Expected<std::string> optionalText(const ParsedArgs &args, const std::string &name,
                                         size_t maxBytes) {
  std::string text = optional(args, name);
  if (llvm::Error error = checkLength("--" + name, text, maxBytes))
    return error;
  return text;
}

llvm::Expected<std::map<std::string, std::string>> tagsFrom(const ParsedArgs &args,
                                                            const std::string &name) {
  return operations::parseTags(many(args, name));
}

} // namespace graceful::cli
