#include "graceful/support/json.h"

#include <google/protobuf/util/json_util.h>

namespace graceful {

std::string toJson(const google::protobuf::Message &message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a well-formed message cannot fail; the status is for parsing.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

} // namespace graceful
