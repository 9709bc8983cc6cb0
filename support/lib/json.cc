#include "graceful/support/json.h"

#include <charconv>
#include <cmath>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>
#include <llvm/Support/ConvertUTF.h>
#include <map>

namespace graceful {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Our own printer instead of protobuf's JsonFormat: that one writes int64 as
// strings (a wire convention) and doubles with 17 digits in some versions,
// so the same value printed differently from command to command.
class Printer {
public:
  std::string out;

  void message(const Message &message) {
    const std::string &type = message.GetDescriptor()->full_name();
    if (type == "google.protobuf.Timestamp")
      return timestamp(message);
    if (type == "google.protobuf.Struct")
      return structFields(message);
    if (type == "google.protobuf.Value")
      return value(message);
    if (type == "google.protobuf.ListValue")
      return listValue(message);
    object(message);
  }

private:
  void object(const Message &message) {
    const Reflection *reflection = message.GetReflection();
    const auto *descriptor = message.GetDescriptor();
    out += '{';
    bool first = true;
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const FieldDescriptor *field = descriptor->field(i);
      bool present = field->is_repeated() ||
                     field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
                     reflection->HasField(message, field);
      if (!present)
        continue;
      if (!first)
        out += ',';
      first = false;
      out += jsonString(field->name());
      out += ':';
      if (field->is_map())
        map(message, field);
      else if (field->is_repeated())
        repeated(message, field);
      else
        single(message, field, -1);
    }
    out += '}';
  }

  // A map's entries sorted by key text, so output never depends on hashing.
  void map(const Message &message, const FieldDescriptor *field) {
    const Reflection *reflection = message.GetReflection();
    std::map<std::string, const Message *> entries;
    for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
      const Message &entry = reflection->GetRepeatedMessage(message, field, i);
      const FieldDescriptor *key = entry.GetDescriptor()->map_key();
      entries[scalarText(entry, key)] = &entry;
    }
    out += '{';
    bool first = true;
    for (const auto &[key, entry] : entries) {
      if (!first)
        out += ',';
      first = false;
      out += jsonString(key);
      out += ':';
      single(*entry, entry->GetDescriptor()->map_value(), -1);
    }
    out += '}';
  }

  void repeated(const Message &message, const FieldDescriptor *field) {
    out += '[';
    int size = message.GetReflection()->FieldSize(message, field);
    for (int i = 0; i < size; ++i) {
      if (i)
        out += ',';
      single(message, field, i);
    }
    out += ']';
  }

  // The key of a map entry as text.
  static std::string scalarText(const Message &entry, const FieldDescriptor *key) {
    const Reflection *r = entry.GetReflection();
    switch (key->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(entry, key);
    case FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(r->GetInt32(entry, key));
    case FieldDescriptor::CPPTYPE_INT64:
      return std::to_string(r->GetInt64(entry, key));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(r->GetUInt32(entry, key));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(r->GetUInt64(entry, key));
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(entry, key) ? "true" : "false";
    default:
      return "";
    }
  }

  // Field `field` of `message`; element `index` when it is repeated.
  void single(const Message &message, const FieldDescriptor *field, int index) {
    const Reflection *r = message.GetReflection();
    bool many = index >= 0;
    switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      out += std::to_string(many ? r->GetRepeatedInt32(message, field, index)
                                 : r->GetInt32(message, field));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      out += std::to_string(many ? r->GetRepeatedInt64(message, field, index)
                                 : r->GetInt64(message, field));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      out += std::to_string(many ? r->GetRepeatedUInt32(message, field, index)
                                 : r->GetUInt32(message, field));
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      out += std::to_string(many ? r->GetRepeatedUInt64(message, field, index)
                                 : r->GetUInt64(message, field));
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      out += jsonNumber(many ? r->GetRepeatedDouble(message, field, index)
                             : r->GetDouble(message, field));
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      out += floatNumber(many ? r->GetRepeatedFloat(message, field, index)
                              : r->GetFloat(message, field));
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      out += (many ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field))
                 ? "true"
                 : "false";
      return;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto *value =
          many ? r->GetRepeatedEnum(message, field, index) : r->GetEnum(message, field);
      out += jsonString(value->name());
      return;
    }
    case FieldDescriptor::CPPTYPE_STRING:
      out += jsonString(many ? r->GetRepeatedString(message, field, index)
                             : r->GetString(message, field));
      return;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      this->message(many ? r->GetRepeatedMessage(message, field, index)
                         : r->GetMessage(message, field));
      return;
    }
  }

  static std::string floatNumber(float value) {
    if (!std::isfinite(value))
      return jsonNumber(value);
    char buffer[32];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
  }

  void timestamp(const Message &message) {
    google::protobuf::Timestamp time;
    time.CopyFrom(message);
    out += jsonString(google::protobuf::util::TimeUtil::ToString(time));
  }

  void structFields(const Message &message) {
    google::protobuf::Struct fields;
    fields.CopyFrom(message);
    std::map<std::string, const google::protobuf::Value *> sorted;
    for (const auto &[key, value] : fields.fields())
      sorted[key] = &value;
    out += '{';
    bool first = true;
    for (const auto &[key, value] : sorted) {
      if (!first)
        out += ',';
      first = false;
      out += jsonString(key);
      out += ':';
      this->value(*value);
    }
    out += '}';
  }

  void value(const Message &message) {
    google::protobuf::Value value;
    value.CopyFrom(message);
    switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      out += jsonNumber(value.number_value());
      return;
    case google::protobuf::Value::kStringValue:
      out += jsonString(value.string_value());
      return;
    case google::protobuf::Value::kBoolValue:
      out += value.bool_value() ? "true" : "false";
      return;
    case google::protobuf::Value::kStructValue:
      structFields(value.struct_value());
      return;
    case google::protobuf::Value::kListValue:
      listValue(value.list_value());
      return;
    default:
      out += "null";
    }
  }

  void listValue(const Message &message) {
    google::protobuf::ListValue list;
    list.CopyFrom(message);
    out += '[';
    for (int i = 0; i < list.values_size(); ++i) {
      if (i)
        out += ',';
      value(list.values(i));
    }
    out += ']';
  }
};

} // namespace

std::string jsonNumber(double value) {
  if (std::isnan(value))
    return "\"NaN\"";
  if (std::isinf(value))
    return value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string jsonString(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  const auto *bytes = reinterpret_cast<const llvm::UTF8 *>(text.data());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      // Valid UTF-8 passes through; a stray byte (a description read from a
      // damaged file) becomes the code point of its value, so the document
      // stays JSON that every parser reads.
      auto length = static_cast<size_t>(llvm::getNumBytesForUTF8(byte));
      if (i + length <= text.size() && llvm::isLegalUTF8Sequence(bytes + i, bytes + i + length)) {
        out.append(text.substr(i, length));
        i += length - 1;
      } else {
        out += "\\u00";
        out += kHex[byte >> 4];
        out += kHex[byte & 0xf];
      }
      continue;
    }
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (byte < 0x20 || byte == 0x7f) {
        out += "\\u00";
        out += kHex[byte >> 4];
        out += kHex[byte & 0xf];
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

std::string toJson(const google::protobuf::Message &message) {
  Printer printer;
  printer.message(message);
  return printer.out;
}

} // namespace graceful
