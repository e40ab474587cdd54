# Writes the CTest tests of a GoogleTest binary from its --gtest_list_tests, after each build of
# it (as CMake's gtest_discover_tests does, which writes one test per test case). Each CTest test
# is one process, and each process pays LibTorch's start-up (about a second), so short tests run
# one process per suite (GROUP=suite): a test named after its suite (`BadInputs`, or
# `Signals/InterruptTraining` for a parameterised one) runs `--gtest_filter=<suite>.*`;
# `ctest -R BadInputs` still runs one suite, and a failure's output is the suite's. Long tests
# (GROUP=case, the accuracy runs) keep one process per test case, `Suite.Case`, so that CTest can
# run two cases of one suite side by side.
#
# Inputs (-D): TEST_EXECUTABLE, CTEST_FILE (written), GROUP (suite or case), LABEL, CASE_TIMEOUT
# (seconds a test case may take: a suite gets that many per case), SUITE_COSTS (suite=seconds
# pairs split by commas, measured: CTest starts the costliest tests first, so two long ones run
# side by side instead of one after the other; after a run CTest uses its own measurements, kept
# in the build folder's Testing/Temporary/CTestCostData.txt).
cmake_minimum_required(VERSION 3.21)

execute_process(COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
                TIMEOUT 60
                OUTPUT_VARIABLE listing
                ERROR_VARIABLE listing_errors
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(REMOVE "${CTEST_FILE}")
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${result}):\n"
                      "${listing}\n${listing_errors}")
endif()

# The listing: "Suite." (or "Prefix/Suite.  # TypeParam = ...") then "  Case" lines (with
# "  # GetParam() = ..." for parameterised ones). Semicolons would split CMake lists.
string(REPLACE ";" "," listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(suites "")
set(suite "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([^ #][^ ]*)\\.")
    set(suite "${CMAKE_MATCH_1}")
    list(APPEND suites "${suite}")
    set(cases_${suite} "")
  elseif(line MATCHES "^  ([^ #][^ ]*)" AND NOT suite STREQUAL "")
    list(APPEND cases_${suite} "${CMAKE_MATCH_1}")
  endif()
endforeach()

string(REPLACE "," ";" costs "${SUITE_COSTS}")
foreach(entry IN LISTS costs)
  string(REPLACE "=" ";" entry "${entry}")
  list(GET entry 0 name)
  list(GET entry 1 seconds)
  set(cost_${name} ${seconds})
endforeach()

# add_test and its properties for test `name` running the cases `filter` matches.
function(append_test name filter timeout cost)
  set(properties "LABELS ${LABEL} TIMEOUT ${timeout}")
  if(NOT cost STREQUAL "")
    string(APPEND properties " COST ${cost}")
  endif()
  string(APPEND text
         "add_test([=[${name}]=] [==[${TEST_EXECUTABLE}]==] [=[--gtest_filter=${filter}]=])\n"
         "set_tests_properties([=[${name}]=] PROPERTIES ${properties})\n")
  set(text "${text}" PARENT_SCOPE)
endfunction()

set(text "# The tests of ${TEST_EXECUTABLE}, by ${GROUP} (tests/add_suite_tests.cmake).\n")
set(total 0)
foreach(suite IN LISTS suites)
  list(LENGTH cases_${suite} n)
  math(EXPR total "${total} + ${n}")
  if(GROUP STREQUAL "case")
    foreach(case IN LISTS cases_${suite})
      append_test("${suite}.${case}" "${suite}.${case}" ${CASE_TIMEOUT} "${cost_${suite}}")
    endforeach()
  else()
    math(EXPR timeout "${CASE_TIMEOUT} * ${n}")
    append_test("${suite}" "${suite}.*" ${timeout} "${cost_${suite}}")
  endif()
endforeach()
string(APPEND text "# ${total} test cases in all.\n")
file(WRITE "${CTEST_FILE}" "${text}")
