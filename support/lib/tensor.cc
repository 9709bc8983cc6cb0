#include "graceful/support/tensor.h"

#include "graceful/support/error.h"
#include "graceful/support/files.h"

#include <cstring>
#include <regex>
#include <cerrno>
#include <fstream>
#include <filesystem>

namespace graceful {
namespace {

struct DTypeInfo {
  DType dtype;
  const char *npy;  // descr in .npy headers
  const char *name; // numpy's name
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::Float32, "<f4", "float32", 4}, {DType::Float64, "<f8", "float64", 8},
    {DType::Float16, "<f2", "float16", 2}, {DType::Int64, "<i8", "int64", 8},
    {DType::Int32, "<i4", "int32", 4},     {DType::Int16, "<i2", "int16", 2},
    {DType::Int8, "|i1", "int8", 1},       {DType::UInt8, "|u1", "uint8", 1},
    {DType::UInt16, "<u2", "uint16", 2},   {DType::UInt32, "<u4", "uint32", 4},
    {DType::UInt64, "<u8", "uint64", 8},   {DType::Bool, "|b1", "bool", 1},
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
    headerLength = static_cast<unsigned char>(fixed[8]) | (static_cast<unsigned char>(fixed[9]) << 8);
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
  preamble.header.resize(headerLength);
  in.clear();
  in.seekg(static_cast<std::streamoff>(preamble.dataStart));
  in.read(preamble.header.data(), static_cast<std::streamsize>(headerLength));
  if (static_cast<size_t>(in.gcount()) != headerLength)
    return npyError(path, "truncated .npy header");
  preamble.dataStart += headerLength;
  return preamble;
}

} // namespace

llvm::Expected<Tensor> readNpy(const std::string &path) {
  auto opened = openForReading(path);
  if (!opened)
    return opened.takeError();
  std::ifstream &in = *opened;
  auto preamble = readPreamble(in, path);
  if (!preamble)
    return preamble.takeError();
  const std::string &header = preamble->header;
  std::smatch descr, order, shape;
  if (!std::regex_search(header, descr, std::regex("'descr':\\s*'([^']*)'")) ||
      !std::regex_search(header, order, std::regex("'fortran_order':\\s*(True|False)")) ||
      !std::regex_search(header, shape, std::regex("'shape':\\s*\\(([^)]*)\\)")))
    return npyError(path, "malformed .npy header");
  if (order[1] == "True")
    return npyError(path, "Fortran-order arrays are not supported; save with C order");
  const DTypeInfo *info = nullptr;
  for (const DTypeInfo &candidate : kDTypes)
    if (descr[1] == candidate.npy ||
        (candidate.size == 1 && descr[1] == std::string("<") + (candidate.npy + 1)))
      info = &candidate;
  if (info == nullptr)
    return npyError(path, "dtype '" + descr[1].str() + "' is not supported");
  Tensor tensor{info->dtype, {}, {}};
  std::string dims = shape[1];
  std::regex number("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number);
       it != std::sregex_iterator(); ++it)
    tensor.shape.push_back(std::stoll(it->str()));
  in.seekg(0, std::ios::end);
  size_t dataBytes = static_cast<size_t>(in.tellg()) - preamble->dataStart;
  size_t expected = static_cast<size_t>(tensor.elementCount()) * info->size;
  if (dataBytes != expected)
    return npyError(path, "holds " + std::to_string(dataBytes) + " data bytes, " +
                              tensor.describe() + " needs " + std::to_string(expected) +
                              " (truncated?)");
  tensor.bytes.resize(expected);
  in.seekg(static_cast<std::streamoff>(preamble->dataStart));
  in.read(tensor.bytes.data(), static_cast<std::streamsize>(expected));
  if (static_cast<size_t>(in.gcount()) != expected)
    return npyError(path, "read error");
  return tensor;
}

llvm::Error writeNpy(const std::string &path, const Tensor &tensor) {
  const DTypeInfo *info = infoFor(tensor.dtype);
  if (info == nullptr)
    return npyError(path, "cannot write element type " + dtypeName(tensor.dtype));
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
