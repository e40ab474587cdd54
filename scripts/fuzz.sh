#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset `fuzz`: clang, ASan + UBSan, into build-fuzz/) and
# runs each for SECONDS (default 30; CI's smoke run); with RUNS set, a target also stops after
# that many executions (RUNS=1000000 scripts/fuzz.sh 3600 for a full run), and SEED fixes
# libFuzzer's random seed: with both, a run tries the same inputs on every machine (CI's smoke
# run, so that it cannot fail by chance on one machine and pass on another).
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: run_config ratings item_catalog checkpoint
# Each target starts from its seed corpus in fuzz/corpus/<target>/ and the inputs of past findings
# in fuzz/regressions/<target>/; what it discovers goes to
# build-fuzz/corpus/<target>/ (not the repo) and any crashing input to build-fuzz/findings/<target>/.
# Exits non-zero when a target finds something (a crash, a sanitizer report, an exception other
# than collab::Error, a timeout or running out of memory); the input's path is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(run_config ratings item_catalog checkpoint)
jobs="${COLLAB_JOBS:-$(nproc)}"
cmake --preset fuzz
cmake --build --preset fuzz -j "$jobs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/sanitizers/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$PWD/sanitizers/ubsan.supp}"
# LibTorch runs single-threaded here: the parsers spawn no work worth threads, and OpenMP pools
# would only slow each execution.
export OMP_NUM_THREADS=1
status=0
for target in "${targets[@]}"; do
  work="build-fuzz/corpus/$target"
  findings="build-fuzz/findings/$target"
  mkdir -p "$work" "$findings"
  # One allocation above 1 GiB is a finding (a reader sizing memory from a claim in the input
  # instead of the bytes present); so is an execution slower than 10 s.
  limit_mb=1024 timeout=10
  args=(-max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=$((limit_mb + 1024))
        -malloc_limit_mb="$limit_mb" -print_final_stats=1 -artifact_prefix="$findings/")
  [ -z "${RUNS:-}" ] || args+=(-runs="$RUNS")
  [ -z "${SEED:-}" ] || args+=(-seed="$SEED")
  [ ! -f "fuzz/$target.dict" ] || args+=(-dict="fuzz/$target.dict")
  echo "== fuzz_$target: ${RUNS:+$RUNS runs or }${seconds} s"
  # Inputs of past findings (fuzz/regressions/<target>/) run first, with the seeds.
  dirs=("$work" "fuzz/corpus/$target")
  [ ! -d "fuzz/regressions/$target" ] || dirs+=("fuzz/regressions/$target")
  if ! "build-fuzz/fuzz/fuzz_$target" "${args[@]}" "${dirs[@]}" \
      > "build-fuzz/fuzz_$target.log" 2>&1; then
    status=1
    tail -n 40 "build-fuzz/fuzz_$target.log"
    echo "fuzz_$target: FINDING (log: build-fuzz/fuzz_$target.log, input in $findings/)"
  fi
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|Done )' \
    "build-fuzz/fuzz_$target.log" || true
done
exit $status
