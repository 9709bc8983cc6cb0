// What the report renderers share.
#pragma once

#include "graceful/registry.pb.h"

#include <string>
#include <utility>
#include <vector>

namespace graceful::gates {

// & < > " ' as entities, for HTML and XML text and attributes.
std::string escapeMarkup(const std::string &text);

} // namespace graceful::gates
