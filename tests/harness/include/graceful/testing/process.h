// Running the real `graceful` binary from tests, as a pipeline would.
#pragma once

#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace graceful::testing {

struct ProcessResult {
  int exitCode = -1; // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Path of the graceful binary under test (set by the build).
std::string gracefulBinary();

using Environment = std::map<std::string, std::string>;

// Runs `graceful args...` to completion in `directory`, capturing output.
ProcessResult runGraceful(const std::vector<std::string> &args, const Environment &env = {},
                          const std::string &directory = "");

// Starts `graceful args...` without waiting; output goes to /dev/null.
pid_t spawnGraceful(const std::vector<std::string> &args, const Environment &env = {});
// Starts `graceful args...` without waiting, its stdout readable from
// `*stdoutFd` (the caller closes it) and stderr the caller's (a failing
// server's message shows in the test's log): for servers that announce
// where they listen.
pid_t spawnGracefulReading(const std::vector<std::string> &args, const Environment &env,
                           int *stdoutFd);
// Waits for a spawned process: its exit code, or -1 if a signal ended it.
int waitForExit(pid_t pid);

} // namespace graceful::testing
