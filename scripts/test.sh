#!/usr/bin/env bash
# Builds collab and runs the whole test suite. MovieLens 100k is read from ../shared/data when
# COLLAB_DATA_DIR is unset; tests that need it skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# The browser test's one npm package (playwright-core, pinned by tests/browser/package-lock.json);
# without npm or the registry the test reports a skip.
if [ ! -d tests/browser/node_modules/playwright-core ] && command -v npm >/dev/null 2>&1; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "test.sh: npm ci failed in tests/browser: the browser test will be skipped" >&2
fi
if [ -z "${COLLAB_DATA_DIR:-}" ] && [ -d ../shared/data/ml-100k ]; then
  export COLLAB_DATA_DIR="$(cd ../shared/data && pwd)"
fi
# ctest runs tests side by side, each with LibTorch's OpenMP threads: with more threads than
# cores, OpenMP's spinning barriers waste whole time slices. Sleeping waits keep it fair.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
