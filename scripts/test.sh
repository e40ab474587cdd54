#!/usr/bin/env bash
# Builds collab and runs the whole test suite. MovieLens 100k is read from ../shared/data when
# COLLAB_DATA_DIR is unset; tests that need it skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
if [ -z "${COLLAB_DATA_DIR:-}" ] && [ -d ../shared/data/ml-100k ]; then
  export COLLAB_DATA_DIR="$(cd ../shared/data && pwd)"
fi
# ctest runs tests side by side, each with LibTorch's OpenMP threads: with more threads than
# cores, OpenMP's spinning barriers waste whole time slices. Sleeping waits keep it fair.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
