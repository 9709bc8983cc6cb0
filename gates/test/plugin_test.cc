// Loading gate plugins: the shipped calibration plugin registers its gate;
// wrong ABI versions, non-libraries and missing directories are refused.
#include "graceful/gates/gate.h"
#include "graceful/gates/plugin.h"
#include "graceful/support/error.h"
#include "graceful/testing/stores.h"

#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace graceful::gates {
namespace {

using ::testing::HasSubstr;

std::string messageOf(llvm::Error error) {
  EXPECT_TRUE(bool(error));
  return error ? describeError(std::move(error)).message : "";
}

TEST(Plugins, CalibrationPluginRegistersItsGate) {
  ASSERT_FALSE(loadPlugins({GRACEFUL_PLUGIN_DIR}));
  auto names = registeredGates();
  EXPECT_THAT(names, ::testing::Contains("calibration"));
  EXPECT_THAT(names, ::testing::Contains("nfr")); // built-ins stay
  ASSERT_FALSE(loadPlugins({GRACEFUL_PLUGIN_DIR})); // loading twice is harmless
}

TEST(Plugins, WrongAbiVersionIsRefused) {
  std::string message = messageOf(loadPlugin(GRACEFUL_WRONG_ABI_PLUGIN));
  EXPECT_THAT(message, HasSubstr("wrong_abi_plugin.so"));
  EXPECT_THAT(message, HasSubstr("built for gate ABI version 999, this graceful has version " +
                                 std::to_string(kGateAbiVersion)));
}

TEST(Plugins, FilesThatAreNotPluginsAreRefused) {
  testing::TemporaryDirectory directory;
  std::string garbage = directory.file("garbage.so");
  std::ofstream(garbage) << "not a library";
  EXPECT_THAT(messageOf(loadPlugins({directory.path()})),
              HasSubstr("plugin " + garbage + ": not a shared library"));
  EXPECT_THAT(messageOf(loadPlugins({directory.file("absent")})),
              HasSubstr("plugin directory " + directory.file("absent") + " does not exist"));
}

TEST(Plugins, SearchPathComesFromOptionsThenEnvironment) {
  ::setenv("GRACEFUL_PLUGIN_PATH", "/a:/b::/c", 1);
  EXPECT_EQ(pluginDirectories({"/x"}), (std::vector<std::string>{"/x", "/a", "/b", "/c"}));
  ::unsetenv("GRACEFUL_PLUGIN_PATH");
  EXPECT_EQ(pluginDirectories({}), std::vector<std::string>{});
}

} // namespace
} // namespace graceful::gates
