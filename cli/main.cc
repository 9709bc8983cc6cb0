// graceful: a model registry with update gating.
#include "command.h"
#include "graceful/compiler/Blas.h"
#include "graceful/support/error.h"

#include <iostream>
#include <new>
#include <sstream>

#ifndef GRACEFUL_VERSION
#define GRACEFUL_VERSION "unknown"
#endif

namespace graceful::cli {
namespace {

void printOverview() {
  std::cout << "graceful: a model registry that promotes a new model version only when the "
               "update is graceful.\n\nUsage: graceful COMMAND [OPTIONS]\n       graceful help "
               "COMMAND\n\nCommands:\n";
  for (const CommandSpec &command : allCommands()) {
    std::string name = command.name;
    name.resize(std::max<size_t>(name.size() + 2, 12), ' ');
    std::cout << "  " << name << command.summary << "\n";
  }
  std::cout << "\nEvery command takes --store URI (or GRACEFUL_STORE; default\n"
               "sqlite:.graceful/registry.db; http(s)://HOST:PORT is a graceful serve, with\n"
               "GRACEFUL_TOKEN), --artifacts DIR (or GRACEFUL_ARTIFACTS), --json and --help.\n"
               "Exit codes: 0 success, 1 a gate failed, 2 bad input, 3 conflict, 4 unavailable\n"
               "(retry).\n";
}

void declareCommon(po::options_description &options, CommonOptions &common) {
  options.add_options()("help,h", "show this help")(
      "store", po::value(&common.store),
      "registry URI: sqlite:PATH, postgresql://... or http(s)://HOST:PORT (a server)")(
      "artifacts", po::value(&common.artifacts), "artifact directory")(
      "json", po::bool_switch(&common.json), "machine-readable output on stdout");
}

// The words of a usage line that name positional arguments, in order:
// "NAME@V --to ALIAS [--expect V]" gives NAME@V (ALIAS belongs to --to).
std::vector<std::string> positionalWords(const std::string &usage) {
  std::istringstream words(usage);
  std::vector<std::string> names;
  std::string previous;
  for (std::string word; words >> word; previous = word)
    if (!word.starts_with("-") && !word.starts_with("[") && !word.starts_with("(") &&
        !previous.starts_with("-") && !previous.starts_with("["))
      names.push_back(word);
  return names;
}

void declare(const CommandSpec &command, po::options_description &options,
             po::positional_options_description &positional, ParsedArgs &parsed) {
  declareCommon(options, parsed.common);
  command.declare(options, positional);
  std::vector<std::string> words = positionalWords(command.usage);
  for (unsigned i = 0; i < words.size() && i < positional.max_total_count(); ++i)
    parsed.positionalNames.emplace(positional.name_for_position(i), words[i]);
}

void printHelp(const CommandSpec &command) {
  ParsedArgs parsed;
  po::options_description options("Options");
  po::positional_options_description positional;
  declare(command, options, positional, parsed);
  std::cout << "Usage: graceful " << command.name << " " << command.usage << "\n\n"
            << command.summary << "\n\n"
            << options << "\n";
}

llvm::Expected<int> runCommand(const CommandSpec &command, const std::vector<std::string> &args,
                               bool &json) {
  ParsedArgs parsed;
  po::options_description options("Options");
  po::positional_options_description positional;
  declare(command, options, positional, parsed);
  // --json decides how even a usage error is reported.
  for (const std::string &arg : args)
    json = json || arg == "--json";
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(),
              parsed.values);
    po::notify(parsed.values);
  } catch (const po::error &e) {
    return makeError(ErrorKind::BadInput, "graceful " + command.name + ": " + e.what() +
                                              " (see graceful " + command.name + " --help)");
  }
  if (parsed.values.count("help")) {
    printHelp(command);
    return kSuccess;
  }
  return command.run(parsed);
}

// Memory exhaustion anywhere (an input or a model output larger than the
// machine holds) is a refusal like any other, exit 2 with one line, not an
// abort with exit 134.
llvm::Expected<int> runGuarded(const CommandSpec &command, const std::vector<std::string> &args,
                               bool &json) {
  try {
    return runCommand(command, args, json);
  } catch (const std::bad_alloc &) {
    return makeError(ErrorKind::BadInput,
                     "graceful " + command.name + ": out of memory (an input too large?)");
  }
}

const CommandSpec *findCommand(std::vector<std::string> &args) {
  std::string name = args[0];
  args.erase(args.begin());
  // Two-word commands ("gate run") are named with a space.
  if (!args.empty() && !args[0].starts_with("-"))
    for (const CommandSpec &command : allCommands())
      if (command.name == name + " " + args[0]) {
        args.erase(args.begin());
        return &command;
      }
  for (const CommandSpec &command : allCommands())
    if (command.name == name)
      return &command;
  return nullptr;
}

// An error: one line on stderr, a JSON object with --json; the exit code
// follows the kind.
int fail(const ErrorReport &report, bool json, const std::string &where) {
  if (json)
    std::cerr << errorJson(report, where) << "\n";
  else
    std::cerr << "graceful: error: " << report.message << "\n";
  return exitCodeFor(report.kind);
}

// `graceful help [COMMAND...]`.
int runHelp(std::vector<std::string> args) {
  if (args.empty()) {
    printOverview();
    return kSuccess;
  }
  std::string name = args[0];
  if (const CommandSpec *command = findCommand(args)) {
    printHelp(*command);
    return kSuccess;
  }
  return fail({ErrorKind::BadInput, "unknown command '" + name + "' (see graceful --help)"}, false,
              "");
}

} // namespace
} // namespace graceful::cli

int main(int argc, char **argv) {
  using namespace graceful::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    printOverview();
    return args.empty() ? kBadInput : kSuccess;
  }
  if (args[0] == "help")
    return runHelp({args.begin() + 1, args.end()});
  if (args[0] == "--version") {
    std::cout << "graceful " << GRACEFUL_VERSION << "\n";
    return kSuccess;
  }
  std::string name = args[0];
  bool json = false;
  const CommandSpec *command = findCommand(args);
  if (!command) {
    for (const std::string &arg : args)
      json = json || arg == "--json";
    return fail(
        {graceful::ErrorKind::BadInput, "unknown command '" + name + "' (see graceful --help)"},
        json, "");
  }
  if (command->runsModels)
    graceful::selectBlasKernels(argv);
  llvm::Expected<int> code = runGuarded(*command, args, json);
  if (code)
    return *code;
  return fail(graceful::describeError(code.takeError()), json, command->name);
}
