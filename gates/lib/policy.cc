#include "graceful/gates/policy.h"

#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/yaml_proto.h"

#include <filesystem>

namespace graceful::gates {
namespace {

llvm::Error policyError(const std::string &path, const YAML::Node &node, const std::string &what) {
  return makeError(ErrorKind::BadInput, yamlLocation(node, path) + ": " + what);
}

} // namespace

llvm::Expected<Policy> loadPolicy(const std::string &path) {
  llvm::Expected<std::string> text = readFile(path);
  if (!text)
    return text.takeError();
  auto parsed = parseYaml(*text, path);
  if (!parsed)
    return parsed.takeError();
  YAML::Node root = *parsed;
  if (!root.IsMap())
    return policyError(path, root, "a policy is a mapping with a 'gates' list");
  Policy policy;
  policy.path = path;
  policy.directory = std::filesystem::path(path).parent_path().string();
  policy.digest = sha256Digest(*text);
  for (const auto &entry : root) {
    std::string key = entry.first.as<std::string>();
    if (key != "gates")
      return policyError(path, entry.first, "unknown key '" + key + "' (expected 'gates')");
  }
  YAML::Node gates = root["gates"];
  if (!gates)
    return policyError(path, root, "missing 'gates' list");
  if (!gates.IsSequence())
    return policyError(path, gates, "'gates' must be a list");
  for (const YAML::Node &gate : gates) {
    if (!gate.IsMap() || gate.size() != 1)
      return policyError(path, gate, "each gate is a mapping with one key, the gate's name");
    auto only = gate.begin();
    policy.gates.push_back(
        GateSpec{only->first.as<std::string>(), only->second, only->first.Mark().line + 1});
  }
  return policy;
}

} // namespace graceful::gates
