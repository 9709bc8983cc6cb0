// Who and when, for audit records.
#pragma once

#include <cstdint>
#include <string>

namespace graceful {

// GRACEFUL_ACTOR if set, else the login name of the process owner.
std::string currentActor();

// Microseconds since the Unix epoch.
std::int64_t nowMicros();

} // namespace graceful
