# Run a program and check its standard output against regular expressions,
# for examples whose output varies from run to run (ids, timings).
#
#   cmake -DPROGRAM=<exe> -DREGEX_FILE=<file> [-DACTUAL=<file>] -P check_output_regex.cmake
#
# REGEX_FILE holds one CMake regular expression per line (blank lines and
# lines starting with '#' are skipped); every one must match somewhere in
# the output. Fails when the program exits non-zero or a pattern does not
# match, printing the patterns that failed and the whole output.
cmake_minimum_required(VERSION 3.20)

foreach(var PROGRAM REGEX_FILE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_output_regex: -D${var}=... is required")
  endif()
endforeach()

execute_process(
  COMMAND "${PROGRAM}"
  OUTPUT_VARIABLE actual
  ERROR_VARIABLE stderr_text
  RESULT_VARIABLE rc)
if(DEFINED ACTUAL)
  file(WRITE "${ACTUAL}" "${actual}")
endif()
if(NOT rc STREQUAL "0")
  message(NOTICE "--- stdout ---\n${actual}--- stderr ---\n${stderr_text}")
  message(FATAL_ERROR "check_output_regex: ${PROGRAM} exited with '${rc}'")
endif()

file(STRINGS "${REGEX_FILE}" patterns)
set(failed "")
foreach(p IN LISTS patterns)
  if(p STREQUAL "" OR p MATCHES "^#")
    continue()
  endif()
  if(NOT actual MATCHES "${p}")
    string(APPEND failed "  ${p}\n")
  endif()
endforeach()
if(NOT failed STREQUAL "")
  message(NOTICE "--- patterns without a match ---\n${failed}"
    "--- stdout ---\n${actual}--- stderr ---\n${stderr_text}")
  message(FATAL_ERROR "check_output_regex: the output of ${PROGRAM} does not match ${REGEX_FILE}")
endif()
message(STATUS "check_output_regex: every pattern of ${REGEX_FILE} matches")
