// The .npy reader against headers an adversary writes: each is one error
// naming the file, never a crash, a wrong shape or an allocation the file
// does not back.
#include "graceful/support/error.h"
#include "graceful/support/tensor.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace graceful {
namespace {

class NpyTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "graceful-npy-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    path_ = directory_ + "/x.npy";
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  // A version 1.0 file with `header` (padded as NumPy pads it) and `dataBytes` zero bytes.
  void write(std::string header, size_t dataBytes) {
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header.push_back('\n');
    std::string bytes = "\x93NUMPY";
    bytes += {'\x01', '\x00', static_cast<char>(header.size() & 0xff),
              static_cast<char>(header.size() >> 8)};
    bytes += header;
    bytes.append(dataBytes, '\0');
    std::ofstream(path_, std::ios::binary) << bytes;
  }
  static std::string withShape(const std::string &shape, const std::string &descr = "<f4") {
    return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  }

  // The one-line error reading the file gives; it must name the file.
  std::string errorFor(const std::string &header, size_t dataBytes) {
    write(header, dataBytes);
    auto tensor = readNpy(path_);
    if (tensor)
      return "read as " + tensor->describe();
    ErrorReport report = describeError(tensor.takeError());
    EXPECT_EQ(report.kind, ErrorKind::BadInput);
    EXPECT_EQ(report.message.rfind(path_ + ": ", 0), 0u) << report.message;
    return report.message;
  }

  std::string directory_, path_;
};

using ::testing::HasSubstr;

TEST_F(NpyTest, ReadsWhatNumPyWrites) {
  for (auto [shape, bytes, expected] :
       std::vector<std::tuple<std::string, size_t, std::string>>{{"()", 4, "float32[]"},
                                                                 {"(5,)", 20, "float32[5]"},
                                                                 {"(2, 3)", 24, "float32[2,3]"},
                                                                 {"(2,3,)", 24, "float32[2,3]"},
                                                                 {"(0, 7)", 0, "float32[0,7]"}}) {
    write(withShape(shape), bytes);
    auto tensor = readNpy(path_);
    ASSERT_TRUE(bool(tensor)) << shape << ": " << describeError(tensor.takeError()).message;
    EXPECT_EQ(tensor->describe(), expected);
  }
  // Keys in any order, double quotes, no trailing comma.
  write("{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<i8\"}", 24);
  auto tensor = readNpy(path_);
  ASSERT_TRUE(bool(tensor));
  EXPECT_EQ(tensor->describe(), "int64[3]");
}

TEST_F(NpyTest, DimensionsMustBeNonNegativeIntegers) {
  EXPECT_THAT(errorFor(withShape("(-2, 64)"), 512),
              HasSubstr("dimension 0 is not a non-negative integer"));
  EXPECT_THAT(errorFor(withShape("(2.5, 64)"), 1280),
              HasSubstr("dimension 0 is not a non-negative integer"));
  EXPECT_THAT(errorFor(withShape("(2, 0x40)"), 512),
              HasSubstr("dimension 1 is not a non-negative integer"));
  EXPECT_THAT(errorFor(withShape("(18446744073709551618, 64)"), 512),
              HasSubstr("dimension 0 does not fit in int64"));
  EXPECT_THAT(errorFor(withShape("(5)"), 20), HasSubstr("'shape' must be a tuple"));
  EXPECT_THAT(errorFor(withShape("(2,, 3)"), 24), HasSubstr("not a non-negative integer"));
  EXPECT_THAT(errorFor(withShape("[2, 3]"), 24), HasSubstr("'shape' must be a tuple"));
}

TEST_F(NpyTest, TooManyDimensionsAreRefused) {
  std::string shape = "(";
  for (int i = 0; i < 65; ++i)
    shape += "1,";
  EXPECT_THAT(errorFor(withShape(shape + ")"), 4), HasSubstr("more than 64 dimensions"));
}

TEST_F(NpyTest, ElementCountTimesItemSizeIsChecked) {
  // 4611686018427387906 * 64 * 4 wraps to 512 in 64 bits: the file holds
  // 512 bytes, so a wrapping product passes a size check and the reader
  // writes far past the buffer.
  EXPECT_THAT(errorFor(withShape("(4611686018427387906, 64)"), 512),
              HasSubstr("holds more bytes than 64 bits can count"));
  EXPECT_THAT(errorFor(withShape("(4294967296, 4294967296)", "|u1"), 0),
              HasSubstr("holds more bytes than 64 bits can count"));
}

TEST_F(NpyTest, DataSizeMustMatchTheFileExactly) {
  EXPECT_THAT(errorFor(withShape("(4,)"), 12),
              HasSubstr("truncated: holds 12 data bytes, float32[4] needs 16"));
  EXPECT_THAT(errorFor(withShape("(4,)"), 20),
              HasSubstr("trailing bytes: holds 20 data bytes, float32[4] needs 16"));
  // A header that declares a terabyte over 16 bytes of data is refused
  // before anything is allocated.
  EXPECT_THAT(errorFor(withShape("(1099511627776,)"), 16), HasSubstr("truncated: holds 16"));
}

TEST_F(NpyTest, AnArrayLargerThanMemoryIsAClearError) {
  // A sparse file as large as it declares, but more than the machine's memory.
  uint64_t declared = uint64_t(1) << 42; // 4 TiB
  write(withShape("(" + std::to_string(declared) + ",)", "|u1"), 0);
  std::error_code ec;
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) + declared, ec);
  if (ec)
    GTEST_SKIP() << "cannot make a sparse file here: " << ec.message();
  auto tensor = readNpy(path_);
  ASSERT_FALSE(bool(tensor));
  std::string message = describeError(tensor.takeError()).message;
  EXPECT_THAT(message, HasSubstr(path_ + ": cannot allocate 4398046511104 bytes"));
}

TEST_F(NpyTest, HeaderKeysAreExactlyDescrFortranOrderAndShape) {
  EXPECT_THAT(
      errorFor("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 8),
      HasSubstr("duplicate key 'descr'"));
  EXPECT_THAT(
      errorFor("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (4,), }", 16),
      HasSubstr("duplicate key 'shape'"));
  EXPECT_THAT(errorFor("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", 8),
              HasSubstr("unknown key"));
  EXPECT_THAT(errorFor("{'descr': '<f4', 'shape': (2,), }", 8), HasSubstr("are all required"));
  EXPECT_THAT(errorFor("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8),
              HasSubstr("'fortran_order' must be True or False"));
  EXPECT_THAT(errorFor("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8),
              HasSubstr("Fortran-order arrays are not supported"));
  EXPECT_THAT(errorFor(withShape("(2,)") + " junk", 8), HasSubstr("bytes after the closing"));
  EXPECT_THAT(errorFor("'descr': '<f4'", 8), HasSubstr("does not start with '{'"));
  EXPECT_THAT(errorFor("{'descr: '<f4'", 8), HasSubstr("malformed .npy header"));
  EXPECT_THAT(errorFor(withShape("(2,)", ">f4"), 8), HasSubstr("dtype '>f4' is not supported"));
}

} // namespace
} // namespace graceful
