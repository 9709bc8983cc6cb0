// Policy files: which gates a promotion must pass. YAML; unknown keys and
// unknown gates are errors naming the file and line.
#pragma once

#include <llvm/Support/Error.h>
#include <string>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace graceful::gates {

struct GateSpec {
  std::string name;  // the gate's type: nfr, compatibility, edge, a plugin's
  YAML::Node config; // the gate's own settings, checked by the gate
  int line = 0;      // 1-based line in the policy file, for messages
  std::string label; // `name:` in its settings; empty: unnamed
  // What reports call it: its label, else its type.
  const std::string &displayName() const { return label.empty() ? name : label; }
};

struct Policy {
  std::string path;
  std::string directory; // policy paths are relative to it
  std::string digest;    // sha256 of the file's bytes
  std::string text;      // the file's bytes
  std::vector<GateSpec> gates;
};

llvm::Expected<Policy> loadPolicy(const std::string &path);
// A policy from its text, as if read from `path` (a policy stored with a
// protected alias: its data files are still relative to where it was).
llvm::Expected<Policy> parsePolicy(const std::string &text, const std::string &path);

} // namespace graceful::gates
