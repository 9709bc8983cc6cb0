#include "graceful/gates/gate.h"
#include "graceful/gates/policy.h"
#include "graceful/policy.pb.h"
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

// Two gates of one type could not be told apart in any output, and
// `name:` was an unknown key.
TEST_F(PolicyTest, GatesCarryUniqueNames) {
  auto policy = loadPolicy(write("gates:\n  - edge: {name: strict, max_params: 1}\n"
                                 "  - edge: {name: loose, max_params: 100}\n"));
  ASSERT_TRUE(bool(policy)) << describeError(policy.takeError()).message;
  ASSERT_EQ(policy->gates.size(), 2u);
  EXPECT_EQ(policy->gates[0].name, "edge");
  EXPECT_EQ(policy->gates[0].displayName(), "strict");
  EXPECT_EQ(policy->gates[1].displayName(), "loose");
  EXPECT_FALSE(policy->gates[0].config["name"]) << "the gate must not see its name";
  std::string twice = errorFor("gates:\n  - edge: {max_params: 1}\n  - edge: {max_params: 2}\n");
  EXPECT_NE(twice.find("policy.yaml:3: a second gate named 'edge' (the first is on line 2)"),
            std::string::npos)
      << twice;
  EXPECT_NE(errorFor("gates:\n  - edge: {name: a, max_params: 1}\n"
                     "  - edge: {name: a, max_params: 2}\n")
                .find("a second gate named 'a'"),
            std::string::npos);
  EXPECT_NE(errorFor("gates:\n  - edge: {name: 'two words'}\n").find("a gate's 'name' is"),
            std::string::npos);
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

TEST_F(PolicyTest, DuplicateKeysAreErrorsNamingBothLines) {
  // yaml-cpp keeps both: lookups saw the first 'gates', PyYAML the last.
  EXPECT_EQ(errorFor("gates: []\ngates:\n  - nfr: {}\n"),
            directory_.file("policy.yaml") + ":2: duplicate key 'gates' (first at line 1)");
  EXPECT_NE(errorFor("gates:\n  - nfr: {max_nfr: 0.5, max_nfr: 0.01}\n")
                .find(":2: duplicate key 'max_nfr' (first at line 2)"),
            std::string::npos);
}

TEST_F(PolicyTest, DeepNestingSaysSo) {
  std::string message = errorFor("gates: " + std::string(600, '[') + std::string(600, ']') + "\n");
  EXPECT_NE(message.find("nested more than 64 levels deep"), std::string::npos) << message;
}

TEST_F(PolicyTest, KeysThatAreNotNamesAreErrorsNotExceptions) {
  EXPECT_NE(errorFor("[gates]: []\n").find("unknown key (expected 'gates')"), std::string::npos);
  EXPECT_NE(errorFor("gates:\n  - [nfr]: {}\n").find("one key, the gate's name"),
            std::string::npos);
}

TEST_F(PolicyTest, BatchMustBeAPositiveWholeNumber) {
  for (const char *batch : {"0", "-5", "2.5", "many", "[1]"}) {
    std::string message =
        errorFor(std::string("gates:\n  - nfr: {inputs: x.npy, batch: ") + batch + "}\n");
    EXPECT_NE(message.find(":2: 'batch' must be a whole number of samples, at least 1"),
              std::string::npos)
        << batch << ": " << message;
  }
  auto policy = loadPolicy(write("gates:\n  - nfr: {batch: 64}\n  - edge: {}\n"));
  EXPECT_TRUE(bool(policy)) << describeError(policy.takeError()).message;
}

TEST_F(PolicyTest, ThresholdsMustBeFinite) {
  for (const char *value : {"nan", "NaN", "inf", "-inf", "infinity"}) {
    auto policy = loadPolicy(write(std::string("gates:\n  - nfr: {max_nfr: ") + value + "}\n"));
    ASSERT_TRUE(bool(policy)) << value;
    proto::NfrGateConfig config;
    llvm::Error error = readGateConfig(policy->gates[0], *policy, config);
    ASSERT_TRUE(bool(error)) << value;
    EXPECT_NE(describeError(std::move(error)).message.find("'max_nfr' must be finite"),
              std::string::npos)
        << value;
  }
}

// named_inputs is a proto map: a YAML mapping of input names to files.
TEST_F(PolicyTest, NamedInputsAreAMappingOfNamesToFiles) {
  auto policy = loadPolicy(write("gates:\n  - nfr: {named_inputs: {ids: a.npy, mask: b.npy}}\n"));
  ASSERT_TRUE(bool(policy)) << describeError(policy.takeError()).message;
  proto::NfrGateConfig config;
  ASSERT_FALSE(readGateConfig(policy->gates[0], *policy, config));
  ASSERT_EQ(config.named_inputs().size(), 2u);
  EXPECT_EQ(config.named_inputs().at("ids"), "a.npy");
  EXPECT_EQ(config.named_inputs().at("mask"), "b.npy");
  for (auto [data, message] :
       {std::pair{"named_inputs: [a.npy]", "'named_inputs' must be a mapping of names to values"},
        {"named_inputs: {ids: [a.npy]}", "'named_inputs' must map plain names to plain values"},
        {"named_inputs: {[ids]: a.npy}", "'named_inputs' must map plain names to plain values"},
        {"named_inputs: a.npy", "'named_inputs' must be a mapping of names to values"}}) {
    auto read = loadPolicy(write(std::string("gates:\n  - nfr: {") + data + "}\n"));
    ASSERT_TRUE(bool(read)) << data;
    proto::NfrGateConfig named;
    llvm::Error error = readGateConfig(read->gates[0], *read, named);
    ASSERT_TRUE(bool(error)) << data;
    EXPECT_NE(describeError(std::move(error)).message.find(message), std::string::npos) << data;
  }
  EXPECT_NE(errorFor("gates:\n  - nfr: {named_inputs: {ids: a.npy, ids: b.npy}}\n")
                .find("duplicate key 'ids'"),
            std::string::npos);
}

} // namespace
} // namespace graceful::gates
