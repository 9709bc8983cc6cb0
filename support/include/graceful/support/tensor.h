// A host tensor: element type, shape and C-order bytes. What .npy files,
// ONNX test data and the JIT exchange.
#pragma once

#include <cstdint>
#include <llvm/Support/Error.h>
#include <string>
#include <vector>

namespace graceful {

class Sha256Hasher;

// Values are ONNX TensorProto data types, so no table is needed between them.
enum class DType : int32_t {
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  Bool = 9,
  Float16 = 10,
  Float64 = 11,
  UInt32 = 12,
  UInt64 = 13,
  BFloat16 = 16, // no .npy dtype: models may take it, .npy files cannot hold it
};

size_t dtypeSize(DType dtype);
std::string dtypeName(DType dtype);

struct Tensor {
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  std::vector<char> bytes;

  int64_t elementCount() const;
  template <typename T> const T *data() const { return reinterpret_cast<const T *>(bytes.data()); }
  template <typename T> T *data() { return reinterpret_cast<T *>(bytes.data()); }
  std::string describe() const; // "float32[8,3,224,224]"
};

Tensor makeTensor(DType dtype, std::vector<int64_t> shape);

// NumPy .npy (format 1.0-3.0, little-endian, C order).
llvm::Expected<Tensor> readNpy(const std::string &path);
// The same, with every byte it parses (the whole file) hashed into
// `hasher`: the digest then names exactly the array returned, whatever
// happens to the file around the read.
llvm::Expected<Tensor> readNpy(const std::string &path, Sha256Hasher &hasher);
llvm::Error writeNpy(const std::string &path, const Tensor &tensor);

} // namespace graceful
