#include "graceful/support/identity.h"

#include <chrono>
#include <cstdlib>
#include <pwd.h>
#include <unistd.h>

namespace graceful {

std::string currentActor() {
  if (const char *actor = std::getenv("GRACEFUL_ACTOR"); actor != nullptr && *actor != '\0')
    return actor;
  if (const passwd *entry = ::getpwuid(::geteuid()); entry != nullptr)
    return entry->pw_name;
  return "uid:" + std::to_string(::geteuid());
}

std::int64_t nowMicros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace graceful
