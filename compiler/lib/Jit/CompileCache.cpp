#include "CompileCache.h"

#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"

#include <algorithm>
#include <dlfcn.h>
#include <filesystem>
#include <link.h>
#include <llvm/ADT/StringMap.h>
#include <llvm/TargetParser/Host.h>

namespace graceful::compiler {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kGnuBuildIdNote = 3; // NT_GNU_BUILD_ID

struct BuildIdSearch {
  uintptr_t base;
  std::string id;
};

std::string buildIdIn(const dl_phdr_info &object) {
  for (int i = 0; i < object.dlpi_phnum; ++i) {
    const ElfW(Phdr) &segment = object.dlpi_phdr[i];
    if (segment.p_type != PT_NOTE)
      continue;
    auto *cursor = reinterpret_cast<const unsigned char *>(object.dlpi_addr + segment.p_vaddr);
    const unsigned char *end = cursor + segment.p_memsz;
    while (cursor + sizeof(ElfW(Nhdr)) <= end) {
      auto *note = reinterpret_cast<const ElfW(Nhdr) *>(cursor);
      size_t nameBytes = (note->n_namesz + 3) & ~size_t{3};
      size_t descBytes = (note->n_descsz + 3) & ~size_t{3};
      const unsigned char *desc = cursor + sizeof(ElfW(Nhdr)) + nameBytes;
      if (note->n_type == kGnuBuildIdNote && note->n_namesz == 4 && desc + note->n_descsz <= end)
        return hexOf(desc, note->n_descsz);
      cursor = desc + descBytes;
    }
  }
  return "";
}

// The GNU build ID of the binary this code was linked into: any change to
// the compiler changes it, which a version number would not.
std::string compilerBuildId() {
  static const std::string id = [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&compilerBuildId), &info) == 0)
      return std::string();
    BuildIdSearch search{reinterpret_cast<uintptr_t>(info.dli_fbase), ""};
    dl_iterate_phdr(
        [](dl_phdr_info *object, size_t, void *data) {
          auto &found = *static_cast<BuildIdSearch *>(data);
          for (int i = 0; i < object->dlpi_phnum; ++i)
            if (object->dlpi_phdr[i].p_type == PT_LOAD) {
              if (object->dlpi_addr + object->dlpi_phdr[i].p_vaddr != found.base)
                return 0;
              found.id = buildIdIn(*object);
              return 1;
            }
          return 0;
        },
        &search);
    return search.id;
  }();
  return id;
}

std::string hostCpu() {
  std::string cpu = llvm::sys::getHostCPUName().str();
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  std::vector<std::string> enabled;
  for (const auto &feature : features)
    if (feature.getValue())
      enabled.push_back(feature.getKey().str());
  std::sort(enabled.begin(), enabled.end());
  for (const std::string &feature : enabled)
    cpu += "," + feature;
  return cpu;
}

} // namespace

std::string compilerIdentity() {
  std::string build = compilerBuildId();
  if (build.empty())
    return ""; // without a build ID, stale code could not be told apart
  static const std::string cpu = hostCpu();
  return build + "\n" + cpu;
}

std::string compileCacheKey(const std::string &modelDigest, const std::vector<TensorSpec> &inputs,
                            const std::vector<std::optional<Tensor>> &fixed) {
  std::string identity = compilerIdentity();
  if (identity.empty())
    return "";
  std::string key = modelDigest + "\n" + identity + "\n";
  for (size_t i = 0; i < inputs.size(); ++i) {
    key += inputs[i].name + ":" + std::to_string(static_cast<int>(inputs[i].dtype));
    for (int64_t dim : inputs[i].shape)
      key += "," + std::to_string(dim);
    if (fixed[i])
      key += "=" + sha256Digest({fixed[i]->bytes.data(), fixed[i]->bytes.size()});
    key += "\n";
  }
  std::string digest = sha256Digest(key);
  return digest.substr(digest.find(':') + 1);
}

CompileCache::CompileCache(std::string directory, uint64_t limitBytes)
    : directory_(std::move(directory)), limitBytes_(limitBytes) {
  auto sealer = Sealer::forUser();
  if (sealer)
    sealer_.emplace(std::move(*sealer));
  else
    llvm::consumeError(sealer.takeError()); // the cache is off
}

std::string CompileCache::pathOf(const std::string &key) const {
  return directory_ + "/" + key + ".o";
}

std::unique_ptr<llvm::MemoryBuffer> CompileCache::find(const std::string &key) const {
  if (!sealer_)
    return nullptr;
  std::string path = pathOf(key);
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!file)
    return nullptr;
  std::optional<std::string_view> object = sealer_->open(key, (*file)->getBuffer());
  if (!object || object->empty()) {
    std::error_code ignored;
    fs::remove(path, ignored);
    return nullptr;
  }
  std::error_code ignored;
  fs::last_write_time(path, fs::file_time_type::clock::now(), ignored); // recently used
  return llvm::MemoryBuffer::getMemBufferCopy(*object, path);
}

llvm::Error CompileCache::store(const std::string &key, llvm::StringRef object) const {
  if (!sealer_)
    return llvm::Error::success();
  if (llvm::Error error = createDirectories(directory_))
    return error;
  auto writer = AtomicFileWriter::create(pathOf(key));
  if (!writer)
    return writer.takeError();
  if (llvm::Error error = (*writer)->append(sealer_->seal(key, object)))
    return error;
  if (llvm::Error error = (*writer)->commit())
    return error;
  evict();
  return llvm::Error::success();
}

void CompileCache::evict() const {
  struct Entry {
    fs::path path;
    fs::file_time_type used;
    uintmax_t bytes;
  };
  std::vector<Entry> entries;
  uintmax_t total = 0;
  std::error_code error;
  for (const auto &file : fs::directory_iterator(directory_, error)) {
    if (file.path().extension() != ".o")
      continue;
    std::error_code statError;
    Entry entry{file.path(), file.last_write_time(statError), file.file_size(statError)};
    if (statError)
      continue;
    total += entry.bytes;
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry &a, const Entry &b) { return a.used < b.used; });
  // The newest entry stays even if it alone is over the limit.
  for (size_t i = 0; total > limitBytes_ && i + 1 < entries.size(); ++i) {
    std::error_code ignored;
    if (fs::remove(entries[i].path, ignored))
      total -= entries[i].bytes;
  }
}

} // namespace graceful::compiler
