# Every dependency comes from Debian 12 packages (scripts/packages.txt).
find_package(Threads REQUIRED)
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
include(GoogleTest)

# LLVM's Support library gives us llvm::Expected / llvm::Error everywhere.
add_library(graceful_llvm_support INTERFACE)
target_include_directories(graceful_llvm_support SYSTEM INTERFACE ${LLVM_INCLUDE_DIRS})
target_compile_definitions(graceful_llvm_support INTERFACE ${LLVM_DEFINITIONS})
target_link_libraries(graceful_llvm_support INTERFACE LLVM)
