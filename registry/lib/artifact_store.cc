#include "graceful/registry/artifact_store.h"

#include "graceful/support/error.h"
#include "graceful/support/files.h"

#include <array>
#include <filesystem>
#include <fstream>

namespace graceful::registry {
namespace fs = std::filesystem;

ArtifactStore::ArtifactStore(std::string root) : root_(std::move(root)) {}

std::string ArtifactStore::pathFor(std::string_view digest) const {
  // sha256/ab/abcdef…: two-level fan-out keeps directories small.
  std::string hex(digest.substr(digest.find(':') + 1));
  return (fs::path(root_) / "sha256" / hex.substr(0, 2) / hex).string();
}

llvm::Expected<PutArtifact> ArtifactStore::put(const std::string &sourcePath,
                                               StagedCheck accept) const {
  std::ifstream in(sourcePath, std::ios::binary);
  if (!in)
    return makeError(ErrorKind::NotFound, sourcePath + ": cannot open file");
  std::string staging = (fs::path(root_) / "tmp").string();
  if (llvm::Error error = createDirectories(staging))
    return error;
  auto writer = AtomicFileWriter::create((fs::path(staging) / "incoming").string());
  if (!writer)
    return writer.takeError();
  Sha256Hasher hasher;
  PutArtifact result;
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    std::string_view chunk(buffer.data(), static_cast<size_t>(in.gcount()));
    hasher.update(chunk);
    result.sizeBytes += static_cast<std::int64_t>(chunk.size());
    if (llvm::Error error = (*writer)->append(chunk))
      return error;
  }
  if (in.bad())
    return makeError(ErrorKind::BadInput, sourcePath + ": read error");
  result.digest = hasher.finish();
  if (accept)
    if (llvm::Error refused = accept((*writer)->temporaryPath(), result))
      return refused;
  std::string destination = pathFor(result.digest);
  if (llvm::Error error = createDirectories(fs::path(destination).parent_path().string()))
    return error;
  // Identical bytes are stored once; a verified copy already in place stays.
  if (fs::exists(destination)) {
    if (llvm::Error stale = verify(result.digest))
      llvm::consumeError(std::move(stale));
    else
      return result;
  }
  if (llvm::Error error = (*writer)->commit(destination))
    return error;
  result.created = true;
  return result;
}

llvm::Error ArtifactStore::discard(std::string_view digest) const {
  std::error_code ec;
  fs::remove(pathFor(digest), ec);
  if (ec)
    return makeError(ErrorKind::StoreUnavailable,
                     pathFor(digest) + ": cannot remove: " + ec.message());
  return llvm::Error::success();
}

llvm::Error ArtifactStore::verify(std::string_view digest) const {
  std::string path = pathFor(digest);
  std::error_code ec;
  fs::file_status status = fs::symlink_status(path, ec);
  if (!fs::exists(status))
    return makeError(ErrorKind::Corrupt,
                     "artifact " + std::string(digest) + " is missing (" + path + ")");
  // The store writes only regular files: a link or a device in their place
  // was put there by hand (and /dev/zero would never finish hashing).
  if (!fs::is_regular_file(status))
    return makeError(ErrorKind::Corrupt,
                     "artifact " + std::string(digest) + " is not a regular file (" + path + ")");
  llvm::Expected<FileDigest> actual = sha256File(path);
  if (!actual)
    return actual.takeError();
  if (actual->digest != digest)
    return makeError(ErrorKind::Corrupt, "artifact " + std::string(digest) + " is corrupt: " +
                                             path + " hashes to " + actual->digest);
  return llvm::Error::success();
}

llvm::Error ArtifactStore::fetchTo(std::string_view digest,
                                   const std::string &destinationPath) const {
  llvm::Expected<std::string> bytes = readFile(pathFor(digest));
  if (!bytes)
    return makeError(ErrorKind::Corrupt,
                     "artifact " + std::string(digest) + " is missing (" + pathFor(digest) + ")");
  if (sha256Digest(*bytes) != digest)
    return makeError(ErrorKind::Corrupt, "artifact " + std::string(digest) + " is corrupt: " +
                                             pathFor(digest) + " no longer matches its digest");
  return writeFileAtomically(destinationPath, *bytes);
}

llvm::Expected<std::vector<std::string>> ArtifactStore::listDigests() const {
  std::vector<std::string> digests;
  fs::path base = fs::path(root_) / "sha256";
  std::error_code ec;
  if (!fs::exists(base, ec))
    return digests;
  for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file())
      continue;
    std::string digest = "sha256:" + it->path().filename().string();
    if (isWellFormedDigest(digest))
      digests.push_back(digest);
  }
  if (ec)
    return makeError(ErrorKind::StoreUnavailable, base.string() + ": " + ec.message());
  return digests;
}

} // namespace graceful::registry
