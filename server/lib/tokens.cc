#include "graceful/server/tokens.h"

#include "graceful/support/digest.h"
#include "graceful/support/error.h"

#include <charconv>
#include <fnmatch.h>
#include <google/protobuf/util/time_util.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace graceful::server {
namespace {

constexpr std::string_view kPrefix = "gft_";
constexpr size_t kSecretBytes = 32;

bool matches(const std::string &pattern, const std::string &text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

llvm::Error unauthorized() {
  return makeError(ErrorKind::Unauthorized,
                   "a valid bearer token is required (Authorization: Bearer gft_...)");
}

} // namespace

llvm::Expected<Role> parseRole(std::string_view text) {
  for (Role role : {Role::Reader, Role::Publisher, Role::Promoter, Role::Admin})
    if (roleName(role) == text)
      return role;
  return makeError(ErrorKind::BadInput, "role '" + std::string(text) +
                                            "': expected reader, publisher, promoter or admin");
}

std::string_view roleName(Role role) {
  switch (role) {
  case Role::Reader:
    return "reader";
  case Role::Publisher:
    return "publisher";
  case Role::Promoter:
    return "promoter";
  case Role::Admin:
    return "admin";
  }
  return "reader";
}

llvm::Expected<std::int64_t> parseExpiry(std::string_view text, std::int64_t nowMicros) {
  if (text.empty() || text == "never")
    return 0;
  std::int64_t amount = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (ec == std::errc() && amount > 0 && end + 1 == text.data() + text.size()) {
    constexpr std::int64_t kMinute = 60'000'000;
    switch (*end) {
    case 'm':
      return nowMicros + amount * kMinute;
    case 'h':
      return nowMicros + amount * 60 * kMinute;
    case 'd':
      return nowMicros + amount * 24 * 60 * kMinute;
    default:
      break;
    }
  }
  google::protobuf::Timestamp time;
  if (google::protobuf::util::TimeUtil::FromString(std::string(text), &time))
    return google::protobuf::util::TimeUtil::TimestampToMicroseconds(time);
  return makeError(ErrorKind::BadInput,
                   "--expires '" + std::string(text) +
                       "': expected never, a duration (30m, 12h, 90d) or an RFC 3339 time");
}

llvm::Expected<std::string> randomSecretHex() {
  unsigned char secret[kSecretBytes];
  if (RAND_bytes(secret, sizeof secret) != 1)
    return makeError(ErrorKind::Unavailable, "the system's random source failed");
  std::string secretHex = hexOf(secret, sizeof secret);
  OPENSSL_cleanse(secret, sizeof secret);
  return secretHex;
}

llvm::Expected<proto::ApiToken> createToken(registry::Store &store, const TokenSpec &spec,
                                            const std::string &actor) {
  if (spec.subject.empty())
    return makeError(ErrorKind::BadInput, "missing --subject (see --help)");
  auto secretHex = randomSecretHex();
  if (!secretHex)
    return secretHex.takeError();
  registry::TokenRequest request;
  request.subject = spec.subject;
  request.role = std::string(roleName(spec.role));
  request.models = spec.models;
  request.aliases = spec.aliases;
  request.expiresMicros = spec.expiresMicros;
  request.secretSha256 = sha256Digest(*secretHex);
  request.actor = actor;
  auto token = store.createToken(request);
  if (!token)
    return token.takeError();
  token->set_token(std::string(kPrefix) + std::to_string(token->id()) + "_" + *secretHex);
  return token;
}

llvm::Expected<Grant> authenticate(registry::Store &store, std::string_view authorization,
                                   std::int64_t nowMicros) {
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization.starts_with(kBearer))
    return unauthorized();
  std::string_view token = authorization.substr(kBearer.size());
  if (!token.starts_with(kPrefix))
    return unauthorized();
  token.remove_prefix(kPrefix.size());
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), id);
  if (ec != std::errc() || end == token.data() + token.size() || *end != '_')
    return unauthorized();
  std::string_view secret(end + 1, static_cast<size_t>(token.data() + token.size() - end - 1));
  if (secret.size() != 2 * kSecretBytes)
    return unauthorized();
  auto stored = store.findToken(id);
  if (!stored)
    return stored.takeError();
  if (!*stored)
    return unauthorized();
  // Both sides are digests of the same length: CRYPTO_memcmp takes the same
  // time wherever they differ.
  std::string presented = sha256Digest(secret);
  const std::string &expected = (*stored)->secretSha256;
  if (presented.size() != expected.size() ||
      CRYPTO_memcmp(presented.data(), expected.data(), presented.size()) != 0)
    return unauthorized();
  const proto::ApiToken &record = (*stored)->token;
  namespace pu = google::protobuf::util;
  if (record.has_revoked_at() || (record.has_expires_at() && pu::TimeUtil::TimestampToMicroseconds(
                                                                 record.expires_at()) <= nowMicros))
    return unauthorized();
  auto role = parseRole(record.role());
  if (!role)
    return role.takeError();
  return Grant{record.id(), record.subject(), *role, record.models(), record.aliases()};
}

std::optional<std::string> denial(const Grant &grant, Action action, const std::string &model,
                                  const std::string &alias) {
  std::string who =
      "token #" + std::to_string(grant.tokenId) + " (" + std::string(roleName(grant.role)) + ")";
  if (model.empty() ? grant.models != "*" : !matches(grant.models, model))
    return who + " may not use " + (model.empty() ? "every model" : "model '" + model + "'");
  switch (action) {
  case Action::Read:
    return std::nullopt;
  case Action::Publish:
    if (grant.role == Role::Publisher || grant.role == Role::Admin)
      return std::nullopt;
    return who + " may not register, tag or run gates";
  case Action::MoveAlias:
    if (grant.role == Role::Admin)
      return std::nullopt;
    if (grant.role != Role::Promoter)
      return who + " may not move aliases";
    if (!matches(grant.aliases, alias))
      return who + " may not move alias '" + alias + "' (only " + grant.aliases + ")";
    return std::nullopt;
  case Action::Administer:
    if (grant.role == Role::Admin)
      return std::nullopt;
    return who + " may not force, protect aliases or manage tokens and webhooks";
  }
  return who + " may not do this";
}

} // namespace graceful::server
