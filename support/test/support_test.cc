#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/format.h"
#include "graceful/support/json.h"

#include <cstdlib>
#include <filesystem>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/wrappers.pb.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

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

// The same double printed as 0.6956521739130435 in one command and
// 0.69565217391304346 in another; int64 fields came out as strings.
TEST(Json, NumbersAreShortestRoundTripAndIntegersAreNumbers) {
  EXPECT_EQ(jsonNumber(16.0 / 23.0), "0.6956521739130435");
  EXPECT_EQ(jsonNumber(0.1), "0.1");
  EXPECT_EQ(jsonNumber(719), "719");
  EXPECT_EQ(jsonNumber(1.0 / 0.0), "\"Infinity\"");
  google::protobuf::Struct record;
  (*record.mutable_fields())["rate"].set_number_value(16.0 / 23.0);
  EXPECT_EQ(toJson(record), R"({"rate":0.6956521739130435})");
  google::protobuf::Int64Value big;
  big.set_value(std::int64_t{1} << 52);
  EXPECT_EQ(toJson(big), R"({"value":4503599627370496})");
}

TEST(Json, StringsStayValidJson) {
  EXPECT_EQ(jsonString("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(jsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(jsonString("bad \xff"), R"("bad \u00ff")");
}

TEST(Errors, JsonNamesKindAndExitCode) {
  EXPECT_EQ(errorJson({ErrorKind::Unavailable, "store \"x\" down"}, "list"),
            R"({"error":"store \"x\" down","kind":"unavailable","exit_code":4,"where":"list"})");
  EXPECT_EQ(exitCodeFor(ErrorKind::NotFound), 2);
  EXPECT_EQ(exitCodeFor(ErrorKind::Conflict), 3);
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

TEST(Format, EscapeUnprintableKeepsTextAndEscapesControls) {
  EXPECT_EQ(escapeUnprintable("plain text, caf\xc3\xa9 \xe2\x9c\x85"),
            "plain text, caf\xc3\xa9 \xe2\x9c\x85");
  // A reason that would forge an audit line and recolour the terminal.
  EXPECT_EQ(escapeUnprintable("ok\n#99 admin promote\x1b[32m\ttab\r"),
            "ok\\x0a#99 admin promote\\x1b[32m\\x09tab\\x0d");
  EXPECT_EQ(escapeUnprintable("del\x7f nul" + std::string(1, '\0')), "del\\x7f nul\\x00");
  // C1 CSI, a right-to-left override, U+FFFF, and bytes that are not UTF-8.
  EXPECT_EQ(escapeUnprintable("\xc2\x9b"
                              "2J"),
            "\\xc2\\x9b"
            "2J");
  EXPECT_EQ(escapeUnprintable("abc\xe2\x80\xae"
                              "exe.txt"),
            "abc\\xe2\\x80\\xaeexe.txt");
  EXPECT_EQ(escapeUnprintable("\xef\xbf\xbf"), "\\xef\\xbf\\xbf");
  EXPECT_EQ(escapeUnprintable("\xff\xc3"), "\\xff\\xc3");
}

// Reports are written where a user says; what is there must survive
// unless it is a regular file. Each case leaves the target as it was.
TEST(Files, AtomicWriteReplacesOnlyRegularFiles) {
  auto directory =
      std::filesystem::temp_directory_path() / ("graceful-special-" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  std::string kept = (directory / "kept").string();
  ASSERT_FALSE(writeFileAtomically(kept, "precious"));
  std::string link = (directory / "link").string(), fifo = (directory / "fifo").string(),
              sub = (directory / "sub").string(), device = (directory / "null").string();
  std::filesystem::create_symlink(kept, link);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::filesystem::create_directory(sub);
  std::vector<std::pair<std::string, std::string>> targets = {
      {link, "a symlink"}, {fifo, "a FIFO"}, {sub, "a directory"}};
  // A character device like /dev/null (only root may make one; never the real one).
  if (::mknod(device.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) == 0)
    targets.push_back({device, "a character device"});
  for (const auto &[target, kind] : targets) {
    llvm::Error error = writeFileAtomically(target, "report");
    ASSERT_TRUE(bool(error)) << target;
    ErrorReport report = describeError(std::move(error));
    EXPECT_EQ(report.kind, ErrorKind::BadInput);
    EXPECT_EQ(report.message,
              target + ": exists and is " + kind + "; only a regular file is replaced");
  }
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(*readFile(kept), "precious");
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  EXPECT_TRUE(std::filesystem::is_directory(sub));
  if (targets.size() == 4) {
    EXPECT_TRUE(std::filesystem::is_character_file(device));
  }
  // No temporary is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(directory),
                          std::filesystem::directory_iterator()),
            static_cast<long>(targets.size()) + 1);
  std::filesystem::remove_all(directory);
}

} // namespace
} // namespace graceful
