#!/usr/bin/env bash
# Builds the unit tests and the collab binary with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer (CMake preset `asan`, into build-asan/) and runs the unit suite
# (`ctest -L unit`; the CLI tests run the sanitized build-asan/collab). Any ASan or UBSan report
# fails the test that triggered it. Extra arguments go to ctest, e.g. -R Checkpoint.
# The test preset leaves out nine suites that test processes rather than memory (locks between
# processes, signals, SIGKILL and resume, distributed workers, ulimits and special files, runs of
# many trials or epochs through the CLI): they
# spawn the sanitized collab dozens of times, a third of the stage, for code the other suites and
# the fuzzers already run under the sanitizers (CI's Release stage runs them all).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${COLLAB_JOBS:-$(nproc)}"
cmake --preset asan
cmake --build --preset asan -j "$jobs"
if [ -z "${COLLAB_DATA_DIR:-}" ] && [ -d ../shared/data/ml-100k ]; then
  export COLLAB_DATA_DIR="$(cd ../shared/data && pwd)"
fi
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
# Leak checking stays on, with a narrow suppressions file for allocations LibTorch keeps for the
# process's life; use-after-return and init-order checks catch dangling references to locals and
# static-initialisation order bugs in our code (LibTorch's globals are not instrumented).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/sanitizers/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$PWD/sanitizers/ubsan.supp}"
ctest --preset asan -j "$jobs" "$@"
