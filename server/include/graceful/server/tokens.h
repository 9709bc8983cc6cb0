// Bearer tokens of `graceful serve`: what a token is, how one is made and
// checked, and what each role may do. A token reads "gft_<id>_<64 hex>":
// the id finds its row, the 256-bit secret is compared (as SHA-256, in
// constant time) with the hash the store keeps. The secret itself is never
// stored or logged.
#pragma once

#include "graceful/registry.pb.h"
#include "graceful/registry/store.h"

#include <cstdint>
#include <llvm/Support/Error.h>
#include <optional>
#include <string>
#include <string_view>

namespace graceful::server {

// reader: every read. publisher: also register, tag, gate run. promoter:
// also promote, roll back and set the aliases its pattern names (no
// force). admin: everything, force and alias protection included.
enum class Role { Reader, Publisher, Promoter, Admin };

llvm::Expected<Role> parseRole(std::string_view text);
std::string_view roleName(Role role);

// What a request does, for the permission check.
enum class Action { Read, Publish, MoveAlias, Administer };

struct TokenSpec {
  std::string subject;
  Role role = Role::Reader;
  std::string models = "*";       // glob (fnmatch) of model names
  std::string aliases = "*";      // glob of aliases (MoveAlias)
  std::int64_t expiresMicros = 0; // 0: never
};

// 256 bits from the system's random source (OpenSSL RAND_bytes), as 64
// hex digits: a token's or a webhook's secret.
llvm::Expected<std::string> randomSecretHex();

// Makes a token with a fresh random secret (OpenSSL RAND_bytes) and
// records its hash; the answer carries the token text, once.
llvm::Expected<proto::ApiToken> createToken(registry::Store &store, const TokenSpec &spec,
                                            const std::string &actor);

// "never", an RFC 3339 time, or a duration from now: 30m, 12h, 90d.
llvm::Expected<std::int64_t> parseExpiry(std::string_view text, std::int64_t nowMicros);

// Who a request comes from, once its token checked out.
struct Grant {
  std::int64_t tokenId = 0;
  std::string subject;
  Role role = Role::Reader;
  std::string models;
  std::string aliases;
};

// The grant of an "Authorization: Bearer ..." value; Unauthorized when the
// header is missing or malformed, or the token unknown, wrong, revoked or
// expired (one message for all of them: which it was helps only a guesser).
llvm::Expected<Grant> authenticate(registry::Store &store, std::string_view authorization,
                                   std::int64_t nowMicros);

// Why `grant` may not do `action` on the model (and alias), or nullopt
// when it may. An empty model means "every model" (list, audit).
std::optional<std::string> denial(const Grant &grant, Action action, const std::string &model,
                                  const std::string &alias = "");

} // namespace graceful::server
