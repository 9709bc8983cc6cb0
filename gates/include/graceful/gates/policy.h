// Policy files: which gates a promotion must pass. YAML; unknown keys and
// unknown gates are errors naming the file and line.
#pragma once

#include <llvm/Support/Error.h>
#include <map>
#include <string>
#include <string_view>
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
  // The files of registered datasets the gates read, by the path they were
  // resolved to (the caller holding the store rewrites each
  // dataset:NAME/FILE value to its file in the artifact store): a read that
  // finds bytes other than the dataset's digest is refused, and a bound
  // policy names the file by its reference, not by where the store is.
  struct DatasetFileRef {
    std::string reference; // dataset:NAME/FILE
    std::string digest;    // sha256:... as the dataset records it
  };
  std::map<std::string, DatasetFileRef> datasetFiles;
};

// The prefix of a policy value that names a registered dataset's file.
inline constexpr std::string_view kDatasetPrefix = "dataset:";

llvm::Expected<Policy> loadPolicy(const std::string &path);
// A policy from its text, as if read from `path` (a policy stored with a
// protected alias: its data files are still relative to where it was).
llvm::Expected<Policy> parsePolicy(const std::string &text, const std::string &path);

} // namespace graceful::gates
