# Run a program and compare its standard output, byte for byte, with a file.
#
#   cmake -DPROGRAM=<exe> -DEXPECTED=<file> [-DACTUAL=<file>] -P compare_output.cmake
#
# Fails (non-zero exit) when the program exits non-zero or its stdout differs
# from EXPECTED; on a difference it prints the first differing lines in a
# diff-like form and, if ACTUAL is given, writes the real output there.
# Standard error is shown on failure but not compared.
cmake_minimum_required(VERSION 3.20)

foreach(var PROGRAM EXPECTED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "compare_output: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${EXPECTED}")
  message(FATAL_ERROR "compare_output: expected-output file '${EXPECTED}' does not exist")
endif()

execute_process(
  COMMAND "${PROGRAM}"
  OUTPUT_VARIABLE actual
  ERROR_VARIABLE stderr_text
  RESULT_VARIABLE rc)
file(READ "${EXPECTED}" expected)

if(DEFINED ACTUAL)
  file(WRITE "${ACTUAL}" "${actual}")
endif()

if(NOT rc STREQUAL "0")
  message(NOTICE "--- stdout ---\n${actual}--- stderr ---\n${stderr_text}")
  message(FATAL_ERROR "compare_output: ${PROGRAM} exited with '${rc}'")
endif()

if(actual STREQUAL expected)
  message(STATUS "compare_output: output matches ${EXPECTED}")
  return()
endif()

# Split into lines without letting ';' or '[' / ']' act as list syntax.
function(_weft_lines text out)
  string(REPLACE "\\" "<BSL>" text "${text}")
  string(REPLACE ";" "<SEMI>" text "${text}")
  string(REPLACE "[" "<LB>" text "${text}")
  string(REPLACE "]" "<RB>" text "${text}")
  string(REPLACE "\n" ";" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()
function(_weft_unescape line out)
  string(REPLACE "<SEMI>" ";" line "${line}")
  string(REPLACE "<LB>" "[" line "${line}")
  string(REPLACE "<RB>" "]" line "${line}")
  string(REPLACE "<BSL>" "\\" line "${line}")
  set(${out} "${line}" PARENT_SCOPE)
endfunction()

_weft_lines("${expected}" exp_lines)
_weft_lines("${actual}" act_lines)
list(LENGTH exp_lines n_exp)
list(LENGTH act_lines n_act)
set(n ${n_exp})
if(n_act GREATER n)
  set(n ${n_act})
endif()

set(report "")
set(shown 0)
math(EXPR last "${n} - 1")
foreach(i RANGE 0 ${last})
  set(e "<end of output>")
  set(a "<end of output>")
  if(i LESS n_exp)
    list(GET exp_lines ${i} e)
  endif()
  if(i LESS n_act)
    list(GET act_lines ${i} a)
  endif()
  if(NOT e STREQUAL a)
    math(EXPR lineno "${i} + 1")
    _weft_unescape("${e}" e)
    _weft_unescape("${a}" a)
    string(APPEND report "@@ line ${lineno} @@\n-${e}\n+${a}\n")
    math(EXPR shown "${shown} + 1")
    if(shown GREATER_EQUAL 20)
      string(APPEND report "... (more differences not shown)\n")
      break()
    endif()
  endif()
endforeach()
if(report STREQUAL "")
  # Same lines, different bytes: a trailing newline or '\r' differs.
  string(APPEND report "(lines equal; trailing newline or whitespace differs)\n")
endif()

# message(NOTICE) prints verbatim; FATAL_ERROR would re-indent the diff.
message(NOTICE
  "--- ${EXPECTED} (expected)\n+++ stdout of ${PROGRAM} (actual)\n${report}"
  "--- full stdout ---\n${actual}--- stderr ---\n${stderr_text}")
message(FATAL_ERROR "compare_output: the program's output differs from ${EXPECTED}")
