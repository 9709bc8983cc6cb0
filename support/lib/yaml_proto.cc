#include "graceful/support/yaml_proto.h"

#include "graceful/support/error.h"

#include <charconv>
#include <cmath>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <map>
#include <yaml-cpp/depthguard.h>

namespace graceful {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

llvm::Error yamlError(const YAML::Node &node, const std::string &file, const std::string &what) {
  return makeError(ErrorKind::BadInput, yamlLocation(node, file) + ": " + what);
}

std::string fieldNames(const google::protobuf::Descriptor &descriptor) {
  std::string names;
  for (int i = 0; i < descriptor.field_count(); ++i)
    names += (i ? ", " : "") + descriptor.field(i)->name();
  return names;
}

template <typename Number>
llvm::Expected<Number> parseNumber(const YAML::Node &node, const std::string &file,
                                   const std::string &key) {
  if (!node.IsScalar())
    return yamlError(node, file, "'" + key + "' must be a number");
  const std::string &text = node.Scalar();
  Number value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    return yamlError(node, file, "'" + key + "' must be a number");
  if constexpr (std::is_floating_point_v<Number>)
    if (!std::isfinite(value))
      return yamlError(node, file, "'" + key + "' must be finite");
  return value;
}

llvm::Expected<bool> parseBool(const YAML::Node &node, const std::string &file,
                               const std::string &key) {
  if (node.IsScalar()) {
    const std::string &text = node.Scalar();
    if (text == "true" || text == "yes" || text == "on")
      return true;
    if (text == "false" || text == "no" || text == "off")
      return false;
  }
  return yamlError(node, file, "'" + key + "' must be true or false");
}

// Parses a number of type T and sets or appends it through `add` / `set`.
template <typename T>
llvm::Error setParsed(const YAML::Node &node, Message &message, const FieldDescriptor &field,
                      const std::string &file,
                      void (Reflection::*add)(Message *, const FieldDescriptor *, T) const,
                      void (Reflection::*set)(Message *, const FieldDescriptor *, T) const) {
  auto value = parseNumber<T>(node, file, field.name());
  if (!value)
    return value.takeError();
  const Reflection &reflection = *message.GetReflection();
  (reflection.*(field.is_repeated() ? add : set))(&message, &field, *value);
  return llvm::Error::success();
}

// Sets one value of a singular field, or appends it to a repeated one.
llvm::Error setValue(const YAML::Node &node, Message &message, const FieldDescriptor &field,
                     const std::string &file) {
  const Reflection &reflection = *message.GetReflection();
  const std::string &key = field.name();
  bool repeated = field.is_repeated();
  switch (field.cpp_type()) {
  case FieldDescriptor::CPPTYPE_STRING:
    if (!node.IsScalar())
      return yamlError(node, file, "'" + key + "' must be a string");
    repeated ? reflection.AddString(&message, &field, node.Scalar())
             : reflection.SetString(&message, &field, node.Scalar());
    return llvm::Error::success();
  case FieldDescriptor::CPPTYPE_DOUBLE:
    return setParsed<double>(node, message, field, file, &Reflection::AddDouble,
                             &Reflection::SetDouble);
  case FieldDescriptor::CPPTYPE_INT64:
    return setParsed<int64_t>(node, message, field, file, &Reflection::AddInt64,
                              &Reflection::SetInt64);
  case FieldDescriptor::CPPTYPE_INT32:
    return setParsed<int32_t>(node, message, field, file, &Reflection::AddInt32,
                              &Reflection::SetInt32);
  case FieldDescriptor::CPPTYPE_BOOL: {
    auto value = parseBool(node, file, key);
    if (!value)
      return value.takeError();
    repeated ? reflection.AddBool(&message, &field, *value)
             : reflection.SetBool(&message, &field, *value);
    return llvm::Error::success();
  }
  case FieldDescriptor::CPPTYPE_MESSAGE: {
    Message *child = repeated ? reflection.AddMessage(&message, &field)
                              : reflection.MutableMessage(&message, &field);
    return readYamlInto(node, *child, file);
  }
  default:
    return yamlError(node, file, "'" + key + "' has a type this reader does not support");
  }
}

// Configuration is shallow; a deeper document is an attack or a mistake.
// Both limits also bound the work of the walk below and of readYamlInto,
// which aliases (*name) could otherwise multiply.
constexpr int kMaxYamlDepth = 64;
constexpr size_t kMaxYamlNodes = 100000;

llvm::Error depthError(int line, const std::string &file) {
  return makeError(ErrorKind::BadInput, file + ":" + std::to_string(line + 1) +
                                            ": nested more than " + std::to_string(kMaxYamlDepth) +
                                            " levels deep");
}

// Refuses what yaml-cpp accepts silently: a key given twice in one mapping
// (yaml-cpp keeps both and lookups see the first, iteration the last, PyYAML
// the last), nesting beyond kMaxYamlDepth and more than `budget` nodes.
llvm::Error checkStructure(const YAML::Node &node, const std::string &file, int depth,
                           size_t &budget) {
  if (depth > kMaxYamlDepth)
    return depthError(node.Mark().line, file);
  if (budget == 0)
    return yamlError(node, file,
                     "more than " + std::to_string(kMaxYamlNodes) + " values (aliases?)");
  --budget;
  std::map<std::string, int> keyLines;
  for (const auto &entry : node) {
    // A sequence yields its items as the iterator itself, a map its pairs.
    if (!node.IsMap()) {
      if (llvm::Error error = checkStructure(entry, file, depth + 1, budget))
        return error;
      continue;
    }
    if (entry.first.IsScalar()) {
      auto [previous, inserted] =
          keyLines.emplace(entry.first.Scalar(), entry.first.Mark().line + 1);
      if (!inserted)
        return yamlError(entry.first, file,
                         "duplicate key " + quoteYamlKey(entry.first.Scalar()) +
                             " (first at line " + std::to_string(previous->second) + ")");
    }
    for (const YAML::Node &child : {entry.first, entry.second})
      if (llvm::Error error = checkStructure(child, file, depth + 1, budget))
        return error;
  }
  return llvm::Error::success();
}

} // namespace

std::string quoteYamlKey(const std::string &key) {
  constexpr size_t kShown = 64;
  return "'" + (key.size() <= kShown ? key : key.substr(0, kShown) + "...") + "'";
}

std::string yamlLocation(const YAML::Node &node, const std::string &file) {
  if (node.Mark().line < 0)
    return file;
  return file + ":" + std::to_string(node.Mark().line + 1);
}

llvm::Expected<YAML::Node> parseYaml(const std::string &text, const std::string &file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion &e) {
    // yaml-cpp's own limit (500) says only "bad file".
    return depthError(e.mark.line, file);
  } catch (const YAML::Exception &e) {
    return makeError(ErrorKind::BadInput,
                     file + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  size_t budget = kMaxYamlNodes;
  if (llvm::Error error = checkStructure(root, file, 1, budget))
    return error;
  return root;
}

namespace {

// A proto map from a YAML mapping of plain names to values; a repeated
// key is refused before (checkStructure).
llvm::Error readMap(const YAML::Node &node, Message &message, const FieldDescriptor &field,
                    const std::string &file) {
  if (!node.IsMap())
    return yamlError(node, file, "'" + field.name() + "' must be a mapping of names to values");
  const google::protobuf::Descriptor &entryType = *field.message_type();
  for (const auto &pair : node) {
    if (!pair.first.IsScalar() || !pair.second.IsScalar())
      return yamlError(pair.first, file,
                       "'" + field.name() + "' must map plain names to plain values");
    Message &entry = *message.GetReflection()->AddMessage(&message, &field);
    if (llvm::Error error = setValue(pair.first, entry, *entryType.map_key(), file))
      return error;
    if (llvm::Error error = setValue(pair.second, entry, *entryType.map_value(), file))
      return error;
  }
  return llvm::Error::success();
}

} // namespace

llvm::Error readYamlInto(const YAML::Node &node, Message &message, const std::string &file) {
  const google::protobuf::Descriptor &descriptor = *message.GetDescriptor();
  if (!node.IsMap())
    return yamlError(node, file, "expected a mapping with keys among: " + fieldNames(descriptor));
  for (const auto &entry : node) {
    if (!entry.first.IsScalar())
      return yamlError(entry.first, file, "keys must be plain names");
    std::string key = entry.first.Scalar();
    const FieldDescriptor *field = descriptor.FindFieldByName(key);
    if (!field)
      return yamlError(entry.first, file,
                       "unknown key " + quoteYamlKey(key) +
                           " (expected one of: " + fieldNames(descriptor) + ")");
    const YAML::Node &value = entry.second;
    if (field->is_map()) {
      if (llvm::Error error = readMap(value, message, *field, file))
        return error;
      continue;
    }
    if (!field->is_repeated()) {
      if (llvm::Error error = setValue(value, message, *field, file))
        return error;
      continue;
    }
    if (!value.IsSequence())
      return yamlError(value, file, "'" + key + "' must be a list");
    for (const YAML::Node &item : value)
      if (llvm::Error error = setValue(item, message, *field, file))
        return error;
  }
  return llvm::Error::success();
}

} // namespace graceful
