// Fresh stores for tests on both backends: a SQLite file in a temporary
// directory, or a new database on the test suite's PostgreSQL server.
#pragma once

#include "graceful/testing/process.h"

#include <optional>
#include <string>

namespace graceful::testing {

enum class Backend { Sqlite, Postgres };
std::string backendName(Backend backend);

// A temporary directory removed when the object goes.
class TemporaryDirectory {
public:
  TemporaryDirectory();
  ~TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory &) = delete;
  TemporaryDirectory &operator=(const TemporaryDirectory &) = delete;
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

struct TestStore {
  std::string uri;
  std::string artifacts;
  // GRACEFUL_STORE / GRACEFUL_ARTIFACTS for the CLI.
  Environment environment() const;
};

// The admin URI of the test PostgreSQL server (GRACEFUL_TEST_PG), if any.
std::optional<std::string> postgresAdminUri();

// A new, empty store (not yet initialised). For Postgres this creates a
// database; nullopt if no test server is configured.
std::optional<TestStore> makeStore(Backend backend, const TemporaryDirectory &directory);

// Writes a small valid ONNX model: x[N, inputWidth] times weights drawn
// from `seed`, giving y[N, 3] (about 12 bytes per unit of width).
void writeTinyOnnxModel(const std::string &path, int seed, int inputWidth = 4);

} // namespace graceful::testing
