#include "graceful/support/json.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver_util.h>
#include <memory>

namespace graceful {

namespace {

// Map fields (metrics, details, evidence are google.protobuf.Struct) come out
// in hash order, which protobuf seeds per process. Deterministic
// serialization sorts map keys, so the same record always prints the same.
std::string sortedBinary(const google::protobuf::Message &message) {
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return binary;
}

} // namespace

std::string toJson(const google::protobuf::Message &message) {
  constexpr const char *kUrlPrefix = "type.googleapis.com";
  const google::protobuf::Descriptor *descriptor = message.GetDescriptor();
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver(
      google::protobuf::util::NewTypeResolverForDescriptorPool(kUrlPrefix,
                                                               descriptor->file()->pool()));
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a well-formed message cannot fail; the status is for parsing.
  (void)google::protobuf::util::BinaryToJsonString(
      resolver.get(), std::string(kUrlPrefix) + "/" + descriptor->full_name(),
      sortedBinary(message), &json, options);
  return json;
}

} // namespace graceful
