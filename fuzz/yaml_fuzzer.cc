// The YAML -> proto readers: a policy and a device profile. Any text is
// either read or refused with an error; neither crashes nor hangs.
#include "graceful/compiler/Profile.h"
#include "graceful/gates/policy.h"
#include "scratch_file.h"

#include <llvm/Support/Error.h>

using namespace graceful;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = fuzz::writeScratchFile(".yaml", data, size);
  if (auto policy = gates::loadPolicy(path); !policy)
    llvm::consumeError(policy.takeError());
  if (auto profile = compiler::loadDeviceProfile(path); !profile)
    llvm::consumeError(profile.takeError());
  return 0;
}
