// The JSON form of every record we print, written for scripts: proto field
// names (snake_case), zero values shown, integers as JSON numbers (every
// count and id fits in 2^53), doubles in their shortest round-trip form, map
// keys sorted, timestamps in RFC 3339.
#pragma once

#include <google/protobuf/message.h>
#include <string>
#include <string_view>

namespace graceful {

// One JSON document on one line. Unset message fields are left out;
// repeated and map fields always appear (empty: [] and {}).
std::string toJson(const google::protobuf::Message &message);

// `value` the way toJson prints a double: the shortest text that reads back
// as the same double ("NaN", "Infinity" and "-Infinity" as strings, as
// protobuf's JSON mapping has them).
std::string jsonNumber(double value);

// `text` as a JSON string literal, quotes included.
std::string jsonString(std::string_view text);

} // namespace graceful
