#include "graceful/testing/process.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

namespace graceful::testing {
namespace {

std::vector<std::string> mergedEnvironment(const Environment &extra) {
  Environment merged;
  for (char **entry = environ; *entry != nullptr; ++entry) {
    std::string text = *entry;
    size_t equals = text.find('=');
    merged[text.substr(0, equals)] = text.substr(equals + 1);
  }
  for (const auto &[key, value] : extra)
    merged[key] = value;
  std::vector<std::string> flat;
  for (const auto &[key, value] : merged)
    flat.push_back(key + "=" + value);
  return flat;
}

std::vector<char *> pointers(std::vector<std::string> &strings) {
  std::vector<char *> result;
  for (std::string &s : strings)
    result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

std::string drain(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t got;
  while ((got = ::read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<size_t>(got));
  ::close(fd);
  return text;
}

pid_t spawn(const std::vector<std::string> &args, const Environment &env,
            posix_spawn_file_actions_t *actions) {
  std::vector<std::string> argv = {gracefulBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> envp = mergedEnvironment(env);
  auto argvPointers = pointers(argv);
  auto envPointers = pointers(envp);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0].c_str(), actions, nullptr, argvPointers.data(),
                  envPointers.data()) != 0)
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(errno));
  return pid;
}

// Every --json run leaves its arguments, output and exit code (N.args one
// per line, N.out, N.err, N.code) in GRACEFUL_TEST_JSON_LOG (by default the
// build's json-outputs; empty: nowhere), for the test that validates them
// against docs/schemas/ (tests/json_schemas_test.py).
void recordJsonRun(const std::vector<std::string> &args, const ProcessResult &result) {
  const char *directory = std::getenv("GRACEFUL_TEST_JSON_LOG");
  if (directory == nullptr)
    directory = GRACEFUL_JSON_LOG_DEFAULT;
  if (*directory == '\0' || std::find(args.begin(), args.end(), "--json") == args.end())
    return;
  std::filesystem::create_directories(directory);
  static std::atomic<int> counter{0};
  std::string base =
      std::string(directory) + "/" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::ofstream argsFile(base + ".args");
  for (const std::string &arg : args)
    argsFile << arg << "\n";
  std::ofstream(base + ".out") << result.out;
  std::ofstream(base + ".err") << result.err;
  std::ofstream(base + ".code") << result.exitCode << "\n";
}

} // namespace

std::string gracefulBinary() { return GRACEFUL_BINARY; }

int waitForExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ProcessResult runGraceful(const std::vector<std::string> &args, const Environment &env,
                          const std::string &directory) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  if (!directory.empty())
    posix_spawn_file_actions_addchdir_np(&actions, directory.c_str());
  pid_t pid = spawn(args, env, &actions);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  ProcessResult result;
  // Read both pipes at once so a chatty child never blocks on a full pipe.
  std::thread errReader([&] { result.err = drain(err[0]); });
  result.out = drain(out[0]);
  errReader.join();
  result.exitCode = waitForExit(pid);
  recordJsonRun(args, result);
  return result;
}

pid_t spawnGracefulReading(const std::vector<std::string> &args, const Environment &env,
                           int *stdoutFd) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  pid_t pid = spawn(args, env, &actions);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  *stdoutFd = out[0];
  return pid;
}

pid_t spawnGraceful(const std::vector<std::string> &args, const Environment &env) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = spawn(args, env, &actions);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

} // namespace graceful::testing
