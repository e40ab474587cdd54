#!/usr/bin/env bash
# The kill test: builds collab and collab_kill_test, then runs `collab train` 20 times, each
# killed with SIGKILL at a random moment and resumed, and checks that every run ends
# bit-identical to an uninterrupted one. Prints "20/20 bit-identical" on success (exit 0).
#   scripts/kill_test.sh [--runs N] [--seed S] [--keep DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
build/tests/collab_kill_test "$@"
