#include "graceful/registry/refs.h"

#include "graceful/support/error.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace graceful::registry {
namespace {

bool isLowerOrDigit(char c) {
  return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
}
bool isAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

llvm::Error validateWord(std::string_view what, std::string_view word, size_t maxLength,
                         bool (*first)(char), std::string_view punctuation, bool (*body)(char),
                         std::string_view rule) {
  bool ok = !word.empty() && word.size() <= maxLength && first(word.front()) &&
            std::all_of(word.begin(), word.end(), [&](char c) {
              return body(c) || punctuation.find(c) != std::string_view::npos;
            });
  if (ok)
    return llvm::Error::success();
  return makeError(ErrorKind::BadInput, "invalid " + std::string(what) + " '" + std::string(word) +
                                            "': " + std::string(rule));
}

llvm::Expected<int> parseVersionNumber(std::string_view text, std::string_view whole) {
  int version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || version < 1)
    return makeError(ErrorKind::BadInput, "invalid version in '" + std::string(whole) +
                                              "': expected a number from 1 up");
  return version;
}

} // namespace

llvm::Error validateModelName(std::string_view name) {
  return validateWord("model name", name, 128, isAlnum, "._-", isAlnum,
                      "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or "
                      "digit");
}

llvm::Error validateAliasName(std::string_view alias) {
  return validateWord(
      "alias", alias, 64, [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; },
      "._-", isLowerOrDigit,
      "use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter");
}

llvm::Error validateDatasetName(std::string_view name) {
  return validateWord("dataset name", name, 128, isAlnum, "._-", isAlnum,
                      "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or "
                      "digit");
}

llvm::Error validateDatasetFileName(std::string_view name) {
  return validateWord("dataset file name", name, 64, isAlnum, "._-", isAlnum,
                      "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
                      "digit");
}

llvm::Error validateTagKey(std::string_view key) {
  return validateWord("tag key", key, 128, isAlnum, "._/-", isAlnum,
                      "use 1-128 letters, digits, '.', '_', '/' or '-', starting with a letter "
                      "or digit");
}

const std::vector<std::string> &lineageKinds() {
  static const std::vector<std::string> kinds = {
      "fine-tuned-from", "distilled-from", "retrained-from", "rewritten-from", "compatible-with"};
  return kinds;
}

llvm::Error validateLineageKind(std::string_view kind) {
  const auto &kinds = lineageKinds();
  if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end())
    return llvm::Error::success();
  std::string known;
  for (const std::string &k : kinds)
    known += (known.empty() ? "" : ", ") + k;
  return makeError(ErrorKind::BadInput,
                   "unknown lineage kind '" + std::string(kind) + "': expected one of " + known);
}

std::string VersionSelector::text() const {
  if (version)
    return name + "@" + std::to_string(*version);
  if (alias)
    return name + "@" + *alias;
  return name;
}

llvm::Expected<VersionSelector> parseSelector(std::string_view text) {
  VersionSelector selector;
  size_t at = text.find('@');
  selector.name = std::string(text.substr(0, at));
  if (llvm::Error error = validateModelName(selector.name))
    return error;
  if (at == std::string_view::npos)
    return selector;
  std::string_view suffix = text.substr(at + 1);
  if (!suffix.empty() && std::isdigit(static_cast<unsigned char>(suffix.front()))) {
    llvm::Expected<int> version = parseVersionNumber(suffix, text);
    if (!version)
      return version.takeError();
    selector.version = *version;
    return selector;
  }
  if (llvm::Error error = validateAliasName(suffix))
    return error;
  selector.alias = std::string(suffix);
  return selector;
}

llvm::Expected<VersionSelector> parseExactVersion(std::string_view text) {
  llvm::Expected<VersionSelector> selector = parseSelector(text);
  if (!selector)
    return selector.takeError();
  if (!selector->version)
    return makeError(ErrorKind::BadInput, "expected NAME@VERSION with a version number, got '" +
                                              std::string(text) + "'");
  return selector;
}

llvm::Expected<ParentSpec> parseParentSpec(std::string_view text) {
  size_t colon = text.find(':');
  std::string kind = colon == std::string_view::npos ? std::string(kDefaultLineageKind)
                                                     : std::string(text.substr(colon + 1));
  if (llvm::Error error = validateLineageKind(kind))
    return error;
  llvm::Expected<VersionSelector> parent = parseSelector(text.substr(0, colon));
  if (!parent)
    return parent.takeError();
  if (!parent->version && !parent->alias)
    return makeError(ErrorKind::BadInput,
                     "parent '" + std::string(text) + "' must name a version: NAME@V[:KIND]");
  return ParentSpec{std::move(*parent), std::move(kind)};
}

llvm::Expected<std::pair<std::string, std::string>> parseTag(std::string_view text) {
  size_t equals = text.find('=');
  if (equals == std::string_view::npos)
    return makeError(ErrorKind::BadInput, "invalid tag '" + std::string(text) + "': expected K=V");
  std::string key(text.substr(0, equals));
  if (llvm::Error error = validateTagKey(key))
    return error;
  return std::make_pair(key, std::string(text.substr(equals + 1)));
}

} // namespace graceful::registry
