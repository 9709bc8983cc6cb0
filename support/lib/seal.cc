#include "graceful/support/seal.h"

#include "graceful/support/digest.h"
#include "graceful/support/error.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

namespace graceful {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr std::string_view kMagic = "graceful-seal-1 ";
constexpr size_t kMacHex = 64;
constexpr size_t kHeaderBytes = kMagic.size() + kMacHex + 1; // magic, MAC, '\n'

std::string keyPath() {
  if (const char *path = std::getenv("GRACEFUL_SEAL_KEY"); path && *path)
    return path;
  if (const char *config = std::getenv("XDG_CONFIG_HOME"); config && *config)
    return std::string(config) + "/graceful/seal.key";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.config/graceful/seal.key";
  return "";
}

llvm::Error keyError(const std::string &path, const std::string &what) {
  return makeError(ErrorKind::BadInput, path + ": cache key file " + what);
}

// Creates the key file with fresh random bytes, unless another process
// just did (O_EXCL): then its key is the one to read.
llvm::Error createKey(const std::string &path) {
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  std::array<unsigned char, kKeyBytes> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    return keyError(path, "cannot be made: no random bytes");
  std::string temporary = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return keyError(path, std::string("cannot be created: ") + std::strerror(errno));
  bool written =
      ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
  ::close(fd);
  // link() fails if the key exists: a concurrent creator won, and both use its key.
  bool linked = written && (::link(temporary.c_str(), path.c_str()) == 0 || errno == EEXIST);
  ::unlink(temporary.c_str());
  if (!linked)
    return keyError(path, std::string("cannot be written: ") + std::strerror(errno));
  return llvm::Error::success();
}

llvm::Expected<std::string> readKey(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return keyError(path, std::string("cannot be opened: ") + std::strerror(errno));
  struct stat info {};
  std::string key(kKeyBytes + 1, '\0');
  ssize_t got = ::fstat(fd, &info) == 0 ? ::read(fd, key.data(), key.size()) : -1;
  ::close(fd);
  if (!S_ISREG(info.st_mode) || (info.st_mode & (S_IRWXG | S_IRWXO)) != 0 ||
      info.st_uid != ::geteuid())
    return keyError(path, "must be a regular file of this user that no one else can read "
                          "or write (chmod 600)");
  if (got != static_cast<ssize_t>(kKeyBytes))
    return keyError(path, "must hold exactly 32 bytes");
  key.resize(kKeyBytes);
  return key;
}

} // namespace

llvm::Expected<Sealer> Sealer::forUser() {
  std::string path = keyPath();
  if (path.empty())
    return makeError(ErrorKind::BadInput,
                     "no place for the cache key: set GRACEFUL_SEAL_KEY, XDG_CONFIG_HOME or HOME");
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0)
    if (llvm::Error error = createKey(path))
      return error;
  auto key = readKey(path);
  if (!key)
    return key.takeError();
  return Sealer(std::move(*key));
}

std::string Sealer::mac(std::string_view label, std::string_view payload) const {
  // The label's length goes first, so no (label, payload) split of the
  // same bytes gives the same MAC.
  std::string message = std::to_string(label.size()) + ":";
  message.append(label);
  EVP_MAC *hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX *context = hmac ? EVP_MAC_CTX_new(hmac) : nullptr;
  char sha256[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256, 0),
                         OSSL_PARAM_construct_end()};
  std::array<unsigned char, 32> digest{};
  size_t length = 0;
  bool done = context &&
              EVP_MAC_init(context, reinterpret_cast<const unsigned char *>(key_.data()),
                           key_.size(), params) == 1 &&
              EVP_MAC_update(context, reinterpret_cast<const unsigned char *>(message.data()),
                             message.size()) == 1 &&
              EVP_MAC_update(context, reinterpret_cast<const unsigned char *>(payload.data()),
                             payload.size()) == 1 &&
              EVP_MAC_final(context, digest.data(), &length, digest.size()) == 1;
  EVP_MAC_CTX_free(context);
  EVP_MAC_free(hmac);
  // Without a MAC nothing can be opened: an empty one matches no header.
  if (!done)
    return std::string();
  return hexOf(digest.data(), length);
}

std::string Sealer::seal(std::string_view label, std::string_view payload) const {
  std::string sealed(kMagic);
  sealed += mac(label, payload);
  sealed += '\n';
  sealed.append(payload);
  return sealed;
}

std::optional<std::string_view> Sealer::open(std::string_view label,
                                             std::string_view sealed) const {
  if (sealed.size() < kHeaderBytes || !sealed.starts_with(kMagic) ||
      sealed[kHeaderBytes - 1] != '\n')
    return std::nullopt;
  std::string_view payload = sealed.substr(kHeaderBytes);
  std::string expected = mac(label, payload);
  if (expected.size() != kMacHex ||
      CRYPTO_memcmp(expected.data(), sealed.data() + kMagic.size(), kMacHex) != 0)
    return std::nullopt;
  return payload;
}

} // namespace graceful
