#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/json.h"

#include <cstdlib>
#include <filesystem>
#include <google/protobuf/struct.pb.h>
#include <gtest/gtest.h>

namespace graceful {
namespace {

TEST(Digest, MatchesPublishedSha256Vectors) {
  // FIPS 180-2 examples.
  EXPECT_EQ(sha256Digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Digest, IncrementalHashingEqualsOneShot) {
  Sha256Hasher hasher;
  hasher.update("ab");
  hasher.update("c");
  EXPECT_EQ(hasher.finish(), sha256Digest("abc"));
}

TEST(Digest, RecognisesWellFormedDigests) {
  EXPECT_TRUE(isWellFormedDigest(sha256Digest("x")));
  EXPECT_FALSE(isWellFormedDigest("sha256:abc"));
  EXPECT_FALSE(isWellFormedDigest("md5:" + std::string(64, 'a')));
  EXPECT_FALSE(isWellFormedDigest("sha256:" + std::string(64, 'G')));
}

TEST(Json, MapKeysPrintSorted) {
  // Protobuf seeds its map hashing per process; printing must not depend on it.
  google::protobuf::Struct record;
  for (const char *key : {"zeta", "alpha", "mu", "beta", "omega", "nfr", "pfr"})
    (*record.mutable_fields())[key].set_number_value(1);
  EXPECT_EQ(toJson(record), R"({"alpha":1,"beta":1,"mu":1,"nfr":1,"omega":1,"pfr":1,"zeta":1})");
}

TEST(Errors, FoldLinesKeepsOneLine) {
  EXPECT_EQ(foldLines("  could not connect\n\tIs the server running?\n"),
            "could not connect Is the server running?");
}

TEST(Errors, FoldLinesEscapesWhatIsNotPrintableUtf8) {
  EXPECT_EQ(foldLines("node '\xff\x01"
                      "a' (Conv)"),
            "node '\\xff\\x01a' (Conv)");
  EXPECT_EQ(foldLines("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac"); // kept
  EXPECT_EQ(foldLines("cut \xe2\x82"), "cut \\xe2\\x82");                       // truncated
  EXPECT_EQ(foldLines("overlong \xc0\xaf"), "overlong \\xc0\\xaf");
}

TEST(Errors, DescribeKeepsKindAndMessage) {
  ErrorReport report = describeError(makeError(ErrorKind::Conflict, "moved\nunder you"));
  EXPECT_EQ(report.kind, ErrorKind::Conflict);
  EXPECT_EQ(report.message, "moved under you");
  report = describeError(llvm::createStringError(llvm::inconvertibleErrorCode(), "plain"));
  EXPECT_EQ(report.kind, ErrorKind::BadInput);
  EXPECT_EQ(report.message, "plain");
}

TEST(Files, AtomicWriteReplacesWholeFileAndLeavesNoTemporaries) {
  auto directory =
      std::filesystem::temp_directory_path() / ("graceful-files-" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  std::string path = (directory / "f").string();
  ASSERT_FALSE(writeFileAtomically(path, "first"));
  ASSERT_FALSE(writeFileAtomically(path, "second"));
  auto text = readFile(path);
  ASSERT_TRUE(bool(text));
  EXPECT_EQ(*text, "second");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(directory),
                          std::filesystem::directory_iterator()),
            1);
  std::filesystem::remove_all(directory);
}

TEST(Files, UncommittedWriterLeavesNothing) {
  auto directory = std::filesystem::temp_directory_path() /
                   ("graceful-uncommitted-" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  {
    auto writer = AtomicFileWriter::create((directory / "f").string());
    ASSERT_TRUE(bool(writer));
    ASSERT_FALSE((*writer)->append("partial"));
  }
  EXPECT_TRUE(std::filesystem::is_empty(directory));
  std::filesystem::remove_all(directory);
}

TEST(Files, ReadingAMissingFileNamesIt) {
  auto text = readFile("/nonexistent/graceful/file");
  ASSERT_FALSE(bool(text));
  ErrorReport report = describeError(text.takeError());
  EXPECT_EQ(report.kind, ErrorKind::NotFound);
  EXPECT_NE(report.message.find("/nonexistent/graceful/file"), std::string::npos);
}

} // namespace
} // namespace graceful
