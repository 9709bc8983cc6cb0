#include "graceful/support/digest.h"

#include "graceful/support/error.h"

#include <array>
#include <fstream>
#include <openssl/evp.h>

namespace graceful {

struct Sha256Hasher::Context {
  EVP_MD_CTX *evp = EVP_MD_CTX_new();
};

Sha256Hasher::Sha256Hasher() : context_(new Context) {
  EVP_DigestInit_ex(context_->evp, EVP_sha256(), nullptr);
}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(context_->evp);
  delete context_;
}

void Sha256Hasher::update(std::string_view bytes) {
  EVP_DigestUpdate(context_->evp, bytes.data(), bytes.size());
}

std::string Sha256Hasher::finish() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> raw{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->evp, raw.data(), &length);
  return "sha256:" + hexOf(raw.data(), length);
}

std::string hexOf(const unsigned char *bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < size; ++i) {
    text.push_back(kHex[bytes[i] >> 4]);
    text.push_back(kHex[bytes[i] & 0xf]);
  }
  return text;
}

std::string sha256Digest(std::string_view bytes) {
  Sha256Hasher hasher;
  hasher.update(bytes);
  return hasher.finish();
}

llvm::Expected<FileDigest> sha256File(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return makeError(ErrorKind::NotFound, path + ": cannot open file");
  Sha256Hasher hasher;
  std::array<char, 1 << 16> buffer{};
  FileDigest result;
  while (in) {
    in.read(buffer.data(), buffer.size());
    std::streamsize got = in.gcount();
    hasher.update(std::string_view(buffer.data(), static_cast<size_t>(got)));
    result.sizeBytes += got;
  }
  if (in.bad())
    return makeError(ErrorKind::BadInput, path + ": read error");
  result.digest = hasher.finish();
  return result;
}

bool isWellFormedDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || !digest.starts_with(kPrefix))
    return false;
  for (char c : digest.substr(kPrefix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

} // namespace graceful
