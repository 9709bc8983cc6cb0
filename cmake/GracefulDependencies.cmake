# Every dependency comes from Debian 12 packages (scripts/packages.txt).
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Protobuf REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(GTest REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options filesystem)
find_package(yaml-cpp REQUIRED)
find_package(ONNX REQUIRED)
find_package(LLVM REQUIRED CONFIG PATHS /usr/lib/llvm-19/lib/cmake/llvm NO_DEFAULT_PATH)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
# libpq itself, for PQping: why a connection failed, without reading its message.
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
include(GoogleTest)

# LLVM's Support library gives us llvm::Expected / llvm::Error everywhere.
add_library(graceful_llvm_support INTERFACE)
target_include_directories(graceful_llvm_support SYSTEM INTERFACE ${LLVM_INCLUDE_DIRS})
target_compile_definitions(graceful_llvm_support INTERFACE ${LLVM_DEFINITIONS})
target_link_libraries(graceful_llvm_support INTERFACE LLVM)

# OpenBLAS built on OpenMP, so that BLAS calls and the runtime's own
# OpenMP loops share one pool of threads. With the pthreads build the two
# pools each spin on the two cores while the other works (MobileNetV2
# batch 8: 214 ms against 96 ms). Linked by path, with its directory in the
# run path, whichever build the system's alternatives select.
find_library(GRACEFUL_OPENBLAS NAMES libopenblas.so.0
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH REQUIRED)
