// A disk that fills up during register and promote: each command either
// succeeds or fails with one clear line (exit 4: retry; never a signal), and
// once space is back the store passes `check`, holds no orphan artifacts
// and works. The store, its artifacts and the report files live on a small
// tmpfs that a filler file fills to a chosen number of free bytes, swept in
// steps over the artifact copy, the SQLite commit and the report writes.
#include "graceful/testing/process.h"
#include "graceful/testing/stores.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

namespace graceful::testing {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kDiskBytes = 4 << 20;
constexpr uint64_t kStep = 4096;

class DiskFullTest : public ::testing::Test {
protected:
  void SetUp() override {
    disk_ = directory_.file("disk");
    fs::create_directories(disk_);
    std::string options = "size=" + std::to_string(kDiskBytes);
    if (::mount("tmpfs", disk_.c_str(), "tmpfs", 0, options.c_str()) != 0)
      GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
    mounted_ = true;
    env_ = {{"GRACEFUL_STORE", "sqlite:" + disk_ + "/registry.db"},
            {"GRACEFUL_ARTIFACTS", disk_ + "/artifacts"}};
    ASSERT_EQ(runGraceful({"init"}, env_).exitCode, 0);
    policy_ = directory_.file("open.yaml");
    std::ofstream(policy_) << "gates: []\n";
  }

  void TearDown() override {
    if (mounted_)
      ::umount(disk_.c_str());
  }

  uint64_t freeBytes() const {
    struct statvfs info {};
    ::statvfs(disk_.c_str(), &info);
    return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
  }

  // Leaves about `bytes` free (tmpfs counts whole pages).
  void leaveFree(uint64_t bytes) {
    fs::remove(filler());
    uint64_t available = freeBytes();
    std::ofstream out(filler(), std::ios::binary);
    std::string block(kStep, 'f');
    for (uint64_t written = 0; written + bytes + kStep <= available; written += kStep)
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
  }

  void freeSpace() { fs::remove(filler()); }

  std::string filler() const { return disk_ + "/filler"; }

  // Each failure is "unavailable, retry" (exit 4) in one line naming the
  // problem; the store is then whole.
  void expectCleanOutcome(const ProcessResult &result, uint64_t freeBytes) {
    ASSERT_TRUE(result.exitCode == 0 || result.exitCode == 4)
        << "exit " << result.exitCode << " with " << freeBytes << " bytes free: " << result.err;
    if (result.exitCode != 0) {
      EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
      EXPECT_NE(result.err.find("graceful: error:"), std::string::npos) << result.err;
    }
    freeSpace();
    ProcessResult check = runGraceful({"check"}, env_);
    ASSERT_EQ(check.exitCode, 0) << "with " << freeBytes << " bytes free:\n"
                                 << check.out << check.err;
  }

  size_t artifactFiles() const {
    size_t count = 0;
    for (const auto &entry : fs::recursive_directory_iterator(disk_ + "/artifacts"))
      count += entry.is_regular_file() ? 1 : 0;
    return count;
  }

  TemporaryDirectory directory_;
  std::string disk_;
  bool mounted_ = false;
  Environment env_;
  std::string policy_;
};

TEST_F(DiskFullTest, RegistrationsOnAFillingDiskFailCleanlyOrSucceed) {
  int failed = 0, succeeded = 0;
  for (int trial = 0; trial < 40; ++trial) {
    // ~48 KB each: the copy, the digest and the commit all need room.
    std::string model = directory_.file("m" + std::to_string(trial) + ".onnx");
    writeTinyOnnxModel(model, trial, 4000);
    uint64_t free = static_cast<uint64_t>(trial) * 2 * kStep;
    leaveFree(free);
    ProcessResult result = runGraceful({"register", "m", "--onnx", model}, env_);
    expectCleanOutcome(result, free);
    (result.exitCode == 0 ? succeeded : failed) += 1;
    EXPECT_EQ(artifactFiles(), static_cast<size_t>(succeeded))
        << "orphan artifacts after trial " << trial;
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(succeeded, 0);
  RecordProperty("failed", failed);
  EXPECT_EQ(runGraceful({"register", "m", "--onnx", directory_.file("m0.onnx")}, env_).exitCode, 0);
}

TEST_F(DiskFullTest, PromotionsWritingReportsOnAFillingDiskFailCleanlyOrSucceed) {
  for (int version = 0; version < 2; ++version) {
    std::string model = directory_.file("m" + std::to_string(version) + ".onnx");
    writeTinyOnnxModel(model, version);
    ASSERT_EQ(runGraceful({"register", "m", "--onnx", model}, env_).exitCode, 0);
  }
  int failed = 0, succeeded = 0;
  for (int trial = 0; trial < 24; ++trial) {
    uint64_t free = static_cast<uint64_t>(trial) * kStep;
    leaveFree(free);
    std::string report = disk_ + "/report" + std::to_string(trial);
    ProcessResult result = runGraceful(
        {"promote", "m@" + std::to_string(1 + trial % 2), "--to", "staging", "--policy", policy_,
         "--report", report + ".html", "--junit", report + ".xml", "--markdown", report + ".md"},
        env_);
    expectCleanOutcome(result, free);
    (result.exitCode == 0 ? succeeded : failed) += 1;
    // No report file is left half-written: each is absent or whole.
    for (const char *extension : {".html", ".xml", ".md"}) {
      std::string path = report + extension;
      if (result.exitCode != 0)
        continue;
      ASSERT_TRUE(fs::exists(path)) << path;
      EXPECT_GT(fs::file_size(path), 0u) << path;
    }
    for (const auto &entry : fs::directory_iterator(disk_))
      EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos)
          << "temporary file left: " << entry.path();
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(succeeded, 0);
}

} // namespace
} // namespace graceful::testing
