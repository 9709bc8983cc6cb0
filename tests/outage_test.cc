// PostgreSQL stopped at once (pg_ctl stop -m immediate) in the middle of
// promotions: each one either finished before or fails with one clear line
// (never a signal, never a hang), commands against the stopped server say
// so, and after crash recovery the store passes `check` and works. The
// server is this test's own (scripts/pg-server), so stopping it disturbs
// no other test.
#include "graceful/support/tensor.h"
#include "graceful/testing/process.h"
#include "graceful/testing/stores.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <random>
#include <thread>

namespace graceful::testing {
namespace {

class OutageTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!postgresAdminUri())
      GTEST_SKIP() << "GRACEFUL_TEST_PG is not set; ctest sets it";
    state_ = directory_.file("pg.state");
    ASSERT_EQ(pgServer("start " + state_ + " " + std::to_string(GRACEFUL_OUTAGE_PG_PORT)), 0);
    started_ = true;
    env_ = {{"GRACEFUL_STORE", "postgresql://graceful:graceful-test@127.0.0.1:" +
                                   std::to_string(GRACEFUL_OUTAGE_PG_PORT) + "/postgres"},
            {"GRACEFUL_ARTIFACTS", directory_.file("artifacts")}};
    ASSERT_EQ(runGraceful({"init"}, env_).exitCode, 0);
    for (int i = 0; i < 3; ++i) {
      std::string model = directory_.file("m" + std::to_string(i) + ".onnx");
      writeTinyOnnxModel(model, i);
      ASSERT_EQ(runGraceful({"register", "m", "--onnx", model}, env_).exitCode, 0);
    }
    Tensor inputs = makeTensor(DType::Float32, {256, 4});
    Tensor labels = makeTensor(DType::Int64, {256});
    for (int64_t i = 0; i < 256 * 4; ++i)
      inputs.data<float>()[i] = static_cast<float>((i * 7919) % 13) - 6.0f;
    for (int64_t i = 0; i < 256; ++i)
      labels.data<int64_t>()[i] = i % 3;
    ASSERT_FALSE(writeNpy(directory_.file("x.npy"), inputs));
    ASSERT_FALSE(writeNpy(directory_.file("y.npy"), labels));
    policy_ = directory_.file("gated.yaml");
    std::ofstream(policy_) << "gates:\n  - nfr: {inputs: x.npy, labels: y.npy, max_nfr: 1.0}\n";
  }

  void TearDown() override {
    if (started_)
      pgServer("stop " + state_);
  }

  static int pgServer(const std::string &arguments) {
    return std::system((std::string(GRACEFUL_PG_SERVER) + " " + arguments + " >/dev/null").c_str());
  }

  std::vector<std::string> promotion(int trial) const {
    return {"promote", "m@" + std::to_string(1 + trial % 3), "--to", "production", "--policy",
            policy_};
  }

  TemporaryDirectory directory_;
  std::string state_;
  bool started_ = false;
  Environment env_;
  std::string policy_;
};

// A store that went away is "unavailable, retry" (exit 4), in one line.
void expectCleanFailure(const ProcessResult &result, const std::string &what) {
  ASSERT_EQ(result.exitCode, 4) << what << ": exit " << result.exitCode << ": " << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
      << what << ": " << result.err;
}

TEST_F(OutageTest, ServerStoppedMidPromotionLeavesNothingHalfDone) {
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(runGraceful(promotion(0), env_).exitCode, 0);
  auto runTime = std::chrono::steady_clock::now() - start;
  std::mt19937 random(20261201);
  std::uniform_real_distribution<double> fraction(0.0, 1.0);
  int interrupted = 0, finished = 0;
  for (int trial = 1; trial <= 12; ++trial) {
    auto command =
        std::async(std::launch::async, [&, trial] { return runGraceful(promotion(trial), env_); });
    std::this_thread::sleep_for(
        std::chrono::duration_cast<std::chrono::microseconds>(runTime * fraction(random)));
    ASSERT_EQ(pgServer("crash " + state_), 0);
    ProcessResult result = command.get();
    if (result.exitCode == 0) {
      ++finished;
    } else {
      ++interrupted;
      expectCleanFailure(result, "trial " + std::to_string(trial));
    }
    expectCleanFailure(runGraceful({"show", "m"}, env_), "show while the server is down");
    ASSERT_EQ(pgServer("resume " + state_ + " " + std::to_string(GRACEFUL_OUTAGE_PG_PORT)), 0);
    ProcessResult check = runGraceful({"check"}, env_);
    ASSERT_EQ(check.exitCode, 0) << "after trial " << trial << ":\n" << check.out << check.err;
  }
  EXPECT_GT(interrupted, 0);
  RecordProperty("interrupted", interrupted);
  RecordProperty("finished", finished);
  EXPECT_EQ(runGraceful(promotion(1), env_).exitCode, 0);
  EXPECT_EQ(runGraceful({"check"}, env_).exitCode, 0);
}

} // namespace
} // namespace graceful::testing
