#include "scratch_file.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace graceful::fuzz {

std::string writeScratchFile(const std::string &suffix, const uint8_t *data, size_t size) {
  const char *directory = std::getenv("TMPDIR");
  std::string path = std::string(directory != nullptr ? directory : "/tmp") + "/graceful-fuzz-" +
                     std::to_string(getpid()) + suffix;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out)
    invariantFailed("cannot write the scratch file " + path);
  return path;
}

void invariantFailed(const std::string &what) {
  std::fprintf(stderr, "fuzz invariant failed: %s\n", what.c_str());
  std::abort();
}

} // namespace graceful::fuzz
