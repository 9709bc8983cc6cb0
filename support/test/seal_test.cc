// Sealed cache entries open only for their label, with their key, intact.
#include "graceful/support/seal.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace graceful {
namespace {

namespace fs = std::filesystem;

const Sealer kSealer(std::string(32, 'k'));

TEST(SealTest, OpensOnlyForItsLabelKeyAndBytes) {
  std::string sealed = kSealer.seal("model-a", "object code");
  ASSERT_TRUE(kSealer.open("model-a", sealed));
  EXPECT_EQ(*kSealer.open("model-a", sealed), "object code");
  EXPECT_FALSE(kSealer.open("model-b", sealed));                      // copied under another label
  EXPECT_FALSE(Sealer(std::string(32, 'j')).open("model-a", sealed)); // another user's key
  std::string edited = sealed;
  edited.back() ^= 1;
  EXPECT_FALSE(kSealer.open("model-a", edited));
  EXPECT_FALSE(kSealer.open("model-a", sealed.substr(0, sealed.size() - 1))); // truncated
  EXPECT_FALSE(kSealer.open("model-a", sealed.substr(0, 40)));                // torn header
  EXPECT_FALSE(kSealer.open("model-a", "object code"));                       // never sealed
  // The label's length is bound: moving bytes between label and payload fails.
  std::string shifted = kSealer.seal("model-a", "object code");
  EXPECT_FALSE(kSealer.open("model-ao", shifted.substr(0, 81) + "bject code"));
}

TEST(SealTest, EmptyPayloadsSealToo) { EXPECT_EQ(*kSealer.open("x", kSealer.seal("x", "")), ""); }

class SealKeyTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "graceful-seal.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    ASSERT_EQ(setenv("GRACEFUL_SEAL_KEY", (root_ / "dir" / "seal.key").c_str(), 1), 0);
  }
  void TearDown() override {
    unsetenv("GRACEFUL_SEAL_KEY");
    fs::remove_all(root_);
  }
  fs::path root_;
};

TEST_F(SealKeyTest, TheKeyIsMadeOnceOwnerOnlyAndReused) {
  auto first = Sealer::forUser();
  ASSERT_TRUE(static_cast<bool>(first)) << llvm::toString(first.takeError());
  fs::path key = root_ / "dir" / "seal.key";
  EXPECT_EQ(fs::file_size(key), 32u);
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto second = Sealer::forUser();
  ASSERT_TRUE(static_cast<bool>(second));
  EXPECT_TRUE(second->open("l", first->seal("l", "p")));
}

TEST_F(SealKeyTest, UnsafeOrMalformedKeysAreRefused) {
  ASSERT_TRUE(static_cast<bool>(Sealer::forUser()));
  fs::path key = root_ / "dir" / "seal.key";
  fs::permissions(key, fs::perms::group_read, fs::perm_options::add);
  auto readable = Sealer::forUser();
  ASSERT_FALSE(static_cast<bool>(readable));
  EXPECT_NE(llvm::toString(readable.takeError()).find("chmod 600"), std::string::npos);
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  fs::resize_file(key, 31);
  auto shortKey = Sealer::forUser();
  ASSERT_FALSE(static_cast<bool>(shortKey));
  EXPECT_NE(llvm::toString(shortKey.takeError()).find("32 bytes"), std::string::npos);
  fs::remove(key);
  fs::create_symlink(root_ / "elsewhere", key); // a link is not followed
  std::ofstream(root_ / "elsewhere") << std::string(32, 'x');
  fs::permissions(root_ / "elsewhere", fs::perms::owner_read | fs::perms::owner_write,
                  fs::perm_options::replace);
  EXPECT_FALSE(static_cast<bool>(Sealer::forUser()));
}

} // namespace
} // namespace graceful
