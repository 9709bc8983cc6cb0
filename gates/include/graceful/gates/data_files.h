// The files a policy's gates read, each read once per evaluation: the bytes
// a gate parses are the bytes whose digest the report records (and the
// outputs cache is keyed by), whatever happens to the file meanwhile.
#pragma once

#include "graceful/support/tensor.h"

#include <llvm/Support/Error.h>
#include <map>
#include <optional>
#include <string>

namespace graceful::gates {

class DataFiles {
public:
  // `pinned`: paths whose bytes must hash to the given digest (a dataset's
  // files, Policy::pinnedDigests).
  explicit DataFiles(std::map<std::string, std::string> pinned = {}) : pinned_(std::move(pinned)) {}

  // "sha256:..." of the bytes this evaluation reads from `path`. A file no
  // gate read is hashed now; a later read must then find the same bytes.
  llvm::Expected<std::string> digest(const std::string &path);
  // The file as a NumPy array, read on first use.
  llvm::Expected<const Tensor *> npy(const std::string &path);
  // The file's bytes (sample id lists, device profiles), read on first use.
  llvm::Expected<const std::string *> bytes(const std::string &path);

private:
  struct File {
    std::string digest;
    std::optional<Tensor> array;
    std::optional<std::string> bytes;
  };
  // Records a read of `path` that found bytes of `digest`: refused when an
  // earlier read of the file this evaluation found others.
  llvm::Expected<File *> record(const std::string &path, std::string digest);
  llvm::Error changedPinnedFile(const std::string &path) const;

  std::map<std::string, std::string> pinned_;
  std::map<std::string, File> files_;
};

} // namespace graceful::gates
