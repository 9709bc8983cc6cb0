// Names and references as users type them: models, versions, aliases,
// lineage kinds.
#pragma once

#include <llvm/Support/Error.h>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace graceful::registry {

// Model names: 1-128 of [A-Za-z0-9._-], starting with a letter or digit.
llvm::Error validateModelName(std::string_view name);
// Aliases: 1-64 of [a-z0-9._-], starting with a letter (so never a number).
llvm::Error validateAliasName(std::string_view alias);
// Dataset names: the rules of model names.
llvm::Error validateDatasetName(std::string_view name);
// A file's name within a dataset: 1-64 of [A-Za-z0-9._-], starting with a
// letter or digit.
llvm::Error validateDatasetFileName(std::string_view name);
// Tag keys: 1-128 of [A-Za-z0-9._/-], starting with a letter or digit.
llvm::Error validateTagKey(std::string_view key);

// fine-tuned-from, distilled-from, retrained-from, rewritten-from, compatible-with.
const std::vector<std::string> &lineageKinds();
llvm::Error validateLineageKind(std::string_view kind);

inline constexpr std::string_view kDefaultLineageKind = "retrained-from";

// NAME (the latest version), NAME@V or NAME@ALIAS.
struct VersionSelector {
  std::string name;
  std::optional<int> version;
  std::optional<std::string> alias;

  std::string text() const;
};

llvm::Expected<VersionSelector> parseSelector(std::string_view text);
// NAME@V only: for commands that act on one exact version (promote).
llvm::Expected<VersionSelector> parseExactVersion(std::string_view text);

// NAME@V[:KIND] or NAME@ALIAS[:KIND], as given to `register --parent`.
struct ParentSpec {
  VersionSelector parent;
  std::string kind;
};
llvm::Expected<ParentSpec> parseParentSpec(std::string_view text);

// K=V, as given to --tag.
llvm::Expected<std::pair<std::string, std::string>> parseTag(std::string_view text);

} // namespace graceful::registry
