// OpenBLAS picks its kernels for the CPU when it loads. A release older
// than the CPU does not know it and falls back to its slowest kernels:
// Debian 12's OpenBLAS 0.3.21 runs a Sapphire Rapids Xeon as a "Prescott",
// and ResNet-18 then takes about four times as long. The kernels can only
// be chosen before OpenBLAS loads (OPENBLAS_CORETYPE), so a program that
// runs models calls this first thing in main.
#pragma once

namespace graceful {

// When OpenBLAS fell back to its generic kernels on a CPU with AVX-512 or
// AVX2 (and OPENBLAS_CORETYPE is unset), runs the program again with the
// kernels for that instruction set named; otherwise, or if that fails,
// returns and the program goes on as it is.
void selectBlasKernels(char **argv);

} // namespace graceful
