#include "graceful/server/dataset_upload.h"

#include "graceful/registry/refs.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace graceful::server {
namespace {

constexpr size_t kMaxFiles = 64;
constexpr size_t kChunkBytes = 1 << 20;

llvm::Error badManifest(const std::string &why) {
  return makeError(ErrorKind::BadInput, "X-Graceful-Dataset-Files: " + why);
}

// Copies `size` bytes from `in` to `path`; their digest.
llvm::Expected<std::string> copyPart(std::ifstream &in, std::uint64_t size,
                                     const std::string &path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    return makeError(ErrorKind::Unavailable, "cannot write " + path);
  Sha256Hasher hasher;
  std::string chunk;
  for (std::uint64_t left = size; left > 0;) {
    chunk.resize(static_cast<size_t>(std::min<std::uint64_t>(left, kChunkBytes)));
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (static_cast<size_t>(in.gcount()) != chunk.size())
      return makeError(ErrorKind::BadInput, "the upload is shorter than its manifest says");
    hasher.update(chunk);
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    left -= chunk.size();
  }
  out.close();
  if (!out)
    return makeError(ErrorKind::Unavailable, "cannot write " + path);
  return hasher.finish();
}

} // namespace

llvm::Expected<std::vector<BundledFile>>
describeBundle(const std::map<std::string, std::string> &files) {
  std::vector<BundledFile> bundle;
  for (const auto &[name, path] : files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      return makeError(ErrorKind::BadInput,
                       path + ": not a regular file (a dataset holds files, not pipes or devices)");
    auto digest = sha256File(path);
    if (!digest)
      return digest.takeError();
    bundle.push_back({name, path.ends_with(".npy"), static_cast<std::uint64_t>(digest->sizeBytes),
                      digest->digest, path});
  }
  return bundle;
}

std::string manifestOf(const std::vector<BundledFile> &files) {
  std::string text;
  for (const BundledFile &file : files)
    text += (text.empty() ? "" : ", ") + file.name + " " + (file.npy ? "npy" : "raw") + " " +
            std::to_string(file.size) + " " + file.digest;
  return text;
}

llvm::Error writeBundle(const std::vector<BundledFile> &files, const std::string &out) {
  std::ofstream body(out, std::ios::binary | std::ios::trunc);
  for (const BundledFile &file : files) {
    auto in = openForReading(file.path);
    if (!in)
      return in.takeError();
    // Streaming an empty file's buffer would mark `body` failed.
    if (file.size > 0)
      body << in->rdbuf();
  }
  body.close();
  if (!body)
    return makeError(ErrorKind::BadInput, "cannot write " + out);
  return llvm::Error::success();
}

llvm::Expected<std::vector<BundledFile>> parseManifest(std::string_view manifest) {
  std::vector<BundledFile> files;
  std::set<std::string> names;
  while (!manifest.empty()) {
    size_t comma = manifest.find(", ");
    std::string entry(manifest.substr(0, comma));
    manifest = comma == std::string_view::npos ? "" : manifest.substr(comma + 2);
    if (files.size() == kMaxFiles)
      return badManifest("more than " + std::to_string(kMaxFiles) + " files");
    std::string name, kind, size, digest, extra;
    std::istringstream fields(entry);
    if (!(fields >> name >> kind >> size >> digest) || (fields >> extra) ||
        (kind != "npy" && kind != "raw"))
      return badManifest("expected \"NAME npy|raw SIZE sha256:...\" for each file");
    if (llvm::Error error = registry::validateDatasetFileName(name))
      return error;
    if (!names.insert(name).second)
      return badManifest("file '" + name + "' is named twice");
    if (!isWellFormedDigest(digest))
      return badManifest("file '" + name + "': not a sha256 digest");
    BundledFile file{name, kind == "npy", 0, digest, ""};
    auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), file.size);
    if (ec != std::errc() || end != size.data() + size.size())
      return badManifest("file '" + name + "': the size must be a count of bytes");
    files.push_back(std::move(file));
  }
  if (files.empty())
    return badManifest("names no files");
  return files;
}

llvm::Error unbundle(const std::string &body, std::vector<BundledFile> &files,
                     const std::string &directory) {
  std::uint64_t total = 0;
  for (const BundledFile &file : files) {
    if (file.size > UINT64_MAX - total)
      return badManifest("the sizes add up to more than any upload");
    total += file.size;
  }
  std::error_code ec;
  std::uint64_t received = std::filesystem::file_size(body, ec);
  if (ec || received != total)
    return makeError(ErrorKind::BadInput, "the upload holds " + std::to_string(received) +
                                              " bytes, its manifest names " +
                                              std::to_string(total));
  auto in = openForReading(body);
  if (!in)
    return in.takeError();
  for (size_t i = 0; i < files.size(); ++i) {
    BundledFile &file = files[i];
    // Numbered, not named: "a" as npy and "a.npy" as raw would collide.
    file.path = (std::filesystem::path(directory) / (std::to_string(i) + (file.npy ? ".npy" : "")))
                    .string();
    auto digest = copyPart(*in, file.size, file.path);
    if (!digest)
      return digest.takeError();
    if (*digest != file.digest)
      return makeError(ErrorKind::BadInput, "file '" + file.name + "' hashes to " + *digest +
                                                ", not to the " + file.digest +
                                                " its manifest names");
  }
  return llvm::Error::success();
}

} // namespace graceful::server
