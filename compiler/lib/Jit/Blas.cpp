#include "graceful/compiler/Blas.h"

#include <cstdlib>
#include <string_view>
#include <unistd.h>

extern "C" char *openblas_get_corename(void);

namespace graceful {
namespace {

// The OpenBLAS kernels for the best instruction set this CPU has, or null.
const char *kernelsForThisCpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bf16"))
    return "Cooperlake";
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return "Haswell";
  return nullptr;
}

} // namespace

void selectBlasKernels(char **argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr)
    return;
  // An Intel CPU OpenBLAS cannot name is run as a Prescott (SSE3).
  const char *chosen = openblas_get_corename();
  if (chosen == nullptr || std::string_view(chosen) != "Prescott")
    return;
  const char *wanted = kernelsForThisCpu();
  if (wanted == nullptr)
    return;
  // Set even if the exec fails, so that no child tries again.
  setenv("OPENBLAS_CORETYPE", wanted, 1);
  execv("/proc/self/exe", argv);
}

} // namespace graceful
