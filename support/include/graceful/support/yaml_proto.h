// Reads YAML configuration (policies, device profiles) into protobuf
// messages by field name, so each schema is declared once, in proto/.
#pragma once

#include <google/protobuf/message.h>
#include <llvm/Support/Error.h>
#include <string>
#include <yaml-cpp/yaml.h>

namespace graceful {

// Fills `message` from a YAML mapping. Unknown keys, values of the wrong
// type and out-of-range numbers are BadInput errors "FILE:LINE: ..." naming
// the key, with the keys that are allowed. `file` only labels messages.
llvm::Error readYamlInto(const YAML::Node &node, google::protobuf::Message &message,
                         const std::string &file);

// Parses YAML text; syntax errors are "FILE:LINE: invalid YAML: ...". A key
// given twice in one mapping, nesting deeper than 64 levels and documents of
// more than 100,000 values are refused naming the line. Messages name the
// file, the line and at most a key, never other text of the file: a policy
// may name any file, and errors end up in CI logs.
llvm::Expected<YAML::Node> parseYaml(const std::string &text, const std::string &file);

// A key as messages show it: quoted and cut to 64 bytes.
std::string quoteYamlKey(const std::string &key);

// "FILE:LINE" of a node, or "FILE" when the node has no position.
std::string yamlLocation(const YAML::Node &node, const std::string &file);

} // namespace graceful
