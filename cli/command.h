// The `graceful` command: one handler per subcommand, each parsing its own
// options. Handlers return an exit code; errors become one line on stderr.
#pragma once

#include "graceful/operations/operations.h"
#include "graceful/registry/store.h"
#include "graceful/server/webhooks.h"
#include "graceful/support/error.h"
#include "graceful/support/identity.h"
#include "graceful/support/tensor.h"
#include "remote.h"

#include <boost/program_options.hpp>
#include <functional>
#include <llvm/Support/Error.h>
#include <map>
#include <string>
#include <vector>

namespace graceful::cli {

namespace po = boost::program_options;

// The contract's exit codes (support/error.h maps error kinds to them).
enum ExitCode {
  kSuccess = kExitSuccess,
  kGateFailed = kExitGateFailed,
  kBadInput = kExitBadInput,
  kConflict = kExitConflict,
  kUnavailable = kExitUnavailable
};

// Options every subcommand accepts.
struct CommonOptions {
  std::string store;
  std::string artifacts;
  bool json = false;
};

// A parsed subcommand line: its variables plus the common options.
struct ParsedArgs {
  po::variables_map values;
  CommonOptions common;
  bool helpShown = false;
  // Options given by position, named in errors as their usage spells them.
  std::map<std::string, std::string> positionalNames;
};

struct CommandSpec {
  std::string name;
  std::string usage;   // e.g. "NAME --onnx FILE [--parent NAME@V[:KIND]]..."
  std::string summary; // one line for `graceful --help`
  std::function<void(po::options_description &, po::positional_options_description &)> declare;
  std::function<llvm::Expected<int>(const ParsedArgs &)> run;
  // Whether it may run a model: only those choose OpenBLAS's kernels
  // first (compiler/Blas.h), which can mean running the program again.
  bool runsModels = false;
};

// Every subcommand, in the order `graceful --help` lists them.
const std::vector<CommandSpec> &allCommands();

std::vector<CommandSpec> registryCommands();
std::vector<CommandSpec> promotionCommands();
std::vector<CommandSpec> compilerCommands();
std::vector<CommandSpec> rewriteCommands();
std::vector<CommandSpec> serverCommands();
std::vector<CommandSpec> datasetCommands();
std::vector<CommandSpec> webhookCommands();

// The options of webhook delivery, which serve and `webhook deliver` share.
void declareDeliveryOptions(po::options_description &options);
llvm::Expected<server::DeliveryOptions> deliveryOptionsFrom(const ParsedArgs &args);

// Opens the store the common options (or the environment) name; commands
// that only read open it read-only, so they work on a read-only store. A
// server (http(s)://) is refused: onStore runs the commands a server can.
enum class StoreAccess { ReadWrite, ReadOnly };
llvm::Expected<std::unique_ptr<registry::Store>>
openStoreFor(const CommonOptions &options, StoreAccess access = StoreAccess::ReadWrite);

// Runs a command against the store the common options name: through the
// server (`remote`) when it is http(s)://, else on the store opened with
// `access` (`local`).
template <typename T, typename RemoteCall, typename LocalCall>
llvm::Expected<T> onStore(const CommonOptions &options, StoreAccess access, RemoteCall remote,
                          LocalCall local) {
  auto server =
      remoteFor(registry::storeConfigFromEnvironment(options.store, options.artifacts).uri);
  if (!server)
    return server.takeError();
  if (*server)
    return remote(**server);
  auto store = openStoreFor(options, access);
  if (!store)
    return store.takeError();
  return local(**store);
}

// onStore for a command that changes the registry: the local call gets an
// operations::Context with the actor of GRACEFUL_ACTOR (a server records
// its token's subject instead).
template <typename T, typename RemoteCall, typename LocalCall>
llvm::Expected<T> changeStore(const CommonOptions &options, RemoteCall remote, LocalCall local,
                              bool showProgress = false) {
  return onStore<T>(options, StoreAccess::ReadWrite, remote, [&](registry::Store &store) {
    operations::Context context{store, currentActor(), showProgress};
    return local(context);
  });
}

// Runs a model with the graceful compiler: in batches of `batch` when every
// input has the model's open sample axis first, else at the exact shapes.
llvm::Expected<std::vector<Tensor>> executeModel(const std::string &path,
                                                 const std::vector<Tensor> &inputs, int64_t batch);

// A required positional or option, with a usage error naming it as typed
// ("missing --onnx", "missing NAME").
llvm::Expected<std::string> required(const ParsedArgs &args, const std::string &name);
std::string optional(const ParsedArgs &args, const std::string &name);
std::vector<std::string> many(const ParsedArgs &args, const std::string &name);
// An option with an older spelling still accepted ("" when neither is
// given; both at once is an error).
llvm::Expected<std::string> spelledEither(const ParsedArgs &args, const std::string &name,
                                          const std::string &older);

// An optional free-text option (--description, --reason), refused when
// longer than `maxBytes` (support/limits.h).
llvm::Expected<std::string> optionalText(const ParsedArgs &args, const std::string &name,
                                         size_t maxBytes);

// What rollback and alias delete take: NAME@ALIAS (or NAME and --alias)
// from positional `target`, and --reason.
template <typename Request>
llvm::Expected<Request> aliasRequest(const ParsedArgs &args, const std::string &target) {
  auto name = required(args, target);
  if (!name)
    return name.takeError();
  Request request;
  request.set_model(*name);
  request.set_alias(optional(args, "alias"));
  request.set_reason(optional(args, "reason"));
  return request;
}

// K=V tags from option `name`, each key checked by the registry's rules and
// each value against kMaxTagValueBytes.
llvm::Expected<std::map<std::string, std::string>> tagsFrom(const ParsedArgs &args,
                                                            const std::string &name);

} // namespace graceful::cli
