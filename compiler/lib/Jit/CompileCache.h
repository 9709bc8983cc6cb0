// Internal: compiled code kept on disk between runs, so gating the same
// model twice compiles it once.
#pragma once

#include "graceful/compiler/Jit.h"
#include "graceful/support/seal.h"

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

// Entries are sealed (support/seal.h) for their key under the user's
// secret: an object copied from another entry, edited, or written by
// another user is never loaded, because native code from a directory other
// clients can write would run as ours. Without a usable key the cache is
// off: nothing is loaded or stored.
class CompileCache {
public:
  CompileCache(std::string directory, uint64_t limitBytes);

  // The object file stored under `key`, or null when there is none. An
  // entry whose seal does not open for `key` is removed and reported as
  // absent, so a damaged or forged entry costs a recompile, never a wrong
  // result.
  std::unique_ptr<llvm::MemoryBuffer> find(const std::string &key) const;

  // Stores atomically, then evicts the least recently used entries while
  // the directory holds more than the limit.
  llvm::Error store(const std::string &key, llvm::StringRef object) const;

private:
  std::string pathOf(const std::string &key) const;
  void evict() const;

  std::string directory_;
  uint64_t limitBytes_;
  std::optional<Sealer> sealer_;
};

} // namespace graceful::compiler
