// Protobuf JSON, the machine-readable form of every record we print.
#pragma once

#include <google/protobuf/message.h>
#include <string>

namespace graceful {

// One JSON document, proto field names kept (snake_case), zero values shown.
std::string toJson(const google::protobuf::Message &message);

} // namespace graceful
