// Processes killed with SIGKILL at random moments during register,
// promote (gated and not), rollback and tag must leave a store that
// `graceful check` passes.
#include "graceful/support/tensor.h"
#include "graceful/testing/process.h"
#include "graceful/testing/stores.h"

#include <chrono>
#include <cstdio>
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
    writeEvaluationData();
    // production moves only through a real gate (compile, evaluate, store
    // the report), so kills land in each of those steps; staging moves
    // with no gates at all.
    std::ofstream(directory_.file("gated.yaml"))
        << "gates:\n  - nfr: {inputs: x.npy, labels: y.npy, max_nfr: 1.0}\n";
    std::ofstream(directory_.file("open.yaml")) << "gates: []\n";
    for (int i = 0; i < 3; ++i)
      ASSERT_EQ(
          runGraceful({"register", "m", "--onnx", models_[static_cast<size_t>(i)]}, env_).exitCode,
          0);
    ASSERT_EQ(runGraceful({"alias", "protect", "m", "production", "--policy",
                           directory_.file("gated.yaml")},
                          env_)
                  .exitCode,
              0);
    // Two holders each, so the first rollbacks have somewhere to go.
    for (const char *version : {"m@1", "m@2"})
      for (const char *alias : {"production", "staging"})
        ASSERT_EQ(runGraceful({"promote", version, "--to", alias, "--policy",
                               directory_.file(alias == std::string("staging") ? "open.yaml"
                                                                               : "gated.yaml")},
                              env_)
                      .exitCode,
                  0)
            << version << " to " << alias;
  }

  void writeEvaluationData() {
    Tensor inputs = makeTensor(DType::Float32, {64, 4});
    Tensor labels = makeTensor(DType::Int64, {64});
    std::mt19937 random(7);
    std::normal_distribution<float> normal;
    for (int64_t i = 0; i < 64 * 4; ++i)
      inputs.data<float>()[i] = normal(random);
    for (int64_t i = 0; i < 64; ++i)
      labels.data<int64_t>()[i] = i % 3;
    ASSERT_FALSE(writeNpy(directory_.file("x.npy"), inputs));
    ASSERT_FALSE(writeNpy(directory_.file("y.npy"), labels));
  }

  // The i-th command of the trials: register, promote (to the protected,
  // gated alias or to an open one), rollback and tag, in turn.
  std::vector<std::string> command(int i, std::mt19937 &random) {
    std::uniform_int_distribution<size_t> pick(0, 7);
    std::string version = "m@" + std::to_string(1 + pick(random) % 3);
    switch (i % 5) {
    case 0:
      return {"register", "m",
              "--onnx",   models_[pick(random)],
              "--tag",    "iteration=" + std::to_string(i)};
    case 1:
      return {"promote", version, "--to", "production", "--policy", directory_.file("gated.yaml")};
    case 2:
      return {"promote", version, "--to", "staging", "--policy", directory_.file("open.yaml")};
    case 3:
      return {"rollback", "m",
              "--alias",  pick(random) % 2 ? "production" : "staging",
              "--reason", "trial " + std::to_string(i)};
    default:
      return {"tag", version, "trial=" + std::to_string(i), "--reason", "crash trial"};
    }
  }

  void expectCheckPasses(int iteration) {
    ProcessResult check = runGraceful({"check"}, env_);
    ASSERT_EQ(check.exitCode, 0) << "after iteration " << iteration << ":\n"
                                 << check.out << check.err;
  }

  TemporaryDirectory directory_;
  Environment env_;
  std::vector<std::string> models_;
};

// How long an uninterrupted command takes here, so kill times spread over
// its whole run on slow and fast machines alike. It must succeed: kill
// points spread over an early refusal would test little.
std::chrono::microseconds timeOneRun(const Environment &env, const std::vector<std::string> &args) {
  auto start = std::chrono::steady_clock::now();
  ProcessResult result = runGraceful(args, env);
  EXPECT_EQ(result.exitCode, 0) << args[0] << ": " << result.err;
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

TEST_P(CrashTest, KilledCommandsLeaveAConsistentStore) {
  std::mt19937 random(20261125);
  std::uniform_real_distribution<double> fraction(0.0, 1.2);
  std::vector<std::chrono::microseconds> runTimes;
  for (int kind = 0; kind < 5; ++kind)
    runTimes.push_back(timeOneRun(env_, command(kind, random)));
  int killed = 0;
  int finished = 0;
  int total = iterations();
  for (int i = 0; i < total; ++i) {
    pid_t pid = spawnGraceful(command(i, random), env_);
    // Every tenth command runs to completion, every tenth dies at once, the
    // rest at a random point of a typical run of its kind.
    bool letFinish = i % 10 == 9;
    if (!letFinish) {
      double at = i % 10 == 0 ? 0.0 : fraction(random);
      auto runTime = static_cast<double>(runTimes[static_cast<size_t>(i % 5)].count());
      std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long>(at * runTime)));
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
  std::printf("%d commands: %d killed, %d finished\n", total, killed, finished);
  // The store still works after all that.
  EXPECT_EQ(runGraceful({"register", "m", "--onnx", models_[0]}, env_).exitCode, 0);
  EXPECT_EQ(
      runGraceful(
          {"promote", "m@1", "--to", "production", "--policy", directory_.file("gated.yaml")}, env_)
          .exitCode,
      0);
  expectCheckPasses(total + 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         [](const auto &info) { return backendName(info.param); });

} // namespace
} // namespace graceful::testing
