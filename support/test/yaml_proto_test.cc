// The YAML reader policies and device profiles go through: what yaml-cpp
// accepts silently (duplicate keys, very deep nesting) is refused with the
// file and line, and messages never quote the file's other text.
#include "graceful/support/error.h"
#include "graceful/support/yaml_proto.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/duration.pb.h>
#include <gtest/gtest.h>

namespace graceful {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The message of reading `text` as YAML into `message`, or "" when it reads.
std::string errorFor(const std::string &text, google::protobuf::Message &message) {
  auto root = parseYaml(text, "cfg.yaml");
  llvm::Error error = root ? readYamlInto(*root, message, "cfg.yaml") : root.takeError();
  return error ? describeError(std::move(error)).message : "";
}

std::string errorFor(const std::string &text) {
  google::protobuf::DescriptorProto message;
  return errorFor(text, message);
}

TEST(YamlProto, ReadsFieldsByName) {
  google::protobuf::DescriptorProto message;
  EXPECT_EQ(errorFor("name: outer\nnested_type:\n  - name: inner\n", message), "");
  EXPECT_EQ(message.name(), "outer");
  ASSERT_EQ(message.nested_type_size(), 1);
  EXPECT_EQ(message.nested_type(0).name(), "inner");
}

TEST(YamlProto, DuplicateKeysNameTheKeyAndBothLines) {
  EXPECT_EQ(errorFor("name: a\nnested_type: []\nname: b\n"),
            "cfg.yaml:3: duplicate key 'name' (first at line 1)");
  // In a nested mapping, and in flow style on one line.
  EXPECT_EQ(errorFor("nested_type:\n  - name: a\n    name: b\n"),
            "cfg.yaml:3: duplicate key 'name' (first at line 2)");
  EXPECT_EQ(errorFor("{name: a, name: a}\n"), "cfg.yaml:1: duplicate key 'name' (first at line 1)");
  // Keys of other mappings are not duplicates.
  EXPECT_EQ(errorFor("nested_type:\n  - name: a\n  - name: b\n"), "");
}

TEST(YamlProto, DeepNestingIsRefusedClearly) {
  for (int depth : {65, 200, 500, 5000}) {
    std::string flow = "nested_type: " + std::string(depth, '[') + std::string(depth, ']') + "\n";
    EXPECT_THAT(errorFor(flow), HasSubstr("nested more than 64 levels deep")) << depth;
    EXPECT_THAT(errorFor(flow), Not(HasSubstr("bad file"))) << depth;
    std::string block;
    for (int i = 0; i < depth; ++i)
      block += std::string(static_cast<size_t>(i), ' ') + "a:\n";
    EXPECT_THAT(errorFor(block), HasSubstr("nested more than 64 levels deep")) << depth;
  }
  // Real configuration is shallow and reads.
  EXPECT_EQ(errorFor("nested_type: [{nested_type: [{nested_type: [{name: x}]}]}]\n"), "");
}

TEST(YamlProto, AliasesCannotMultiplyTheWork) {
  // Ten levels of ten aliases each: 10^10 values if expanded.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level <= 10; ++level) {
    std::string previous = "*a" + std::to_string(level - 1);
    text += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i)
      text += (i ? ", " : "") + previous;
    text += "]\n";
  }
  EXPECT_THAT(errorFor(text), HasSubstr("more than 100000 values"));
}

TEST(YamlProto, MessagesDoNotQuoteTheFilesText) {
  google::protobuf::Duration duration;
  std::string message = errorFor("seconds: hunter2-secret\n", duration);
  EXPECT_EQ(message, "cfg.yaml:1: 'seconds' must be a number");
  // A key is named, but cut short.
  message = errorFor(std::string(300, 'k') + ": 1\n", duration);
  EXPECT_THAT(message, HasSubstr("unknown key '" + std::string(64, 'k') + "...'"));
  EXPECT_THAT(message, Not(HasSubstr(std::string(65, 'k'))));
}

TEST(YamlProto, NumbersMustBeFinite) {
  google::protobuf::Duration duration;
  EXPECT_EQ(errorFor("seconds: 12\nnanos: 5\n", duration), "");
  EXPECT_EQ(duration.seconds(), 12);
  for (const char *bad : {"2.5", "0x10", "99999999999999999999", "1e3", ".nan"})
    EXPECT_THAT(errorFor(std::string("seconds: ") + bad + "\n", duration),
                HasSubstr("'seconds' must be a number"))
        << bad;
}

} // namespace
} // namespace graceful
