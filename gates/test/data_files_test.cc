// DataFiles: each data file is read once per evaluation, and the digest it
// reports is that of the bytes it parsed; a file found changed between two
// reads of one evaluation is refused, never judged on mixed bytes.
#include "graceful/gates/data_files.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/testing/stores.h"

#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace graceful::gates {
namespace {

using ::testing::HasSubstr;

Tensor labels(std::vector<int64_t> values) {
  Tensor tensor = makeTensor(DType::Int64, {static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), tensor.data<int64_t>());
  return tensor;
}

std::string fileDigest(const std::string &path) {
  auto bytes = readFile(path);
  EXPECT_TRUE(static_cast<bool>(bytes));
  return bytes ? sha256Digest(*bytes) : "";
}

TEST(DataFiles, TheDigestIsThatOfTheBytesParsed) {
  testing::TemporaryDirectory directory;
  std::string path = directory.file("y.npy");
  ASSERT_FALSE(writeNpy(path, labels({2, 0, 1})));
  std::string before = fileDigest(path);
  DataFiles files;
  auto array = files.npy(path);
  ASSERT_TRUE(static_cast<bool>(array)) << llvm::toString(array.takeError());
  EXPECT_EQ((*array)->data<int64_t>()[0], 2);
  // Replaced after the read: the evaluation keeps judging, and naming, the
  // bytes it read.
  ASSERT_FALSE(writeNpy(path, labels({7, 7, 7})));
  auto digest = files.digest(path);
  ASSERT_TRUE(static_cast<bool>(digest));
  EXPECT_EQ(*digest, before);
  auto again = files.npy(path);
  ASSERT_TRUE(static_cast<bool>(again));
  EXPECT_EQ(*again, *array); // not read again
}

TEST(DataFiles, AFileChangedBetweenTwoReadsIsRefused) {
  testing::TemporaryDirectory directory;
  std::string path = directory.file("y.npy");
  ASSERT_FALSE(writeNpy(path, labels({1, 2})));
  DataFiles files;
  auto digest = files.digest(path); // hashed, not parsed
  ASSERT_TRUE(static_cast<bool>(digest));
  ASSERT_FALSE(writeNpy(path, labels({1, 3})));
  auto array = files.npy(path);
  ASSERT_FALSE(static_cast<bool>(array));
  EXPECT_THAT(llvm::toString(array.takeError()),
              HasSubstr(path + ": changed during the evaluation (read as " + *digest));
}

TEST(DataFiles, BytesAndArraysOfOneFileMustAgree) {
  testing::TemporaryDirectory directory;
  std::string path = directory.file("ids.txt");
  ASSERT_FALSE(writeFileAtomically(path, "1\n2\n"));
  DataFiles files;
  auto text = files.bytes(path);
  ASSERT_TRUE(static_cast<bool>(text));
  EXPECT_EQ(**text, "1\n2\n");
  auto digest = files.digest(path);
  ASSERT_TRUE(static_cast<bool>(digest));
  EXPECT_EQ(*digest, sha256Digest("1\n2\n"));
  ASSERT_FALSE(writeFileAtomically(path, "1\n2\n3\n"));
  auto cached = files.bytes(path);
  ASSERT_TRUE(static_cast<bool>(cached));
  EXPECT_EQ(**cached, "1\n2\n");
}

TEST(DataFiles, MissingAndMalformedFilesAreErrorsNamingThem) {
  testing::TemporaryDirectory directory;
  DataFiles files;
  auto missing = files.npy(directory.file("absent.npy"));
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_THAT(llvm::toString(missing.takeError()), HasSubstr("absent.npy"));
  std::string path = directory.file("not.npy");
  ASSERT_FALSE(writeFileAtomically(path, "not an array"));
  auto malformed = files.npy(path);
  ASSERT_FALSE(static_cast<bool>(malformed));
  EXPECT_THAT(llvm::toString(malformed.takeError()), HasSubstr("not.npy"));
  // A failed parse records nothing: the file can still be hashed.
  auto digest = files.digest(path);
  ASSERT_TRUE(static_cast<bool>(digest));
  EXPECT_EQ(*digest, sha256Digest("not an array"));
}

// A dataset's file is pinned to the digest its dataset records: other
// bytes are refused whichever way they are read, and a pinned .npy that no
// longer parses is reported as changed, not as malformed data.
TEST(DataFiles, PinnedFilesMustHoldTheirDigest) {
  testing::TemporaryDirectory directory;
  std::string path = directory.file("y.npy"), other = directory.file("ids.txt");
  ASSERT_FALSE(writeNpy(path, labels({1, 2})));
  std::ofstream(other) << "3\n";
  std::string pinned = fileDigest(path), pinnedOther = fileDigest(other);
  auto expectChanged = [&](auto result, const std::string &file) {
    ASSERT_FALSE(static_cast<bool>(result));
    ErrorReport report = describeError(result.takeError());
    EXPECT_EQ(report.kind, ErrorKind::Corrupt);
    EXPECT_THAT(report.message, HasSubstr(file + ": does not hold the bytes its dataset records"));
  };
  {
    DataFiles files({{path, pinned}, {other, pinnedOther}});
    ASSERT_TRUE(static_cast<bool>(files.npy(path)));
    ASSERT_TRUE(static_cast<bool>(files.bytes(other)));
  }
  ASSERT_FALSE(writeNpy(path, labels({1, 3})));
  std::ofstream(other, std::ios::app) << "4\n";
  {
    DataFiles files({{path, pinned}, {other, pinnedOther}});
    expectChanged(files.npy(path), path);
    expectChanged(files.digest(path), path);
    expectChanged(files.bytes(other), other);
  }
  std::ofstream(path, std::ios::trunc) << "\x93NUMPY garbage";
  DataFiles files(std::map<std::string, std::string>{{path, pinned}});
  expectChanged(files.npy(path), path);
}

} // namespace
} // namespace graceful::gates
