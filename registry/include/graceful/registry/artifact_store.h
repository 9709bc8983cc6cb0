// Content-addressed storage for model artifacts: a file's name is the
// SHA-256 of its bytes, so identical bytes are stored once and corruption is
// detectable on every read.
#pragma once

#include "graceful/support/digest.h"

#include <llvm/ADT/STLFunctionalExtras.h>
#include <llvm/Support/Error.h>
#include <string>
#include <vector>

namespace graceful::registry {

// An artifact put in: its digest and size, and whether this put created the
// file (false when identical bytes were stored already).
struct PutArtifact : FileDigest {
  bool created = false;
};

class ArtifactStore {
public:
  explicit ArtifactStore(std::string root);

  const std::string &root() const { return root_; }

  // Copies `sourcePath` in, hashing while copying; the copy is fsync'd and
  // renamed into place, so a killed process never leaves a partial artifact.
  // `accept`, when given, sees the staged copy and its digest before the
  // rename and may refuse it: what it checked is then exactly what is
  // stored, whatever happens to the source meanwhile.
  using StagedCheck =
      llvm::function_ref<llvm::Error(const std::string &stagedPath, const FileDigest &staged)>;
  llvm::Expected<PutArtifact> put(const std::string &sourcePath, StagedCheck accept = {}) const;

  // Removes an artifact that nothing refers to (one a failed register put
  // in); a missing file is not an error.
  llvm::Error discard(std::string_view digest) const;

  // Where the artifact with `digest` lives (whether or not it exists).
  std::string pathFor(std::string_view digest) const;

  // The artifact exists and its bytes hash to `digest`.
  llvm::Error verify(std::string_view digest) const;

  // Copies a verified artifact out to `destinationPath`.
  llvm::Error fetchTo(std::string_view digest, const std::string &destinationPath) const;

  // Digests of every artifact present, for consistency checks.
  llvm::Expected<std::vector<std::string>> listDigests() const;

private:
  std::string root_;
};

} // namespace graceful::registry
