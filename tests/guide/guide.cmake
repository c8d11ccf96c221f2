# The guide's code blocks are tests (docs/guide/README.md, "How the guide
# is tested"). At configure time extract.sh pulls every block out of
# docs/guide/*.md; changing a page re-runs it (CMAKE_CONFIGURE_DEPENDS).
#
#   ```cpp           built into one program, weft_guide, and run as the test
#                    guide.<chapter>.<n>; with a `text output` block, its
#                    standard output must match that block exactly
#   ```cpp dangling  guide.<chapter>.<n>.dangling: Clang >= 17 must reject it
#                    with -Wdangling (as tests/lifetime/ does)
#   ```cpp wrong     guide.<chapter>.<n>.compiles: compiled with -fsyntax-only
#                    (it must stay valid C++), never run
#   ... asan=KIND    (dangling or wrong blocks) in a GCC ASan build
#                    (WEFT_SANITIZE=address), guide.<chapter>.<n>.asan runs
#                    the block and passes only if ASan reports KIND, so the
#                    report the guide shows stays true
#
# One executable for every runnable block keeps the build short.
set(_guide_dir ${PROJECT_SOURCE_DIR}/docs/guide)
set(_guide_out ${CMAKE_CURRENT_BINARY_DIR}/guide)
file(GLOB WEFT_GUIDE_PAGES CONFIGURE_DEPENDS ${_guide_dir}/*.md)
list(SORT WEFT_GUIDE_PAGES)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${WEFT_GUIDE_PAGES} ${CMAKE_CURRENT_LIST_DIR}/extract.sh)

execute_process(
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/extract.sh ${_guide_out} ${WEFT_GUIDE_PAGES}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  RESULT_VARIABLE _guide_rc
  ERROR_VARIABLE _guide_err)
if(NOT _guide_rc EQUAL 0)
  message(FATAL_ERROR "tests/guide/extract.sh failed:\n${_guide_err}")
endif()

add_executable(weft_guide ${_guide_out}/guide_snippets.cpp)
target_link_libraries(weft_guide PRIVATE weft::weft weft_warnings)

# The blocks marked asan=KIND are wrong on purpose; only an ASan build runs
# them. GCC only: the guide shows GCC's reports, and Clang would reject the
# dangling ones at compile time (and may elide the frames they misuse).
set(_guide_asan OFF)
if(WEFT_SANITIZE STREQUAL "address" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(_guide_asan ON)
  add_executable(weft_guide_asan ${_guide_out}/guide_asan.cpp)
  target_link_libraries(weft_guide_asan PRIVATE weft::weft weft_warnings)
endif()

# The syntax check of ```cpp wrong blocks uses the build compiler and the
# warnings of weft_warnings, as errors: wrong code, but clean C++.
set(_guide_syntax_flags -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror
  -I${PROJECT_SOURCE_DIR}/include)
# ```cpp dangling needs Clang >= 17: WEFT_LIFETIME_CXX from lifetime.cmake.
set(_guide_dangling_flags -std=c++20 -fsyntax-only -Werror=dangling -I${PROJECT_SOURCE_DIR}/include)

file(STRINGS ${_guide_out}/snippets.list _guide_snippets)
foreach(_line IN LISTS _guide_snippets)
  string(REPLACE " " ";" _parts "${_line}")
  list(GET _parts 0 _name)
  list(GET _parts 1 _kind)
  list(LENGTH _parts _nparts)
  if(_guide_asan AND _nparts GREATER 2)
    list(GET _parts 2 _asan_kind)
    add_test(NAME guide.${_name}.asan COMMAND weft_guide_asan ${_name})
    # detect_stack_use_after_return: a borrowed temporary is found at once,
    # whatever reused its stack slot. No abort, so that CTest reads the report.
    set_tests_properties(guide.${_name}.asan PROPERTIES
      PASS_REGULAR_EXPRESSION "ERROR: AddressSanitizer: ${_asan_kind} "
      ENVIRONMENT "ASAN_OPTIONS=detect_stack_use_after_return=1:abort_on_error=0:detect_leaks=0"
      TIMEOUT 60 LABELS "guide;asan")
  endif()
  set(_block ${_guide_out}/blocks/${_name}.cpp)
  set(_expected ${_guide_out}/expected/${_name}.txt)
  if(_kind STREQUAL "run")
    if(EXISTS ${_expected})
      add_test(NAME guide.${_name}
        COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:weft_guide> -DSNIPPET=${_name}
          -DEXPECTED=${_expected} -P ${CMAKE_CURRENT_LIST_DIR}/run_snippet.cmake)
    else()
      add_test(NAME guide.${_name} COMMAND weft_guide ${_name})
    endif()
    set_tests_properties(guide.${_name} PROPERTIES TIMEOUT 60 LABELS guide)
  elseif(_kind STREQUAL "wrong")
    add_test(NAME guide.${_name}.compiles
      COMMAND ${CMAKE_CXX_COMPILER} ${_guide_syntax_flags} ${_block})
    set_tests_properties(guide.${_name}.compiles PROPERTIES TIMEOUT 120 LABELS guide)
  elseif(_kind STREQUAL "dangling")
    if(WEFT_LIFETIME_CXX)
      add_test(NAME guide.${_name}.dangling
        COMMAND ${WEFT_LIFETIME_CXX} ${_guide_dangling_flags} ${_block})
      # Passes only if Clang names the dangling borrow (and so fails the build).
      set_tests_properties(guide.${_name}.dangling PROPERTIES
        PASS_REGULAR_EXPRESSION "\\[-Werror,-Wdangling\\]" TIMEOUT 120 LABELS "guide;lifetime")
    else()
      add_test(NAME guide.${_name}.dangling
        COMMAND ${CMAKE_COMMAND} -E echo "no Clang >= 17 found: skipped")
      set_tests_properties(guide.${_name}.dangling PROPERTIES
        SKIP_REGULAR_EXPRESSION "skipped" LABELS "guide;lifetime")
    endif()
  endif()
endforeach()
