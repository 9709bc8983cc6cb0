#include "graceful/gates/policy.h"

#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/yaml_proto.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <map>

namespace graceful::gates {
namespace {

llvm::Error policyError(const std::string &path, const YAML::Node &node, const std::string &what) {
  return makeError(ErrorKind::BadInput, yamlLocation(node, path) + ": " + what);
}

// The gate's name: the one key of its mapping, a plain word.
llvm::Expected<std::string> gateName(const std::string &path, const YAML::Node &gate) {
  if (!gate.IsMap() || gate.size() != 1 || !gate.begin()->first.IsScalar())
    return policyError(path, gate, "each gate is a mapping with one key, the gate's name");
  return gate.begin()->first.Scalar();
}

// Settings every gate reads the same way, checked here once for built-in
// and plugin gates alike. `batch` is how many samples one model run takes;
// proto3 cannot tell an explicit 0 from an absent key, so the YAML is read.
llvm::Error checkCommonSettings(const std::string &path, const YAML::Node &settings) {
  if (!settings.IsMap())
    return llvm::Error::success();
  for (const auto &entry : settings) {
    if (!entry.first.IsScalar() || entry.first.Scalar() != "batch")
      continue;
    const YAML::Node &value = entry.second;
    int64_t batch = 0;
    const std::string text = value.IsScalar() ? value.Scalar() : "";
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), batch);
    if (ec != std::errc() || end != text.data() + text.size() || batch < 1)
      return policyError(path, value, "'batch' must be a whole number of samples, at least 1");
  }
  return llvm::Error::success();
}

// Takes `name:` out of a gate's settings (the gates never see it), checked
// as a plain word so every report form can carry it unquoted.
llvm::Expected<std::string> takeLabel(const std::string &path, YAML::Node &settings) {
  if (!settings.IsMap() || !settings["name"])
    return std::string();
  YAML::Node value = settings["name"];
  std::string label = value.IsScalar() ? value.Scalar() : "";
  bool plain =
      !label.empty() && label.size() <= 64 && std::all_of(label.begin(), label.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (!plain)
    return policyError(path, value, "a gate's 'name' is 1-64 of letters, digits, '-', '_' and '.'");
  settings = YAML::Clone(settings);
  settings.remove("name");
  return label;
}

// Every gate must be told apart in reports: two of one type need names.
llvm::Error requireDistinctNames(const Policy &policy) {
  std::map<std::string, int> lines;
  for (const GateSpec &spec : policy.gates) {
    auto [it, fresh] = lines.emplace(spec.displayName(), spec.line);
    if (!fresh)
      return makeError(ErrorKind::BadInput,
                       policy.path + ":" + std::to_string(spec.line) + ": a second gate named '" +
                           spec.displayName() + "' (the first is on line " +
                           std::to_string(it->second) +
                           "): give each its own `name:` so reports tell them apart");
  }
  return llvm::Error::success();
}

} // namespace

llvm::Expected<Policy> loadPolicy(const std::string &path) {
  llvm::Expected<std::string> text = readFile(path);
  if (!text)
    return text.takeError();
  return parsePolicy(*text, path);
}

llvm::Expected<Policy> parsePolicy(const std::string &text, const std::string &path) {
  auto parsed = parseYaml(text, path);
  if (!parsed)
    return parsed.takeError();
  YAML::Node root = *parsed;
  if (!root.IsMap())
    return policyError(path, root, "a policy is a mapping with a 'gates' list");
  Policy policy;
  policy.path = path;
  policy.directory = std::filesystem::path(path).parent_path().string();
  policy.digest = sha256Digest(text);
  policy.text = text;
  for (const auto &entry : root)
    if (!entry.first.IsScalar() || entry.first.Scalar() != "gates")
      return policyError(
          path, entry.first,
          "unknown key " +
              (entry.first.IsScalar() ? quoteYamlKey(entry.first.Scalar()) + " " : "") +
              "(expected 'gates')");
  YAML::Node gates = root["gates"];
  if (!gates)
    return policyError(path, root, "missing 'gates' list");
  if (!gates.IsSequence())
    return policyError(path, gates, "'gates' must be a list");
  for (const YAML::Node &gate : gates) {
    auto name = gateName(path, gate);
    if (!name)
      return name.takeError();
    auto only = gate.begin();
    YAML::Node settings = only->second;
    if (llvm::Error error = checkCommonSettings(path, settings))
      return error;
    auto label = takeLabel(path, settings);
    if (!label)
      return label.takeError();
    policy.gates.push_back(GateSpec{*name, settings, only->first.Mark().line + 1, *label});
  }
  if (llvm::Error error = requireDistinctNames(policy))
    return error;
  return policy;
}

} // namespace graceful::gates
