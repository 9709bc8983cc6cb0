#include "graceful/gates/data_files.h"

#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"

namespace graceful::gates {

llvm::Error DataFiles::changedPinnedFile(const std::string &path) const {
  return makeError(ErrorKind::Corrupt, path + ": does not hold the bytes its dataset records (" +
                                           pinned_.at(path) +
                                           "): the artifact store was changed; nothing was "
                                           "recorded");
}

llvm::Expected<DataFiles::File *> DataFiles::record(const std::string &path, std::string digest) {
  if (auto pinned = pinned_.find(path); pinned != pinned_.end() && pinned->second != digest)
    return changedPinnedFile(path);
  auto [it, inserted] = files_.try_emplace(path);
  if (inserted)
    it->second.digest = std::move(digest);
  else if (it->second.digest != digest)
    return makeError(ErrorKind::BadInput, path + ": changed during the evaluation (read as " +
                                              it->second.digest + ", then as " + digest +
                                              "); nothing was recorded, run it again");
  return &it->second;
}

llvm::Expected<std::string> DataFiles::digest(const std::string &path) {
  if (auto it = files_.find(path); it != files_.end())
    return it->second.digest;
  auto digest = sha256File(path);
  if (!digest)
    return digest.takeError();
  auto file = record(path, digest->digest);
  if (!file)
    return file.takeError();
  return (*file)->digest;
}

llvm::Expected<const Tensor *> DataFiles::npy(const std::string &path) {
  if (auto it = files_.find(path); it != files_.end() && it->second.array)
    return &*it->second.array;
  Sha256Hasher hasher;
  auto array = readNpy(path, hasher);
  if (!array && pinned_.contains(path)) {
    // A dataset's file that no longer parses may hold other bytes: then
    // that is what to say. Its own bytes not being an array (a policy
    // naming a dataset's id list as labels) is the parse error's to say.
    auto now = sha256File(path);
    if (now && now->digest != pinned_.at(path)) {
      llvm::consumeError(array.takeError());
      return changedPinnedFile(path);
    }
    if (!now)
      llvm::consumeError(now.takeError());
  }
  if (!array)
    return array.takeError();
  auto file = record(path, hasher.finish());
  if (!file)
    return file.takeError();
  (*file)->array = std::move(*array);
  return &*(*file)->array;
}

llvm::Expected<const std::string *> DataFiles::bytes(const std::string &path) {
  if (auto it = files_.find(path); it != files_.end() && it->second.bytes)
    return &*it->second.bytes;
  auto bytes = readFile(path);
  if (!bytes)
    return bytes.takeError();
  auto file = record(path, sha256Digest(*bytes));
  if (!file)
    return file.takeError();
  (*file)->bytes = std::move(*bytes);
  return &*(*file)->bytes;
}

} // namespace graceful::gates
