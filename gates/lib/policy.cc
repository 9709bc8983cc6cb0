#include "graceful/gates/policy.h"

#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/yaml_proto.h"

#include <charconv>
#include <filesystem>

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
    if (llvm::Error error = checkCommonSettings(path, only->second))
      return error;
    policy.gates.push_back(GateSpec{*name, only->second, only->first.Mark().line + 1});
  }
  return policy;
}

} // namespace graceful::gates
