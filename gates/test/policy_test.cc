#include "graceful/gates/gate.h"
#include "graceful/gates/policy.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/testing/stores.h"

#include <fstream>
#include <gtest/gtest.h>

namespace graceful::gates {
namespace {

class PolicyTest : public ::testing::Test {
protected:
  std::string write(const std::string &text) {
    std::string path = directory_.file("policy.yaml");
    std::ofstream(path) << text;
    return path;
  }
  std::string errorFor(const std::string &text) {
    auto policy = loadPolicy(write(text));
    EXPECT_FALSE(bool(policy));
    return policy ? "" : describeError(policy.takeError()).message;
  }
  testing::TemporaryDirectory directory_;
};

TEST_F(PolicyTest, EmptyGateListLoadsWithItsDigest) {
  std::string path = write("gates: []\n");
  auto policy = loadPolicy(path);
  ASSERT_TRUE(bool(policy));
  EXPECT_TRUE(policy->gates.empty());
  EXPECT_EQ(policy->digest, sha256Digest("gates: []\n"));
  EXPECT_EQ(policy->directory, directory_.path());
}

TEST_F(PolicyTest, UnknownTopLevelKeyNamesFileAndLine) {
  std::string message = errorFor("gates: []\ngatez: []\n");
  EXPECT_NE(message.find("policy.yaml:2"), std::string::npos) << message;
  EXPECT_NE(message.find("gatez"), std::string::npos);
}

TEST_F(PolicyTest, MalformedYamlIsAnError) {
  EXPECT_NE(errorFor("gates: [\n").find("invalid YAML"), std::string::npos);
  EXPECT_NE(errorFor("- just a list\n").find("mapping"), std::string::npos);
  EXPECT_NE(errorFor("gates: 3\n").find("must be a list"), std::string::npos);
  EXPECT_NE(errorFor("other: 1\n").find("unknown key"), std::string::npos);
}

TEST_F(PolicyTest, MissingPolicyFileIsNamed) {
  auto policy = loadPolicy(directory_.file("absent.yaml"));
  ASSERT_FALSE(bool(policy));
  EXPECT_NE(describeError(policy.takeError()).message.find("absent.yaml"), std::string::npos);
}

TEST_F(PolicyTest, UnknownGateIsRejectedBeforeAnyGateRuns) {
  auto policy = loadPolicy(write("gates:\n  - nfx: {max_nfr: 0.01}\n"));
  ASSERT_TRUE(bool(policy));
  ASSERT_EQ(policy->gates.size(), 1u);
  EXPECT_EQ(policy->gates[0].line, 2);
}

} // namespace
} // namespace graceful::gates
