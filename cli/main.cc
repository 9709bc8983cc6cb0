// graceful: a model registry with update gating.
#include "command.h"
#include "graceful/support/error.h"

#include <iostream>
#include <new>

namespace graceful::cli {
namespace {

void printOverview() {
  std::cout << "graceful: a model registry that promotes a new model version only when the "
               "update is graceful.\n\nUsage: graceful COMMAND [OPTIONS]\n\nCommands:\n";
  for (const CommandSpec &command : allCommands()) {
    std::string name = command.name;
    name.resize(std::max<size_t>(name.size() + 2, 12), ' ');
    std::cout << "  " << name << command.summary << "\n";
  }
  std::cout << "\nEvery command takes --store URI (or GRACEFUL_STORE; default "
               "sqlite:.graceful/registry.db),\n--artifacts DIR (or GRACEFUL_ARTIFACTS), --json "
               "and --help.\nExit codes: 0 success, 1 a gate failed, 2 bad input, 3 conflict.\n";
}

void declareCommon(po::options_description &options, CommonOptions &common) {
  options.add_options()("help,h", "show this help")(
      "store", po::value(&common.store), "registry URI: sqlite:PATH or postgresql://...")(
      "artifacts", po::value(&common.artifacts), "artifact directory")(
      "json", po::bool_switch(&common.json), "machine-readable output on stdout");
}

llvm::Expected<int> runCommand(const CommandSpec &command, const std::vector<std::string> &args) {
  ParsedArgs parsed;
  po::options_description options("Options");
  po::positional_options_description positional;
  declareCommon(options, parsed.common);
  command.declare(options, positional);
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(),
              parsed.values);
    po::notify(parsed.values);
  } catch (const po::error &e) {
    return makeError(ErrorKind::BadInput, "graceful " + command.name + ": " + e.what() +
                                              " (see graceful " + command.name + " --help)");
  }
  if (parsed.values.count("help")) {
    std::cout << "Usage: graceful " << command.name << " " << command.usage << "\n\n"
              << command.summary << "\n\n"
              << options << "\n";
    return kSuccess;
  }
  return command.run(parsed);
}

// Memory exhaustion anywhere (an input or a model output larger than the
// machine holds) is a refusal like any other, exit 2 with one line, not an
// abort with exit 134.
llvm::Expected<int> runGuarded(const CommandSpec &command, const std::vector<std::string> &args) {
  try {
    return runCommand(command, args);
  } catch (const std::bad_alloc &) {
    return makeError(ErrorKind::BadInput,
                     "graceful " + command.name + ": out of memory (an input too large?)");
  }
}

int exitCodeFor(ErrorKind kind) { return kind == ErrorKind::Conflict ? kConflict : kBadInput; }

} // namespace
} // namespace graceful::cli

int main(int argc, char **argv) {
  using namespace graceful::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    printOverview();
    return args.empty() ? kBadInput : kSuccess;
  }
  std::string name = args[0];
  args.erase(args.begin());
  // Two-word commands ("gate run") are named with a space.
  if (!args.empty() && !args[0].starts_with("-"))
    for (const CommandSpec &command : allCommands())
      if (command.name == name + " " + args[0]) {
        name = command.name;
        args.erase(args.begin());
        break;
      }
  for (const CommandSpec &command : allCommands()) {
    if (command.name != name)
      continue;
    llvm::Expected<int> code = runGuarded(command, args);
    if (code)
      return *code;
    graceful::ErrorReport report = graceful::describeError(code.takeError());
    std::cerr << "graceful: error: " << report.message << "\n";
    return exitCodeFor(report.kind);
  }
  std::cerr << "graceful: error: unknown command '" << name << "' (see graceful --help)\n";
  return kBadInput;
}
