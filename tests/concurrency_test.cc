// Real processes racing on one store, on both backends.
#include "graceful/testing/process.h"
#include "graceful/testing/stores.h"

#include <algorithm>
#include <fstream>
#include <gtest/gtest.h>

namespace graceful::testing {
namespace {

constexpr int kProcesses = 16;

class ConcurrencyTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    auto store = makeStore(GetParam(), directory_);
    if (!store)
      GTEST_SKIP() << "GRACEFUL_TEST_PG is not set; ctest sets it";
    env_ = store->environment();
    ASSERT_EQ(runGraceful({"init"}, env_).exitCode, 0);
    for (int i = 0; i <= kProcesses; ++i) {
      models_.push_back(directory_.file("m" + std::to_string(i) + ".onnx"));
      writeTinyOnnxModel(models_.back(), i);
    }
    policy_ = directory_.file("policy.yaml");
    std::ofstream(policy_) << "gates: []\n";
  }

  std::vector<int> runAll(const std::vector<std::vector<std::string>> &commands) {
    std::vector<pid_t> pids;
    for (const auto &args : commands)
      pids.push_back(spawnGraceful(args, env_));
    std::vector<int> codes;
    for (pid_t pid : pids)
      codes.push_back(waitForExit(pid));
    return codes;
  }

  TemporaryDirectory directory_;
  Environment env_;
  std::vector<std::string> models_;
  std::string policy_;
};

TEST_P(ConcurrencyTest, RegistrationsGetDistinctConsecutiveVersions) {
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < kProcesses; ++i)
    commands.push_back({"register", "shared", "--onnx", models_[static_cast<size_t>(i)]});
  std::vector<int> codes = runAll(commands);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), 0), kProcesses);
  ProcessResult show = runGraceful({"show", "shared"}, env_);
  for (int v = 1; v <= kProcesses; ++v)
    EXPECT_NE(show.out.find("shared@" + std::to_string(v) + "\n"), std::string::npos) << v;
  EXPECT_EQ(show.out.find("shared@" + std::to_string(kProcesses + 1)), std::string::npos);
  // Each of the 16 different files became exactly one version.
  std::string json = runGraceful({"show", "shared", "--json"}, env_).out;
  for (size_t i = 0; i < kProcesses; ++i) {
    const std::string &model = models_[i];
    ProcessResult mine = runGraceful({"register", "probe", "--onnx", model, "--json"}, env_);
    std::string digest = mine.out.substr(mine.out.find("sha256:"), 71);
    EXPECT_NE(json.find(digest), std::string::npos);
  }
  EXPECT_EQ(runGraceful({"check"}, env_).exitCode, 0);
}

TEST_P(ConcurrencyTest, ExactlyOnePromotionWinsTheCompareAndSet) {
  for (const std::string &model : models_)
    ASSERT_EQ(runGraceful({"register", "m", "--onnx", model}, env_).exitCode, 0);
  ASSERT_EQ(
      runGraceful({"promote", "m@1", "--to", "production", "--policy", policy_}, env_).exitCode, 0);
  std::vector<std::vector<std::string>> commands;
  // Versions 2..17 race to replace version 1.
  for (int v = 2; v <= kProcesses + 1; ++v)
    commands.push_back({"promote", "m@" + std::to_string(v), "--to", "production", "--policy",
                        policy_, "--expect", "1"});
  std::vector<int> codes = runAll(commands);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), 0), 1);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), 3), kProcesses - 1);
  ProcessResult audit = runGraceful({"audit", "--model", "m"}, env_);
  size_t promotions = 0;
  for (size_t at = audit.out.find(" promote "); at != std::string::npos;
       at = audit.out.find(" promote ", at + 1))
    ++promotions;
  EXPECT_EQ(promotions, 2u) << audit.out;
  EXPECT_EQ(runGraceful({"check"}, env_).exitCode, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConcurrencyTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         [](const auto &info) { return backendName(info.param); });

} // namespace
} // namespace graceful::testing
