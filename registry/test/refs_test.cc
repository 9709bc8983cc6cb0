#include "graceful/registry/refs.h"
#include "graceful/support/error.h"

#include <gtest/gtest.h>

namespace graceful::registry {
namespace {

std::string errorOf(llvm::Error error) { return describeError(std::move(error)).message; }

TEST(Refs, ParsesNameVersionAndAlias) {
  auto latest = parseSelector("resnet");
  ASSERT_TRUE(bool(latest));
  EXPECT_EQ(latest->name, "resnet");
  EXPECT_FALSE(latest->version);
  EXPECT_FALSE(latest->alias);

  auto exact = parseSelector("resnet@12");
  ASSERT_TRUE(bool(exact));
  EXPECT_EQ(exact->version, 12);
  EXPECT_EQ(exact->text(), "resnet@12");

  auto alias = parseSelector("resnet@edge-phone");
  ASSERT_TRUE(bool(alias));
  EXPECT_EQ(alias->alias, "edge-phone");
}

TEST(Refs, RejectsBadNamesWithTheReason) {
  EXPECT_NE(errorOf(validateModelName("")).find("invalid model name"), std::string::npos);
  EXPECT_TRUE(bool(validateModelName("has space")));
  EXPECT_TRUE(bool(validateModelName("-leading")));
  EXPECT_TRUE(bool(validateModelName(std::string(129, 'a'))));
  EXPECT_FALSE(validateModelName("cloud.v2_final-1"));
  EXPECT_TRUE(bool(validateAliasName("Production")));
  EXPECT_TRUE(bool(validateAliasName("1st")));
  EXPECT_FALSE(validateAliasName("edge-phone"));
}

TEST(Refs, RejectsBadVersions) {
  EXPECT_FALSE(bool(parseSelector("m@0")));
  EXPECT_FALSE(bool(parseSelector("m@3x")));
  EXPECT_FALSE(bool(parseSelector("m@")));
  EXPECT_FALSE(bool(parseExactVersion("m@production")));
  EXPECT_FALSE(bool(parseExactVersion("m")));
}

TEST(Refs, ParentSpecsDefaultToRetrainedFrom) {
  auto plain = parseParentSpec("cloud@3");
  ASSERT_TRUE(bool(plain));
  EXPECT_EQ(plain->kind, "retrained-from");
  auto kinded = parseParentSpec("cloud@3:distilled-from");
  ASSERT_TRUE(bool(kinded));
  EXPECT_EQ(kinded->kind, "distilled-from");
  EXPECT_EQ(kinded->parent.version, 3);
  auto badKind = parseParentSpec("cloud@3:copied-from");
  ASSERT_FALSE(bool(badKind));
  EXPECT_NE(errorOf(badKind.takeError()).find("copied-from"), std::string::npos);
  EXPECT_FALSE(bool(parseParentSpec("cloud")));
}

TEST(Refs, ParsesTags) {
  auto tag = parseTag("dataset=digits=v2");
  ASSERT_TRUE(bool(tag));
  EXPECT_EQ(tag->first, "dataset");
  EXPECT_EQ(tag->second, "digits=v2");
  EXPECT_FALSE(bool(parseTag("novalue")));
  EXPECT_FALSE(bool(parseTag("bad key=1")));
}

} // namespace
} // namespace graceful::registry
