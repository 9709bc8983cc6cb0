# Helpers that give every graceful target the same warnings and sanitizer
# flags. Third-party headers are included as SYSTEM so -Werror only judges
# our own code.

set(GRACEFUL_WARNINGS -Wall -Wextra -Werror)
set(GRACEFUL_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)

function(graceful_target_defaults target)
  target_compile_options(${target} PRIVATE ${GRACEFUL_WARNINGS})
  if(GRACEFUL_SANITIZE)
    target_compile_options(${target} PRIVATE ${GRACEFUL_SANITIZER_FLAGS})
    target_link_options(${target} PRIVATE ${GRACEFUL_SANITIZER_FLAGS})
  endif()
endfunction()

# graceful_library(NAME SOURCES... DEPS ...) — a component library whose
# public headers live in include/graceful/<component>/.
function(graceful_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  graceful_target_defaults(${name})
endfunction()

function(graceful_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  graceful_target_defaults(${name})
endfunction()

# graceful_gtest(NAME SOURCES... DEPS ... LABELS ...) — a GoogleTest binary
# registered with ctest test by test.
function(graceful_gtest name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS;FIXTURES" ${ARGN})
  graceful_executable(${name} SOURCES ${ARG_SOURCES} DEPS ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABELS}" FIXTURES_REQUIRED "${ARG_FIXTURES}")
endfunction()
