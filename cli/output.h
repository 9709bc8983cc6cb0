// Printing records for people (text) or machines (protobuf JSON).
#pragma once

#include <functional>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <string>

namespace graceful::cli {

// "2026-11-25 11:50:28Z"
std::string formatTime(const google::protobuf::Timestamp &time);

// The JSON form of `message` when `json`, otherwise whatever `text` prints.
void emit(bool json, const google::protobuf::Message &message, const std::function<void()> &text);

} // namespace graceful::cli
