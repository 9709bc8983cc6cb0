// Sealed files: what graceful writes to a cache, bound to what it is the
// cached value of and to a secret of the user who wrote it.
//
// Caches live in directories other clients can write (a registry's
// cache/, a shared home). A checksum stored beside an entry proves nothing
// there: whoever copies or edits an entry can recompute it. A seal is an
// HMAC-SHA256, under a per-user secret key, of the entry's label (what it
// is: model digest, data digest, compiler build, CPU) and its bytes. An
// entry copied under another label, edited, or written by someone without
// the key fails to open, and the caller recomputes it.
#pragma once

#include <llvm/Support/Error.h>
#include <optional>
#include <string>
#include <string_view>

namespace graceful {

class Sealer {
public:
  // The user's key: the file named by GRACEFUL_SEAL_KEY, else
  // $XDG_CONFIG_HOME/graceful/seal.key, else ~/.config/graceful/seal.key,
  // created with 32 random bytes (mode 0600) on first use. A key file that
  // others can read or write, or that is not 32 bytes, is refused.
  static llvm::Expected<Sealer> forUser();
  // A sealer with the given key (tests).
  explicit Sealer(std::string key) : key_(std::move(key)) {}

  // `payload` sealed for `label`: a header line with the HMAC, then the payload.
  std::string seal(std::string_view label, std::string_view payload) const;
  // The payload in `sealed` when it was sealed with this key for `label`;
  // nullopt for anything else (another label, an edit, another key,
  // truncation, no header).
  std::optional<std::string_view> open(std::string_view label, std::string_view sealed) const;

private:
  std::string mac(std::string_view label, std::string_view payload) const;

  std::string key_;
};

} // namespace graceful
