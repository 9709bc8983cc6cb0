#include "graceful/support/tensor.h"

#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"

#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <new>
#include <string_view>
#include <unistd.h>

namespace graceful {
namespace {

struct DTypeInfo {
  DType dtype;
  const char *npy;  // descr in .npy headers, or null when .npy has none
  const char *name; // numpy's name
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::Float32, "<f4", "float32", 4},     {DType::Float64, "<f8", "float64", 8},
    {DType::Float16, "<f2", "float16", 2},     {DType::Int64, "<i8", "int64", 8},
    {DType::Int32, "<i4", "int32", 4},         {DType::Int16, "<i2", "int16", 2},
    {DType::Int8, "|i1", "int8", 1},           {DType::UInt8, "|u1", "uint8", 1},
    {DType::UInt16, "<u2", "uint16", 2},       {DType::UInt32, "<u4", "uint32", 4},
    {DType::UInt64, "<u8", "uint64", 8},       {DType::Bool, "|b1", "bool", 1},
    {DType::BFloat16, nullptr, "bfloat16", 2},
};

const DTypeInfo *infoFor(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return &info;
  return nullptr;
}

llvm::Error npyError(const std::string &path, const std::string &what) {
  return makeError(ErrorKind::BadInput, path + ": " + what);
}

} // namespace

size_t dtypeSize(DType dtype) {
  const DTypeInfo *info = infoFor(dtype);
  return info ? info->size : 0;
}

std::string dtypeName(DType dtype) {
  const DTypeInfo *info = infoFor(dtype);
  return info ? info->name : "type" + std::to_string(static_cast<int>(dtype));
}

int64_t Tensor::elementCount() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

std::string Tensor::describe() const {
  std::string text = dtypeName(dtype) + "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

Tensor makeTensor(DType dtype, std::vector<int64_t> shape) {
  Tensor tensor{dtype, std::move(shape), {}};
  tensor.bytes.resize(static_cast<size_t>(tensor.elementCount()) * dtypeSize(dtype));
  return tensor;
}

namespace {

// The part of an .npy file before the data: magic, version, header.
struct NpyPreamble {
  std::string prefix; // the magic, version and header length, as read
  std::string header;
  size_t dataStart = 0;
};

llvm::Expected<NpyPreamble> readPreamble(std::ifstream &in, const std::string &path) {
  char fixed[12] = {};
  in.read(fixed, sizeof fixed);
  size_t got = static_cast<size_t>(in.gcount());
  if (got < 10 || std::string(fixed, 6) != "\x93NUMPY")
    return npyError(path, "not a .npy file (no NUMPY magic)");
  int major = static_cast<unsigned char>(fixed[6]);
  NpyPreamble preamble;
  size_t headerLength = 0;
  if (major == 1) {
    headerLength =
        static_cast<unsigned char>(fixed[8]) | (static_cast<unsigned char>(fixed[9]) << 8);
    preamble.dataStart = 10;
  } else if (major == 2 || major == 3) {
    if (got < 12)
      return npyError(path, "truncated .npy header");
    uint32_t length;
    std::memcpy(&length, fixed + 8, 4);
    headerLength = length;
    preamble.dataStart = 12;
  } else {
    return npyError(path, ".npy format version " + std::to_string(major) + " is not supported");
  }
  if (headerLength > (1u << 20))
    return npyError(path, "malformed .npy header (" + std::to_string(headerLength) + " bytes)");
  preamble.prefix.assign(fixed, preamble.dataStart);
  preamble.header.resize(headerLength);
  in.clear();
  in.seekg(static_cast<std::streamoff>(preamble.dataStart));
  in.read(preamble.header.data(), static_cast<std::streamsize>(headerLength));
  if (static_cast<size_t>(in.gcount()) != headerLength)
    return npyError(path, "truncated .npy header");
  preamble.dataStart += headerLength;
  return preamble;
}

// What an .npy header declares.
struct NpyHeader {
  const DTypeInfo *info = nullptr;
  std::vector<int64_t> shape;
};

// NumPy allows at most 64 dimensions (NPY_MAXDIMS in NumPy 2).
constexpr size_t kMaxNpyDims = 64;

// Reads the header NumPy writes, a Python dict literal with exactly the keys
// 'descr', 'fortran_order' and 'shape', each once:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Anything else is refused rather than guessed at: a lenient reader once
// read (-2, 64) as (2, 64) and (2.5, 64) as (2, 5, 64).
class NpyHeaderParser {
public:
  NpyHeaderParser(std::string_view text, const std::string &path) : text_(text), path_(path) {}

  llvm::Expected<NpyHeader> parse() {
    NpyHeader header;
    if (!consume('{'))
      return malformed("it does not start with '{'");
    while (!consume('}')) {
      auto key = quoted();
      if (!key)
        return key.takeError();
      if (!consume(':'))
        return malformed("expected ':' after a key");
      if (llvm::Error error = parseEntry(*key, header))
        return error;
      if (!consume(',') && !peek('}'))
        return malformed("expected ',' or '}' after a value");
    }
    skipSpace();
    if (at_ != text_.size())
      return malformed("bytes after the closing '}'");
    if (!seenDescr_ || !seenOrder_ || !seenShape_)
      return malformed("'descr', 'fortran_order' and 'shape' are all required");
    return header;
  }

private:
  llvm::Error malformed(const std::string &what) const {
    return npyError(path_, "malformed .npy header: " + what);
  }

  llvm::Error parseEntry(std::string_view key, NpyHeader &header) {
    bool *seen = key == "descr"           ? &seenDescr_
                 : key == "fortran_order" ? &seenOrder_
                 : key == "shape"         ? &seenShape_
                                          : nullptr;
    if (seen == nullptr)
      return malformed("unknown key (expected 'descr', 'fortran_order' and 'shape')");
    if (*seen)
      return malformed("duplicate key '" + std::string(key) + "'");
    *seen = true;
    if (seen == &seenDescr_)
      return parseDescr(header);
    if (seen == &seenOrder_)
      return parseOrder();
    return parseShape(header.shape);
  }

  void skipSpace() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }
  bool peek(char c) {
    skipSpace();
    return at_ < text_.size() && text_[at_] == c;
  }
  bool consume(char c) {
    if (!peek(c))
      return false;
    ++at_;
    return true;
  }

  // A Python string literal without escapes, in single or double quotes.
  llvm::Expected<std::string_view> quoted() {
    skipSpace();
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"'))
      return malformed("expected a quoted key or string");
    char quote = text_[at_];
    size_t end = text_.find(quote, at_ + 1);
    if (end == std::string_view::npos)
      return malformed("unterminated string");
    std::string_view value = text_.substr(at_ + 1, end - at_ - 1);
    if (value.find('\\') != std::string_view::npos)
      return malformed("escapes in strings are not supported");
    at_ = end + 1;
    return value;
  }

  // An unquoted value such as True or a dimension: everything up to the
  // next delimiter, so "2.5" and "-2" are read whole and refused whole.
  std::string_view token() {
    skipSpace();
    size_t start = at_;
    while (at_ < text_.size() &&
           std::string_view(" \t\r\n,:(){}").find(text_[at_]) == std::string_view::npos)
      ++at_;
    return text_.substr(start, at_ - start);
  }

  llvm::Error parseDescr(NpyHeader &header) {
    auto descr = quoted();
    if (!descr)
      return descr.takeError();
    for (const DTypeInfo &candidate : kDTypes)
      if (candidate.npy != nullptr &&
          (*descr == candidate.npy ||
           (candidate.size == 1 && *descr == std::string("<") + (candidate.npy + 1))))
        header.info = &candidate;
    if (header.info != nullptr)
      return llvm::Error::success();
    // Quoted only when short: the header is the file's own bytes.
    return npyError(path_, descr->size() <= 8
                               ? "dtype '" + std::string(*descr) + "' is not supported"
                               : std::string("its dtype is not supported"));
  }

  llvm::Error parseOrder() {
    std::string_view value = token();
    if (value == "False")
      return llvm::Error::success();
    if (value == "True")
      return npyError(path_, "Fortran-order arrays are not supported; save with C order");
    return malformed("'fortran_order' must be True or False");
  }

  // A tuple of non-negative integers: (), (5,), (2, 3) or (2, 3,).
  llvm::Error parseShape(std::vector<int64_t> &shape) {
    if (!consume('('))
      return malformed("'shape' must be a tuple of integers");
    bool trailingComma = false;
    while (!consume(')')) {
      std::string_view digits = token();
      int64_t dim = -1;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), dim);
      if (ec == std::errc::result_out_of_range)
        return malformed("dimension " + std::to_string(shape.size()) + " does not fit in int64");
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || dim < 0)
        return malformed("dimension " + std::to_string(shape.size()) +
                         " is not a non-negative integer");
      shape.push_back(dim);
      if (shape.size() > kMaxNpyDims)
        return malformed("more than " + std::to_string(kMaxNpyDims) + " dimensions");
      trailingComma = consume(',');
      if (!trailingComma && !peek(')'))
        return malformed("expected ',' or ')' in 'shape'");
    }
    // Python reads (5) as the number 5, not a tuple.
    if (shape.size() == 1 && !trailingComma)
      return malformed("'shape' must be a tuple of integers");
    return llvm::Error::success();
  }

  std::string_view text_;
  const std::string &path_;
  size_t at_ = 0;
  bool seenDescr_ = false, seenOrder_ = false, seenShape_ = false;
};

// Bytes the declared array occupies, or an error when the product of its
// dimensions and item size does not fit in 64 bits.
llvm::Expected<uint64_t> dataSizeOf(const Tensor &tensor, const std::string &path) {
  uint64_t size = dtypeSize(tensor.dtype);
  for (int64_t dim : tensor.shape)
    if (__builtin_mul_overflow(size, static_cast<uint64_t>(dim), &size))
      return npyError(path,
                      "shape " + tensor.describe() + " holds more bytes than 64 bits can count");
  return size;
}

// The whole machine's memory: an array larger than that cannot be read,
// and trying would end in std::bad_alloc or the OOM killer.
uint64_t physicalMemory() {
  long pages = ::sysconf(_SC_PHYS_PAGES), pageSize = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && pageSize > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize)
                                   : std::numeric_limits<uint64_t>::max();
}

llvm::Error allocate(std::vector<char> &bytes, uint64_t size, const std::string &path) {
  std::string what = "cannot allocate " + std::to_string(size) + " bytes for its data";
  if (size > physicalMemory())
    return makeError(ErrorKind::BadInput, path + ": " + what + " (the machine has " +
                                              std::to_string(physicalMemory()) +
                                              " bytes of memory)");
  try {
    bytes.resize(static_cast<size_t>(size));
  } catch (const std::bad_alloc &) {
    return makeError(ErrorKind::BadInput, path + ": " + what + ": out of memory");
  }
  return llvm::Error::success();
}

// Bytes after the header, from the file's size.
llvm::Expected<uint64_t> dataBytesIn(std::ifstream &in, const NpyPreamble &preamble,
                                     const std::string &path) {
  in.seekg(0, std::ios::end);
  std::streamoff end = in.tellg();
  if (end < 0)
    return npyError(path, "cannot tell its size (not a regular file?)");
  return static_cast<uint64_t>(end) - preamble.dataStart;
}

// With a hasher, every byte parsed goes through it: the preamble and the
// data, which is the whole file (trailing bytes are refused).
llvm::Expected<Tensor> readNpyHashing(const std::string &path, Sha256Hasher *hasher) {
  auto opened = openForReading(path);
  if (!opened)
    return opened.takeError();
  std::ifstream &in = *opened;
  auto preamble = readPreamble(in, path);
  if (!preamble)
    return preamble.takeError();
  auto header = NpyHeaderParser(preamble->header, path).parse();
  if (!header)
    return header.takeError();
  Tensor tensor{header->info->dtype, std::move(header->shape), {}};
  auto expected = dataSizeOf(tensor, path);
  if (!expected)
    return expected.takeError();
  auto dataBytes = dataBytesIn(in, *preamble, path);
  if (!dataBytes)
    return dataBytes.takeError();
  // Checked before allocating: the header alone must not make us reserve
  // memory the file does not back.
  if (*dataBytes != *expected)
    return npyError(path, std::string(*dataBytes < *expected ? "truncated: " : "trailing bytes: ") +
                              "holds " + std::to_string(*dataBytes) + " data bytes, " +
                              tensor.describe() + " needs " + std::to_string(*expected));
  if (llvm::Error error = allocate(tensor.bytes, *expected, path))
    return error;
  in.clear();
  in.seekg(static_cast<std::streamoff>(preamble->dataStart));
  in.read(tensor.bytes.data(), static_cast<std::streamsize>(*expected));
  if (static_cast<uint64_t>(in.gcount()) != *expected)
    return npyError(path, "read error");
  if (hasher) {
    hasher->update(preamble->prefix);
    hasher->update(preamble->header);
    hasher->update(std::string_view(tensor.bytes.data(), tensor.bytes.size()));
  }
  return tensor;
}

} // namespace

llvm::Expected<Tensor> readNpy(const std::string &path) { return readNpyHashing(path, nullptr); }

llvm::Expected<Tensor> readNpy(const std::string &path, Sha256Hasher &hasher) {
  return readNpyHashing(path, &hasher);
}

llvm::Error writeNpy(const std::string &path, const Tensor &tensor) {
  const DTypeInfo *info = infoFor(tensor.dtype);
  if (info == nullptr || info->npy == nullptr)
    return npyError(path, "cannot write element type " + dtypeName(tensor.dtype) +
                              (info ? " (.npy has no such dtype)" : ""));
  std::string shape;
  for (int64_t dim : tensor.shape)
    shape += std::to_string(dim) + ",";
  if (tensor.shape.size() > 1)
    shape.pop_back();
  std::string header = "{'descr': '" + std::string(info->npy) +
                       "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Pad so the data starts on a 64-byte boundary, newline-terminated.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(1);
  out.push_back(0);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(tensor.bytes.begin(), tensor.bytes.end());
  return writeFileAtomically(path, out);
}

} // namespace graceful
