#include "output.h"

#include "graceful/support/json.h"

#include <algorithm>
#include <google/protobuf/util/time_util.h>
#include <iostream>

namespace graceful::cli {

std::string formatTime(const google::protobuf::Timestamp &time) {
  std::string text = google::protobuf::util::TimeUtil::ToString(time);
  // RFC 3339 with fractions; people need seconds.
  size_t dot = text.find('.');
  if (dot != std::string::npos)
    text = text.substr(0, dot) + "Z";
  std::replace(text.begin(), text.end(), 'T', ' ');
  return text;
}

void emit(bool json, const google::protobuf::Message &message, const std::function<void()> &text) {
  if (json)
    std::cout << toJson(message) << "\n";
  else
    text();
}

} // namespace graceful::cli
