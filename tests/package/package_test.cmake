# Package tests: does an outside project get weft the three documented ways?
#   package.find_package   cmake --install into <build>/package-prefix, then a
#                          consumer with find_package(weft CONFIG REQUIRED)
#   package.subdirectory   a consumer that add_subdirectory()s the source tree
#   package.pkg_config     the consumer compiled with `pkg-config --cflags --libs weft`
#                          and -Wall -Wextra -Wshadow -Werror (weft.pc gives -I)
#   package.strict_warnings  the consumer against include/ with -I and
#                          -Wall -Wextra -Wpedantic -Wshadow -Werror, syntax only
#                          (no install, no pkg-config: always runs)
# Each is one CTest test driven by tests/package/run.sh, labelled `package`.
# Included from tests/CMakeLists.txt.
#
# Not registered in sanitizer builds: the consumers are plain builds and an
# instrumented libweft would not link into them.
if(NOT WEFT_SANITIZE STREQUAL "")
  message(STATUS "weft: package tests skipped (WEFT_SANITIZE=${WEFT_SANITIZE})")
  return()
endif()
if(NOT CMAKE_HOST_UNIX)
  return()
endif()

find_program(WEFT_BASH bash)
if(NOT WEFT_BASH)
  message(STATUS "weft: package tests skipped (no bash)")
  return()
endif()

set(_weft_pkg_env
  WEFT_SOURCE_DIR=${PROJECT_SOURCE_DIR}
  WEFT_BINARY_DIR=${PROJECT_BINARY_DIR}
  WEFT_WORK_DIR=${CMAKE_BINARY_DIR}/package-tests
  WEFT_PREFIX=${CMAKE_BINARY_DIR}/package-prefix
  CMAKE_COMMAND=${CMAKE_COMMAND}
  CXX=${CMAKE_CXX_COMPILER}
  CMAKE_GENERATOR=${CMAKE_GENERATOR}
  CMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE})

foreach(mode find_package subdirectory pkg_config strict_warnings)
  add_test(NAME package.${mode}
    COMMAND ${WEFT_BASH} ${CMAKE_CURRENT_LIST_DIR}/run.sh ${mode})
  set_tests_properties(package.${mode} PROPERTIES
    ENVIRONMENT "${_weft_pkg_env}"
    LABELS package
    TIMEOUT 600
    SKIP_RETURN_CODE 77)
endforeach()
# Both install into the same prefix: never at the same time.
set_tests_properties(package.find_package package.pkg_config PROPERTIES
  RESOURCE_LOCK weft_package_prefix)
unset(_weft_pkg_env)
