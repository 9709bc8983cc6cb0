// SHA-256 digests, written "sha256:<64 hex digits>" everywhere.
#pragma once

#include <cstdint>
#include <llvm/Support/Error.h>
#include <string>
#include <string_view>

namespace graceful {

struct FileDigest {
  std::string digest; // "sha256:<hex>"
  std::int64_t sizeBytes = 0;
};

// Incremental hashing, for bytes that stream through (artifact copies).
class Sha256Hasher {
public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher &) = delete;
  Sha256Hasher &operator=(const Sha256Hasher &) = delete;

  void update(std::string_view bytes);
  // "sha256:<hex>"; the hasher is spent afterwards.
  std::string finish();

private:
  struct Context;
  Context *context_;
};

std::string sha256Digest(std::string_view bytes);

// Lowercase hex of `size` bytes (two digits each).
std::string hexOf(const unsigned char *bytes, size_t size);

// Streams the file, so large artifacts are not held in memory.
llvm::Expected<FileDigest> sha256File(const std::string &path);

// True for "sha256:" followed by exactly 64 lowercase hex digits.
bool isWellFormedDigest(std::string_view digest);

} // namespace graceful
