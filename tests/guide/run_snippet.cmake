# Runs one snippet of the guide and compares its standard output, byte for
# byte, with the `text output` block the guide shows for it.
#
#   cmake -DPROGRAM=<weft_guide> -DSNIPPET=<chapter>.<n> -DEXPECTED=<file> -P run_snippet.cmake
#
# Fails when the snippet exits non-zero or prints something else; standard
# error is shown on failure but not compared.
cmake_minimum_required(VERSION 3.20)

execute_process(
  COMMAND "${PROGRAM}" "${SNIPPET}"
  OUTPUT_VARIABLE actual
  ERROR_VARIABLE stderr_text
  RESULT_VARIABLE rc)
file(READ "${EXPECTED}" expected)

if(NOT rc STREQUAL "0")
  message(NOTICE "--- stdout ---\n${actual}--- stderr ---\n${stderr_text}")
  message(FATAL_ERROR "guide snippet ${SNIPPET} exited with '${rc}'")
endif()
if(NOT actual STREQUAL expected)
  message(NOTICE "--- the guide shows (${EXPECTED}) ---\n${expected}"
    "--- snippet ${SNIPPET} printed ---\n${actual}--- stderr ---\n${stderr_text}")
  message(FATAL_ERROR "guide snippet ${SNIPPET}: its output differs from the `text output` block")
endif()
