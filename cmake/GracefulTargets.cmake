# Helpers that give every graceful target the same warnings and sanitizer
# flags. Third-party headers are included as SYSTEM so -Werror only judges
# our own code.

set(GRACEFUL_WARNINGS -Wall -Wextra -Werror)
set(GRACEFUL_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)

# The fuzz build (clang only) instruments every library for libFuzzer's
# coverage and checks it with ASan and UBSan; fuzz/ links the targets.
set(GRACEFUL_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)

function(graceful_target_defaults target)
  target_compile_options(${target} PRIVATE ${GRACEFUL_WARNINGS})
  if(GRACEFUL_FUZZ)
    # clang 19 flags std::get_temporary_buffer inside GCC 12's own
    # <algorithm> (std::stable_sort) as deprecated.
    target_compile_options(${target} PRIVATE ${GRACEFUL_FUZZ_FLAGS} -Wno-deprecated-declarations)
    target_link_options(${target} PRIVATE ${GRACEFUL_FUZZ_FLAGS})
  elseif(GRACEFUL_SANITIZE)
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

# Gate plugins (plugins/, and test plugins) compile against graceful's
# headers without linking its libraries: the host exports them.
set(GRACEFUL_PLUGIN_DIR ${CMAKE_BINARY_DIR}/gate-plugins)

# graceful_gate_plugin(NAME SOURCES... [PROTOS...] [OUTPUT_DIR DIR]): a
# loadable module in DIR, by default ${GRACEFUL_PLUGIN_DIR}, the directory
# `--plugins` takes.
function(graceful_gate_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;PROTOS" ${ARGN})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${GRACEFUL_PLUGIN_DIR})
  endif()
  set(generated_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}_generated)
  file(MAKE_DIRECTORY ${generated_dir})
  set(generated)
  foreach(proto ${ARG_PROTOS})
    get_filename_component(stem ${proto} NAME_WE)
    get_filename_component(proto_dir ${proto} DIRECTORY)
    add_custom_command(
      OUTPUT ${generated_dir}/${stem}.pb.cc ${generated_dir}/${stem}.pb.h
      COMMAND protobuf::protoc --cpp_out=${generated_dir} -I ${proto_dir} ${proto}
      DEPENDS ${proto}
      COMMENT "protoc ${stem}.proto (plugin ${name})")
    list(APPEND generated ${generated_dir}/${stem}.pb.cc)
  endforeach()
  add_library(${name} MODULE ${ARG_SOURCES} ${generated})
  set_target_properties(${name} PROPERTIES PREFIX "" LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  foreach(component graceful_gates graceful_registry graceful_support graceful_proto
                    graceful_llvm_support)
    target_include_directories(${name} SYSTEM PRIVATE
      $<TARGET_PROPERTY:${component},INTERFACE_INCLUDE_DIRECTORIES>)
  endforeach()
  target_include_directories(${name} SYSTEM PRIVATE ${generated_dir})
  target_compile_definitions(${name} PRIVATE ${LLVM_DEFINITIONS})
  add_dependencies(${name} graceful_proto)
  graceful_target_defaults(${name})
endfunction()
