// Internal: compiled code kept on disk between runs, so gating the same
// model twice compiles it once.
#pragma once

#include "graceful/compiler/Jit.h"

#include <cstdint>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>
#include <memory>
#include <optional>
#include <string>

namespace graceful::compiler {

// What makes compiled code reusable: the model file's digest, the shapes and
// dtypes it was specialized to and the values of fixed inputs (`fixed`,
// parallel to `inputs`), the compiler's own build (so a rebuilt compiler
// never runs code an older one produced) and the host CPU (the code uses
// its features).
std::string compileCacheKey(const std::string &modelDigest, const std::vector<TensorSpec> &inputs,
                            const std::vector<std::optional<Tensor>> &fixed);

class CompileCache {
public:
  CompileCache(std::string directory, uint64_t limitBytes);

  // The object file stored under `key`, or null when there is none. An entry
  // whose bytes do not match its recorded digest is removed and reported as
  // absent, so a damaged cache costs a recompile, never a wrong result.
  std::unique_ptr<llvm::MemoryBuffer> find(const std::string &key) const;

  // Stores atomically, then evicts the least recently used entries while
  // the directory holds more than the limit.
  llvm::Error store(const std::string &key, llvm::StringRef object) const;

private:
  std::string pathOf(const std::string &key) const;
  void evict() const;

  std::string directory_;
  uint64_t limitBytes_;
};

} // namespace graceful::compiler
