// Processes killed with SIGKILL at random moments during register and
// promote must leave a store that `graceful check` passes.
#include "graceful/testing/process.h"
#include "graceful/testing/stores.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <signal.h>
#include <thread>

namespace graceful::testing {
namespace {

int iterations() {
  const char *text = std::getenv("GRACEFUL_CRASH_ITERATIONS");
  return text != nullptr ? std::max(1, std::atoi(text)) : 200;
}

class CrashTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    auto store = makeStore(GetParam(), directory_);
    if (!store)
      GTEST_SKIP() << "GRACEFUL_TEST_PG is not set; ctest sets it";
    env_ = store->environment();
    ASSERT_EQ(runGraceful({"init"}, env_).exitCode, 0);
    for (int i = 0; i < 8; ++i) {
      models_.push_back(directory_.file("m" + std::to_string(i) + ".onnx"));
      writeTinyOnnxModel(models_.back(), i);
    }
    policy_ = directory_.file("policy.yaml");
    std::ofstream(policy_) << "gates: []\n";
    for (int i = 0; i < 3; ++i)
      ASSERT_EQ(
          runGraceful({"register", "m", "--onnx", models_[static_cast<size_t>(i)]}, env_).exitCode,
          0);
  }

  void expectCheckPasses(int iteration) {
    ProcessResult check = runGraceful({"check"}, env_);
    ASSERT_EQ(check.exitCode, 0) << "after iteration " << iteration << ":\n"
                                 << check.out << check.err;
  }

  TemporaryDirectory directory_;
  Environment env_;
  std::vector<std::string> models_;
  std::string policy_;
};

// How long an uninterrupted command takes here, so kill times spread over
// its whole run on slow and fast machines alike.
std::chrono::microseconds timeOneRun(const Environment &env, const std::vector<std::string> &args) {
  auto start = std::chrono::steady_clock::now();
  runGraceful(args, env);
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

TEST_P(CrashTest, KilledRegistrationsAndPromotionsLeaveAConsistentStore) {
  std::mt19937 random(20261125);
  std::uniform_int_distribution<size_t> pick(0, 7);
  std::uniform_real_distribution<double> fraction(0.0, 1.2);
  auto runTime = timeOneRun(env_, {"register", "m", "--onnx", models_[3]});
  int killed = 0;
  int finished = 0;
  int total = iterations();
  for (int i = 0; i < total; ++i) {
    std::vector<std::string> args;
    if (i % 2 == 0)
      args = {"register", "m",
              "--onnx",   models_[pick(random)],
              "--tag",    "iteration=" + std::to_string(i)};
    else
      args = {"promote",  "m@" + std::to_string(1 + pick(random) % 3),
              "--to",     "production",
              "--policy", policy_};
    pid_t pid = spawnGraceful(args, env_);
    // Every tenth command runs to completion, every tenth dies at once, the
    // rest at a random point of a typical run.
    bool letFinish = i % 10 == 9;
    if (!letFinish) {
      double at = i % 10 == 0 ? 0.0 : fraction(random);
      std::this_thread::sleep_for(
          std::chrono::microseconds(static_cast<long>(at * static_cast<double>(runTime.count()))));
      ::kill(pid, SIGKILL);
    }
    int code = waitForExit(pid);
    if (code == -1)
      ++killed;
    else
      ++finished;
    if (i % 25 == 24)
      expectCheckPasses(i);
  }
  expectCheckPasses(total);
  // Both outcomes happened, or the test proved nothing.
  EXPECT_GE(killed, total / 10);
  EXPECT_GE(finished, total / 10);
  RecordProperty("killed", killed);
  RecordProperty("finished", finished);
  // The store still works after all that.
  EXPECT_EQ(runGraceful({"register", "m", "--onnx", models_[0]}, env_).exitCode, 0);
  expectCheckPasses(total + 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         [](const auto &info) { return backendName(info.param); });

} // namespace
} // namespace graceful::testing
