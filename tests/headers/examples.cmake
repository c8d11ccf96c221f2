# The examples in the comments of the public headers are compiled (not run),
# as the guide's code blocks are. At configure time extract_examples.sh pulls
# every example out of include/weft/**/*.hpp (detail/ excepted) into one
# generated file per header, under <build>/tests/header_examples/; editing a
# header re-runs it (CMAKE_CONFIGURE_DEPENDS). What counts as an example, and
# how it is wrapped, is in extract_examples.sh; the names examples use without
# declaring them are declared in examples_context.hpp. CONTRIBUTING.md,
# "Examples in header comments", says how to write one.
#
#   cmake --build build --target weft_header_examples
#
# Built (at -O0: never run) as part of `all` (so by `make test`), with weft_warnings' flags (so -Werror
# in CI), in the non-sanitizer builds only. Allowed on top: unused names (an
# example often stops at `auto r = co_await ...`), and:
#   GCC    -Wno-subobject-linkage: #line makes GCC take the generated file
#          for a header, where a lambda's type in a coroutine frame warns
#   Clang  -Wno-dangling: spawn.hpp shows the dangling call Clang reports
# Included from tests/CMakeLists.txt.
if(NOT WEFT_SANITIZE STREQUAL "")
  return()
endif()

set(_ex_out ${CMAKE_CURRENT_BINARY_DIR}/header_examples)
file(GLOB_RECURSE _ex_headers CONFIGURE_DEPENDS
  RELATIVE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/include/weft/*.hpp)
list(SORT _ex_headers)
set(_ex_header_paths)
foreach(_h IN LISTS _ex_headers)
  list(APPEND _ex_header_paths ${PROJECT_SOURCE_DIR}/include/${_h})
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${_ex_header_paths} ${CMAKE_CURRENT_LIST_DIR}/extract_examples.sh)

execute_process(
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/extract_examples.sh ${PROJECT_SOURCE_DIR} ${_ex_out} ${_ex_headers}
  RESULT_VARIABLE _ex_rc
  ERROR_VARIABLE _ex_err)
if(NOT _ex_rc EQUAL 0)
  message(FATAL_ERROR "tests/headers/extract_examples.sh failed:\n${_ex_err}")
endif()
file(GLOB _ex_sources ${_ex_out}/*.cpp)

add_library(weft_header_examples OBJECT ${_ex_sources})
target_include_directories(weft_header_examples PRIVATE
  ${PROJECT_SOURCE_DIR}/include ${CMAKE_CURRENT_LIST_DIR})
target_compile_features(weft_header_examples PRIVATE cxx_std_20)
target_link_libraries(weft_header_examples PRIVATE Threads::Threads)
# weft_warnings' flags, spelled here so that the -Wno- ones come after -Wall
# (Clang honours the last of -Wall and -Wno-X; an interface library's flags
# would come after these).
target_compile_options(weft_header_examples PRIVATE -Wall -Wextra -Wpedantic
  $<$<BOOL:${WEFT_WERROR}>:-Werror>
  -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-local-typedefs
  -O0 -g0) # never run: no need to optimise
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(weft_header_examples PRIVATE -Wno-subobject-linkage)
elseif(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(weft_header_examples PRIVATE -Wno-dangling)
endif()
unset(_ex_headers)
unset(_ex_header_paths)
unset(_ex_sources)
