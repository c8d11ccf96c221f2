# Proves that Clang's coroutine lifetime analysis catches dangling borrows
# in spawned tasks (tests/lifetime/dangling.cpp). Needs Clang >= 17: the
# build compiler when it is one, else clang++-19/18/17 from PATH. Without
# one, a single test reports itself skipped.
set(WEFT_LIFETIME_CXX "")
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 17)
  set(WEFT_LIFETIME_CXX ${CMAKE_CXX_COMPILER})
else()
  find_program(WEFT_CLANG_FOR_LIFETIME NAMES clang++-19 clang++-18 clang++-17)
  if(WEFT_CLANG_FOR_LIFETIME)
    set(WEFT_LIFETIME_CXX ${WEFT_CLANG_FOR_LIFETIME})
  endif()
endif()

set(_src ${CMAKE_CURRENT_LIST_DIR}/dangling.cpp)
set(_flags -std=c++20 -fsyntax-only -Werror=dangling -I${PROJECT_SOURCE_DIR}/include)
if(WEFT_LIFETIME_CXX)
  foreach(case SPAWN_TEMPORARY_ARGUMENT STORED_TASK_TEMPORARY_ARGUMENT DEAD_LAMBDA_CAPTURES)
    string(TOLOWER ${case} _name)
    add_test(NAME lifetime.${_name}
             COMMAND ${WEFT_LIFETIME_CXX} ${_flags} -DWEFT_CASE_${case} ${_src})
    # Passes only if the compiler names the bug (and so fails the build).
    set_tests_properties(lifetime.${_name} PROPERTIES
      PASS_REGULAR_EXPRESSION "will be destroyed at the end of the full-expression \\[-Werror,-Wdangling\\]"
      LABELS lifetime)
  endforeach()
  add_test(NAME lifetime.control_compiles_cleanly
           COMMAND ${WEFT_LIFETIME_CXX} ${_flags} -Wall -Wextra -Werror -DWEFT_CASE_NONE ${_src})
  set_tests_properties(lifetime.control_compiles_cleanly PROPERTIES LABELS lifetime)
else()
  add_test(NAME lifetime.skipped_no_clang17
           COMMAND ${CMAKE_COMMAND} -E echo "no Clang >= 17 found: lifetime checks skipped")
  set_tests_properties(lifetime.skipped_no_clang17 PROPERTIES
    PASS_REGULAR_EXPRESSION "^$" SKIP_REGULAR_EXPRESSION "skipped" LABELS lifetime)
endif()
